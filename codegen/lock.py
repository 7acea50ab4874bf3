"""``schema.lock``: the facts of a reconciled schema that users' code depends on, in a small file.

A lock records, per message type, its name, mNum, token and a fingerprint of its reconciled
fields, and per enum a fingerprint of its values, plus the schema label and the generator
version. Nothing else: no descriptions, no copy of SpiderRock's files. Committed beside an
application, it lets CI say "the schema changed, and this is how" before the bindings are
regenerated (``srmlink schema check``).

Because a lock keeps fingerprints, not fields, :func:`diff_lock` can tell that a message's
fields changed but not how: such a change is reported as ``message-fields-changed`` (and
``enum-values-changed`` for enums) and classified breaking, conservatively, since a removal
cannot be ruled out. Message-level changes (added, removed, renamed by case, mNum, token) are
classified as in :mod:`srmlink.codegen.diff`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import attrs
from attrs import frozen

from . import GENERATOR_VERSION
from .diff import Change, ChangeKind, SchemaDiff, match_messages
from .errors import SchemaError
from .ir import EnumType, Field, Message, Schema, Undefined

__all__ = [
    "LOCK_FORMAT",
    "Lock",
    "LockedMessage",
    "diff_lock",
    "diff_locks",
    "load_lock",
    "make_lock",
]

# Version of the file layout itself; bumped only if the keys below change meaning.
LOCK_FORMAT = 1

_T = TypeVar("_T")


@frozen
class LockedMessage:
    """One message type as a lock records it."""

    name: str
    mnum: int | None
    token: str | None
    fingerprint: str


@frozen
class Lock:
    """The recorded facts of one schema; ``enums`` maps enum names to value fingerprints."""

    label: str
    generator_version: str
    messages: tuple[LockedMessage, ...]
    enums: Mapping[str, str]

    def dumps(self) -> str:
        """The lock file's text: sorted keys, 2-space indent, a trailing newline."""
        data = {
            "format": LOCK_FORMAT,
            "schema": self.label,
            "generator_version": self.generator_version,
            "messages": {
                m.name: {"mnum": m.mnum, "token": m.token, "fingerprint": m.fingerprint}
                for m in self.messages
            },
            "enums": dict(self.enums),
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _fingerprint(rows: object) -> str:
    text = json.dumps(rows, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _row(scope: str, f: Field) -> list[object]:
    return [scope, f.py_name, f.wire_name, f.sr_type, f.proto_number, f.enum, f.group]


def _fields_fingerprint(msg: Message | Undefined) -> str:
    """Fingerprint of a message's reconciled fields (none for a type known only by number).

    Primary-key fields keep their order (it is the order of a composite key's text); the other
    scopes are sorted, as field order within a class means nothing on any wire.
    """
    if isinstance(msg, Undefined):
        return _fingerprint([])
    rows = [_row("pkey", f) for f in (msg.pkey.fields if msg.pkey else ())]
    others = [_row("", f) for f in msg.fields]
    for group in msg.groups:
        others += [_row(group.class_name, f) for f in group.fields]
    rows += sorted(others, key=lambda r: (str(r[0]), str(r[1])))
    return _fingerprint(rows)


def _enum_fingerprint(enum: EnumType) -> str:
    """Fingerprint of an enum's (wire name, number) values, sorted by wire name."""
    values = sorted([m.wire_name or m.py_name, m.number] for m in enum.members)
    return _fingerprint(values)


def make_lock(schema: Schema) -> Lock:
    """The lock of a reconciled schema."""
    defined: list[Message | Undefined] = [*schema.messages, *schema.undefined]
    messages = tuple(
        LockedMessage(m.name, m.mnum, m.token or None, _fields_fingerprint(m))
        for m in sorted(defined, key=lambda m: m.name)
    )
    enums = {e.name: _enum_fingerprint(e) for e in schema.enums}
    return Lock(schema.label, GENERATOR_VERSION, messages, enums)


def load_lock(path: Path) -> Lock:
    """Read a lock file written by :meth:`Lock.dumps`.

    Raises:
        SchemaError: the file is unreadable, not JSON, or not a lock of this format.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: not a readable schema lock: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != LOCK_FORMAT:
        raise SchemaError(f"{path}: not a schema lock of format {LOCK_FORMAT}")
    try:
        messages = tuple(
            _locked_message(name, _mapping(entry))
            for name, entry in _mapping(data["messages"]).items()
        )
        enums = {name: _typed(value, str) for name, value in _mapping(data["enums"]).items()}
        return Lock(
            _typed(data["schema"], str), _typed(data["generator_version"], str), messages, enums
        )
    except (KeyError, TypeError) as exc:
        raise SchemaError(f"{path}: malformed schema lock: {exc!r}") from exc


def _locked_message(name: str, entry: Mapping[str, object]) -> LockedMessage:
    mnum, token = entry["mnum"], entry["token"]
    return LockedMessage(
        name,
        None if mnum is None else _typed(mnum, int),
        None if token is None else _typed(token, str),
        _typed(entry["fingerprint"], str),
    )


def _mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {value!r}")
    return value


def _typed(value: object, kind: type[_T]) -> _T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def diff_lock(lock: Lock, schema: Schema) -> SchemaDiff:
    """The changes from a lock to a schema (what ``srmlink schema check`` reports)."""
    return attrs.evolve(diff_locks(lock, make_lock(schema)), new_label=schema.label)


def diff_locks(old: Lock, new: Lock) -> SchemaDiff:
    """The changes between two locks: message-level changes as in
    :func:`~srmlink.codegen.diff.diff_schemas`, changed fingerprints as breaking."""
    changes, pairs = match_messages(old.messages, new.messages)
    changes += [
        Change(
            ChangeKind.MESSAGE_FIELDS_CHANGED,
            True,
            now.name,
            old=was.fingerprint,
            new=now.fingerprint,
        )
        for was, now in pairs
        if was.fingerprint != now.fingerprint
    ]
    changes += [
        Change(ChangeKind.ENUM_REMOVED, True, name) for name in old.enums if name not in new.enums
    ]
    changes += [
        Change(ChangeKind.ENUM_ADDED, False, name) for name in new.enums if name not in old.enums
    ]
    changes += [
        Change(ChangeKind.ENUM_VALUES_CHANGED, True, name, old=value, new=new.enums[name])
        for name, value in old.enums.items()
        if name in new.enums and new.enums[name] != value
    ]
    return SchemaDiff(f"{old.label} (lock)", f"{new.label} (lock)", changes)
