"""``schema.lock``: the facts of a reconciled schema that users' code depends on, in a small file.

A lock records, per message type, its name, mNum, token and a fingerprint of its reconciled
fields, and per enum a fingerprint of its values, plus the schema label and the generator
version. Nothing else: no descriptions, no copy of SpiderRock's files. Committed beside an
application, it lets CI say "the schema changed, and this is how" before the bindings are
regenerated (``srmlink schema check``).

Each fingerprint has a wire twin that leaves out what only .proto files carry (proto field and
enum numbers): a schema fetched from a live server (getmsgtypes / getschema) has none of it,
so ``srmlink schema check --live`` compares the wire fingerprints (:func:`diff_lock` with
``wire_only=True``).

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
LOCK_FORMAT = 2
# Format 1 had no wire fingerprints: still read, but not for a live check.
_READABLE_FORMATS = (1, 2)

_T = TypeVar("_T")


@frozen
class LockedMessage:
    """One message type as a lock records it."""

    name: str
    mnum: int | None
    token: str | None
    fingerprint: str
    wire_fingerprint: str | None = None


@frozen
class Lock:
    """The recorded facts of one schema; ``enums`` maps enum names to value fingerprints,
    ``wire_enums`` to fingerprints of their wire names alone."""

    label: str
    generator_version: str
    messages: tuple[LockedMessage, ...]
    enums: Mapping[str, str]
    wire_enums: Mapping[str, str] | None = None

    def dumps(self) -> str:
        """The lock file's text: sorted keys, 2-space indent, a trailing newline."""
        data = {
            "format": LOCK_FORMAT,
            "schema": self.label,
            "generator_version": self.generator_version,
            "messages": {
                m.name: {
                    "mnum": m.mnum,
                    "token": m.token,
                    "fingerprint": m.fingerprint,
                    "wire_fingerprint": m.wire_fingerprint,
                }
                for m in self.messages
            },
            "enums": dict(self.enums),
            "wire_enums": dict(self.wire_enums or {}),
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _fingerprint(rows: object) -> str:
    text = json.dumps(rows, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _row(scope: str, f: Field, wire: bool) -> list[object]:
    proto = [] if wire else [f.proto_number]
    return [scope, f.py_name, f.wire_name, f.sr_type, *proto, f.enum, f.group]


def _fields_fingerprint(msg: Message | Undefined, *, wire: bool = False) -> str:
    """Fingerprint of a message's reconciled fields (none for a type known only by number);
    ``wire``: without proto numbers.

    Primary-key fields keep their order (it is the order of a composite key's text); the other
    scopes are sorted, as field order within a class means nothing on any wire.
    """
    if isinstance(msg, Undefined):
        return _fingerprint([])
    rows = [_row("pkey", f, wire) for f in (msg.pkey.fields if msg.pkey else ())]
    others = [_row("", f, wire) for f in msg.fields]
    for group in msg.groups:
        others += [_row(group.class_name, f, wire) for f in group.fields]
    rows += sorted(others, key=lambda r: (str(r[0]), str(r[1])))
    return _fingerprint(rows)


def _enum_fingerprint(enum: EnumType, *, wire: bool = False) -> str:
    """Fingerprint of an enum's (wire name, number) values, sorted by wire name; ``wire``:
    the names alone (numbers come only from .proto files)."""
    if wire:
        return _fingerprint(sorted(m.wire_name or m.py_name for m in enum.members))
    values = sorted([m.wire_name or m.py_name, m.number] for m in enum.members)
    return _fingerprint(values)


def make_lock(schema: Schema) -> Lock:
    """The lock of a reconciled schema."""
    defined: list[Message | Undefined] = [*schema.messages, *schema.undefined]
    messages = tuple(
        LockedMessage(
            m.name,
            m.mnum,
            m.token or None,
            _fields_fingerprint(m),
            _fields_fingerprint(m, wire=True),
        )
        for m in sorted(defined, key=lambda m: m.name)
    )
    enums = {e.name: _enum_fingerprint(e) for e in schema.enums}
    wire_enums = {e.name: _enum_fingerprint(e, wire=True) for e in schema.enums}
    return Lock(schema.label, GENERATOR_VERSION, messages, enums, wire_enums)


def load_lock(path: Path) -> Lock:
    """Read a lock file written by :meth:`Lock.dumps`.

    Raises:
        SchemaError: the file is unreadable, not JSON, or not a lock of this format.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: not a readable schema lock: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") not in _READABLE_FORMATS:
        raise SchemaError(f"{path}: not a schema lock of format {LOCK_FORMAT}")
    try:
        messages = tuple(
            _locked_message(name, _mapping(entry))
            for name, entry in _mapping(data["messages"]).items()
        )
        enums = {name: _typed(value, str) for name, value in _mapping(data["enums"]).items()}
        wire_enums = (
            {name: _typed(value, str) for name, value in _mapping(data["wire_enums"]).items()}
            if "wire_enums" in data
            else None
        )
        return Lock(
            _typed(data["schema"], str),
            _typed(data["generator_version"], str),
            messages,
            enums,
            wire_enums,
        )
    except (KeyError, TypeError) as exc:
        raise SchemaError(f"{path}: malformed schema lock: {exc!r}") from exc


def _locked_message(name: str, entry: Mapping[str, object]) -> LockedMessage:
    mnum, token, wire = entry["mnum"], entry["token"], entry.get("wire_fingerprint")
    return LockedMessage(
        name,
        None if mnum is None else _typed(mnum, int),
        None if token is None else _typed(token, str),
        _typed(entry["fingerprint"], str),
        None if wire is None else _typed(wire, str),
    )


def _mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {value!r}")
    return value


def _typed(value: object, kind: type[_T]) -> _T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def diff_lock(lock: Lock, schema: Schema, *, wire_only: bool = False) -> SchemaDiff:
    """The changes from a lock to a schema (what ``srmlink schema check`` reports).

    ``wire_only`` compares what a live server's getmsgtypes / getschema can show: fingerprints
    without proto numbers, message types that have an mNum (a server lists no other), and
    enums both sides have (a server shows only the enums its fields use).

    Raises:
        SchemaError: ``wire_only`` with a lock written before wire fingerprints existed.
    """
    new = make_lock(schema)
    if wire_only:
        if lock.wire_enums is None or any(m.wire_fingerprint is None for m in lock.messages):
            raise SchemaError("this lock has no wire fingerprints: re-lock with this version")
        lock, new = _wire_view(lock, new)
    return attrs.evolve(diff_locks(lock, new), new_label=schema.label)


def _wire_view(old: Lock, new: Lock) -> tuple[Lock, Lock]:
    def view(lock: Lock, enums: Mapping[str, str]) -> Lock:
        messages = tuple(
            attrs.evolve(m, fingerprint=wire)
            for m in lock.messages
            if m.mnum is not None and (wire := m.wire_fingerprint) is not None
        )
        return attrs.evolve(lock, messages=messages, enums=enums)

    old_enums, new_enums = old.wire_enums or {}, new.wire_enums or {}
    shared = old_enums.keys() & new_enums.keys()
    return (
        view(old, {k: old_enums[k] for k in sorted(shared)}),
        view(new, {k: new_enums[k] for k in sorted(shared)}),
    )


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
