"""What changed between two schemas, and whether it breaks code written against the old one.

:func:`diff_schemas` compares two reconciled :class:`~srmlink.codegen.ir.Schema` objects and
returns a :class:`SchemaDiff`, rendered as a markdown changelog or as stable JSON.

A change is *breaking* when code or data handled by bindings generated from the old schema can
fail with the new one: a Python import or attribute disappears or changes type, or one of the
three encodings (JSON, framed JSON, protobuf) is decoded differently. The rules:

- message added: compatible. Removed: breaking. Renamed by case only: breaking (the class is
  imported by its exact name, even though the server matches names case-insensitively).
- mNum changed: breaking (framed JSON and protobuf frames carry it); compatible when the old
  schema had no mNum, since nothing could have relied on it.
- token moved: compatible. ``from srmlink.messages import Name`` and the registry's name and
  number lookups keep working; only the per-token module (``srmlink.messages.<token>``) moves,
  and the changelog names both modules so imports from it can follow.
- primary key changed (its fields, their order or SR types): breaking; reported once per message
  instead of as field changes, because the key's text and JSON forms change as a whole.
- field added: compatible (every field is optional). Removed: breaking.
- field retyped (SR type, or the enum / group class it uses): breaking, except
  - between ``String``, ``Text1`` and ``Text2`` (storage lengths of one Python and wire type);
  - a widening: an integer type into one that holds all its values (``Int`` -> ``Long``,
    ``UShort`` -> ``Int``; narrowing is breaking) or ``Float`` -> ``Double``, provided the
    protobuf types stay wire-compatible. ``Float`` -> ``Double`` usually turns a fixed32
    protobuf field into a fixed64 one, which an old decoder drops: that is breaking; on a
    JSON-only field it is compatible.
- wire name changed (the same Python name, a different JSON name): breaking.
- proto number changed: breaking for protobuf; compatible when the field had none before.
- enum added: compatible. Removed: breaking. Enum value added: compatible (unknown values are
  kept, never rejected). Value removed: breaking. Value renumbered: breaking; compatible when the
  value had no proto number before.

Messages are matched by name (case-insensitively, to see case renames), fields by Python name
within their scope (primary key, top level, each repeated group), enum values by wire name.
A message type known only by name and number (no definition) compares as one without fields.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

import attrs
from attrs import field, frozen

from .ir import EnumMember, EnumType, Field, Message, Schema, Undefined
from .naming import module_name

__all__ = ["Change", "ChangeKind", "MessageHeader", "SchemaDiff", "diff_schemas", "match_messages"]


class ChangeKind(enum.Enum):
    """One kind of change; the value is a stable identifier (JSON), the order is the report's."""

    MESSAGE_ADDED = "message-added"
    MESSAGE_REMOVED = "message-removed"
    MESSAGE_RENAMED_BY_CASE = "message-renamed-by-case"
    MNUM_CHANGED = "mnum-changed"
    TOKEN_MOVED = "token-moved"
    PRIMARY_KEY_CHANGED = "primary-key-changed"
    FIELD_ADDED = "field-added"
    FIELD_REMOVED = "field-removed"
    FIELD_RETYPED = "field-retyped"
    WIRE_NAME_CHANGED = "wire-name-changed"
    PROTO_NUMBER_CHANGED = "proto-number-changed"
    MESSAGE_FIELDS_CHANGED = "message-fields-changed"
    ENUM_ADDED = "enum-added"
    ENUM_REMOVED = "enum-removed"
    ENUM_VALUE_ADDED = "enum-value-added"
    ENUM_VALUE_REMOVED = "enum-value-removed"
    ENUM_VALUE_RENUMBERED = "enum-value-renumbered"
    ENUM_VALUES_CHANGED = "enum-values-changed"

    @property
    def title(self) -> str:
        """``mNum changed``, ``field added`` ...: the heading used in the changelog."""
        return self.value.replace("-", " ").replace("mnum", "mNum")


# One line under each changelog section: why the kind is classified as it is.
_WHY = {
    ChangeKind.MESSAGE_ADDED: "New message types: nothing existing changes.",
    ChangeKind.MESSAGE_REMOVED: "Classes and registry entries that no longer exist.",
    ChangeKind.MESSAGE_RENAMED_BY_CASE: "Python imports use the exact spelling.",
    ChangeKind.MNUM_CHANGED: "Framed JSON and protobuf frames carry the mNum.",
    ChangeKind.TOKEN_MOVED: "`srmlink.messages.Name` still works; the per-token module moves.",
    ChangeKind.PRIMARY_KEY_CHANGED: "The key's fields, order or types: its text and JSON change.",
    ChangeKind.FIELD_ADDED: "Fields are optional: old code ignores them.",
    ChangeKind.FIELD_REMOVED: "Attributes that no longer exist.",
    ChangeKind.FIELD_RETYPED: "Compatible: String/Text1/Text2, and widening every wire can read.",
    ChangeKind.WIRE_NAME_CHANGED: "The JSON name of the field differs.",
    ChangeKind.PROTO_NUMBER_CHANGED: "Protobuf identifies fields by number.",
    ChangeKind.MESSAGE_FIELDS_CHANGED: "A lock keeps fingerprints: a removal can't be ruled out.",
    ChangeKind.ENUM_ADDED: "New enum types: nothing existing changes.",
    ChangeKind.ENUM_REMOVED: "Enum classes that no longer exist.",
    ChangeKind.ENUM_VALUE_ADDED: "Unknown values are kept, never rejected.",
    ChangeKind.ENUM_VALUE_REMOVED: "Members that no longer exist.",
    ChangeKind.ENUM_VALUE_RENUMBERED: "Protobuf carries enum values as numbers.",
    ChangeKind.ENUM_VALUES_CHANGED: "A lock keeps fingerprints: a removal can't be ruled out.",
}


@frozen
class Change:
    """One change: ``subject`` is the message or enum, ``item`` the field path or enum value.

    Field paths are ``bid_price``, ``pkey.okey`` or ``subscribe[].msg_name`` (a field of the
    repeated group held by ``subscribe``). ``old`` and ``new`` are display values.
    """

    kind: ChangeKind
    breaking: bool
    subject: str
    item: str | None = None
    old: str | None = None
    new: str | None = None
    note: str = ""

    @property
    def where(self) -> str:
        """``Message.field`` or ``Enum.Value`` (or just the subject)."""
        return f"{self.subject}.{self.item}" if self.item else self.subject


def _ordered(changes: Iterable[Change]) -> tuple[Change, ...]:
    order = list(ChangeKind)
    return tuple(
        sorted(
            changes,
            key=lambda c: (
                order.index(c.kind),
                c.subject.lower(),
                c.subject,
                c.item or "",
                c.old or "",
                c.new or "",
            ),
        )
    )


@frozen
class SchemaDiff:
    """Every change from the ``old_label`` schema to the ``new_label`` one, in stable order."""

    old_label: str
    new_label: str
    changes: tuple[Change, ...] = field(converter=_ordered)

    @property
    def breaking(self) -> tuple[Change, ...]:
        """The breaking changes."""
        return tuple(c for c in self.changes if c.breaking)

    def counts(self) -> dict[ChangeKind, tuple[int, int]]:
        """(breaking, compatible) per kind that occurs, in report order."""
        counts: dict[ChangeKind, tuple[int, int]] = {}
        for c in self.changes:
            broken, fine = counts.get(c.kind, (0, 0))
            counts[c.kind] = (broken + 1, fine) if c.breaking else (broken, fine + 1)
        return counts

    def to_json(self) -> str:
        """Stable JSON: sorted keys, changes in report order, a trailing newline."""
        data = {
            "old": self.old_label,
            "new": self.new_label,
            "summary": {
                "breaking": len(self.breaking),
                "compatible": len(self.changes) - len(self.breaking),
                "kinds": {
                    kind.value: {"breaking": b, "compatible": c}
                    for kind, (b, c) in self.counts().items()
                },
            },
            "changes": [{**attrs.asdict(c), "kind": c.kind.value} for c in self.changes],
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def to_markdown(self) -> str:
        """A changelog: a summary table of counts per kind, then one section per kind."""
        lines = [f"# Schema changes: {self.old_label} -> {self.new_label}", ""]
        if not self.changes:
            return "\n".join([*lines, "No changes.", ""])
        counts = self.counts()
        breaking = len(self.breaking)
        lines += [
            f"**{breaking} breaking**, {len(self.changes) - breaking} compatible.",
            "",
            "| change | breaking | compatible |",
            "| --- | ---: | ---: |",
            *(f"| {kind.title} | {b} | {c} |" for kind, (b, c) in counts.items()),
            f"| **total** | **{breaking}** | **{len(self.changes) - breaking}** |",
        ]
        for kind in counts:
            lines += [
                "",
                f"## {kind.title}",
                "",
                _WHY[kind],
                "",
                "| impact | where | old | new | note |",
                "| --- | --- | --- | --- | --- |",
            ]
            lines.extend(
                f"| {'breaking' if c.breaking else 'compatible'} | `{c.where}` | "
                f"{_cell(c.old)} | {_cell(c.new)} | {_cell(c.note)} |"
                for c in self.changes
                if c.kind is kind
            )
        return "\n".join([*lines, ""])


def _cell(text: str | None) -> str:
    return "" if text is None else text.replace("|", "\\|").replace("\n", " ")


class MessageHeader(Protocol):
    """What identifies a message type: a schema's messages, undefined types and lock entries."""

    @property
    def name(self) -> str: ...
    @property
    def mnum(self) -> int | None: ...
    @property
    def token(self) -> str | None: ...


H = TypeVar("H", bound=MessageHeader)


def match_messages(old: Iterable[H], new: Iterable[H]) -> tuple[list[Change], list[tuple[H, H]]]:
    """Message-level changes (added, removed, renamed by case, mNum, token) and matched pairs."""
    old_by = {m.name.lower(): m for m in old}
    new_by = {m.name.lower(): m for m in new}
    changes = [
        Change(ChangeKind.MESSAGE_REMOVED, True, m.name, old=_num(m.mnum))
        for key, m in old_by.items()
        if key not in new_by
    ]
    changes += [
        Change(ChangeKind.MESSAGE_ADDED, False, m.name, new=_num(m.mnum))
        for key, m in new_by.items()
        if key not in old_by
    ]
    pairs = [(old_by[key], new_by[key]) for key in sorted(old_by.keys() & new_by.keys())]
    for was, now in pairs:
        if was.name != now.name:
            kind = ChangeKind.MESSAGE_RENAMED_BY_CASE
            changes.append(Change(kind, True, now.name, None, was.name, now.name))
        if was.mnum != now.mnum:
            changes.append(_renumbered(ChangeKind.MNUM_CHANGED, now.name, None, was.mnum, now.mnum))
        old_token, new_token = was.token or None, now.token or None
        if old_token != new_token:
            old_module, new_module = module_name(old_token or ""), module_name(new_token or "")
            note = f"module srmlink.messages.{old_module} -> srmlink.messages.{new_module}"
            note = note if old_module != new_module else "module unchanged"
            kind = ChangeKind.TOKEN_MOVED
            changes.append(Change(kind, False, now.name, None, old_token, new_token, note))
    return changes, pairs


def _num(number: int | None) -> str | None:
    return None if number is None else str(number)


def _renumbered(
    kind: ChangeKind, subject: str, item: str | None, old: int | None, new: int | None
) -> Change:
    """A number that changed: breaking, unless there was none before to rely on."""
    note = "none before" if old is None else "none now" if new is None else ""
    return Change(kind, old is not None, subject, item, _num(old), _num(new), note)


def diff_schemas(old: Schema, new: Schema) -> SchemaDiff:
    """Every change from ``old`` to ``new``, classified breaking or compatible (module docs)."""
    old_messages: list[Message | Undefined] = [*old.messages, *old.undefined]
    new_messages: list[Message | Undefined] = [*new.messages, *new.undefined]
    changes, pairs = match_messages(old_messages, new_messages)
    for was, now in pairs:
        changes.extend(_message_changes(was, now))
    changes.extend(_enum_changes(old.enums, new.enums))
    return SchemaDiff(old.label, new.label, changes)


def _message_changes(was: Message | Undefined, now: Message | Undefined) -> list[Change]:
    (old_pkey, old_scopes), (new_pkey, new_scopes) = _scopes(was), _scopes(now)
    changes: list[Change] = []
    old_key, new_key = _key_text(old_pkey), _key_text(new_pkey)
    if old_key != new_key:
        kind = ChangeKind.PRIMARY_KEY_CHANGED
        changes.append(Change(kind, True, now.name, "pkey", old_key, new_key))
    changes += _field_changes(now.name, "pkey.", old_pkey, new_pkey, key=True)
    for scope in sorted(old_scopes.keys() & new_scopes.keys()):
        changes += _field_changes(now.name, scope, old_scopes[scope], new_scopes[scope])
    return changes


def _scopes(msg: Message | Undefined) -> tuple[tuple[Field, ...], dict[str, tuple[Field, ...]]]:
    """The primary key's fields, and the fields of every other scope by path prefix."""
    if isinstance(msg, Undefined):
        return (), {"": ()}
    scopes = {"": msg.fields}
    for group in msg.groups:
        # A group is named by the attribute that holds it, as users reach it.
        holder = next((f.py_name for f in msg.fields if f.group == group.class_name), None)
        scopes[f"{holder or group.class_name}[]."] = group.fields
    return (msg.pkey.fields if msg.pkey else ()), scopes


def _key_text(fields: Sequence[Field]) -> str:
    return ", ".join(f"{f.py_name}: {f.sr_type}" for f in fields) or "(none)"


def _type_text(f: Field) -> str:
    of = f.enum or f.group
    return f"{f.sr_type}({of})" if of else f.sr_type


def _field_changes(
    subject: str, prefix: str, old: Sequence[Field], new: Sequence[Field], key: bool = False
) -> list[Change]:
    """Changes of the fields of one scope; in the primary key (``key``), added, removed and
    retyped fields are left to the primary-key change."""
    old_by = {f.py_name: f for f in old}
    new_by = {f.py_name: f for f in new}
    changes: list[Change] = []
    if not key:
        changes += [
            Change(ChangeKind.FIELD_REMOVED, True, subject, prefix + n, old=_type_text(f))
            for n, f in old_by.items()
            if n not in new_by
        ]
        changes += [
            Change(ChangeKind.FIELD_ADDED, False, subject, prefix + n, new=_type_text(f))
            for n, f in new_by.items()
            if n not in old_by
        ]
    for name in sorted(old_by.keys() & new_by.keys()):
        was, now, item = old_by[name], new_by[name], prefix + name
        old_type, new_type = _type_text(was), _type_text(now)
        if not key and old_type != new_type:
            breaking, note = _retype(was, now)
            kind = ChangeKind.FIELD_RETYPED
            changes.append(Change(kind, breaking, subject, item, old_type, new_type, note))
        if was.wire_name != now.wire_name:
            kind = ChangeKind.WIRE_NAME_CHANGED
            changes.append(Change(kind, True, subject, item, was.wire_name, now.wire_name))
        if was.proto_number != now.proto_number:
            kind = ChangeKind.PROTO_NUMBER_CHANGED
            changes.append(_renumbered(kind, subject, item, was.proto_number, now.proto_number))
    return changes


# Integer SR types: (signed, bits). SpiderRock's Byte is an unsigned byte (.NET ``byte``).
_INTS = {"Byte": (False, 8), "UShort": (False, 16), "Short": (True, 16), "UInt": (False, 32)}
_INTS |= {"Int": (True, 32), "ULong": (False, 64), "Long": (True, 64)}
# SR string types differ only in their storage length: one Python type, one wire form.
_STRINGS = frozenset({"String", "Text1", "Text2"})
# Protobuf types that share the varint wire type: a reader of one reads the others.
_VARINTS = frozenset({"int32", "int64", "uint32", "uint64", "bool"})


def _retype(was: Field, now: Field) -> tuple[bool, str]:
    """(breaking, note) of an SR type change; see the module docs."""
    if (was.enum or was.group) != (now.enum or now.group):
        return True, ""
    if {was.sr_type, now.sr_type} <= _STRINGS:
        return False, "same Python and wire type"
    widening = (was.sr_type, now.sr_type) == ("Float", "Double") or _holds(was.sr_type, now.sr_type)
    if not widening:
        return True, ""
    protos = {was.proto_type, now.proto_type}
    # A side without a proto field is JSON only there: nothing for protobuf to misread.
    if None not in protos and len(protos) == 2 and not protos <= _VARINTS:
        return True, f"protobuf {was.proto_type} -> {now.proto_type} changes the wire type"
    return False, "widening"


def _holds(old: str, new: str) -> bool:
    """Whether integer SR type ``new`` holds every value of ``old``."""
    if old not in _INTS or new not in _INTS:
        return False
    (old_signed, old_bits), (new_signed, new_bits) = _INTS[old], _INTS[new]
    if old_signed:
        return new_signed and new_bits >= old_bits
    return new_bits > old_bits if new_signed else new_bits >= old_bits


def _enum_changes(old: Sequence[EnumType], new: Sequence[EnumType]) -> list[Change]:
    old_by = {e.name: e for e in old}
    new_by = {e.name: e for e in new}
    changes = [
        Change(ChangeKind.ENUM_REMOVED, True, name, old=f"{len(e.members)} values")
        for name, e in old_by.items()
        if name not in new_by
    ]
    changes += [
        Change(ChangeKind.ENUM_ADDED, False, name, new=f"{len(e.members)} values")
        for name, e in new_by.items()
        if name not in old_by
    ]
    for name in sorted(old_by.keys() & new_by.keys()):
        was = {_value_key(m): m for m in old_by[name].members}
        now = {_value_key(m): m for m in new_by[name].members}
        changes += [
            Change(ChangeKind.ENUM_VALUE_REMOVED, True, name, key, old=_num(m.number))
            for key, m in was.items()
            if key not in now
        ]
        changes += [
            Change(ChangeKind.ENUM_VALUE_ADDED, False, name, key, new=_num(m.number))
            for key, m in now.items()
            if key not in was
        ]
        changes += [
            _renumbered(ChangeKind.ENUM_VALUE_RENUMBERED, name, key, was[key].number, n.number)
            for key, n in now.items()
            if key in was and was[key].number != n.number
        ]
    return changes


def _value_key(member: EnumMember) -> str:
    return member.wire_name or member.py_name
