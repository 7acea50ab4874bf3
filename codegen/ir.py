"""The intermediate representation: one reconciled schema, ready to render.

Frozen attrs classes holding resolved names, types, wire names, numbers and docs. Nothing raw
(no descriptors, no CSV rows), no template names: every naming decision is already made here.
"""

from __future__ import annotations

import enum

from attrs import frozen

__all__ = [
    "EnumMember",
    "EnumType",
    "Field",
    "Group",
    "Issue",
    "Message",
    "Origin",
    "Schema",
    "Undefined",
]


class Origin(enum.Enum):
    """Which sources define a message, field or enum."""

    BOTH = "both"
    DICTIONARY = "dictionary"
    PROTO = "proto"


@frozen
class EnumMember:
    """One enum value: Python name, SpiderRock wire name (JSON) and proto number.

    ``wire_name`` is None for a proto-only value; ``number`` is None for a value the dictionary
    lists but the proto lacks (it cannot travel on protobuf).
    """

    py_name: str
    wire_name: str | None
    number: int | None


@frozen
class EnumType:
    name: str
    module: str
    is_flag: bool
    members: tuple[EnumMember, ...]
    description: str
    origin: Origin


@frozen
class Field:
    """One field of a message, a primary key or a repeated group.

    ``sr_type`` is the SpiderRock type (``Float``, ``Enum``, ``OptionKey``, ``Repeater`` ...);
    ``proto_type`` the protobuf scalar / ``enum`` / ``message`` type (None when the proto lacks
    the field); ``enum`` names the :class:`EnumType`; ``group`` names the :class:`Group` class.
    """

    py_name: str
    wire_name: str
    sr_type: str
    proto_name: str | None
    proto_number: int | None
    proto_type: str | None
    dict_number: int | None
    enum: str | None
    group: str | None
    description: str
    origin: Origin


@frozen
class Group:
    """A repeated group (Repeater) or a composite primary key: a class of its own."""

    class_name: str
    wire_name: str
    proto_name: str | None
    fields: tuple[Field, ...]


@frozen
class Message:
    """One message type; ``schema_hash`` is getmsgtypes' schemaHash (None where no source
    gives one)."""

    name: str
    mnum: int | None
    token: str
    module: str
    description: str
    pkey: Group | None
    fields: tuple[Field, ...]
    groups: tuple[Group, ...]
    origin: Origin
    proto_file: str | None
    schema_hash: str | None = None


@frozen
class Undefined:
    """A message type known by name and number (getmsgtypes) with no definition anywhere."""

    name: str
    mnum: int
    token: str | None
    schema_hash: str | None = None


@frozen
class Issue:
    """One disagreement or gap found while reconciling; ``kind`` is a stable identifier."""

    kind: str
    message: str | None
    field: str | None
    detail: str


@frozen
class Schema:
    label: str
    fingerprint: str
    messages: tuple[Message, ...]
    enums: tuple[EnumType, ...]
    undefined: tuple[Undefined, ...]
    issues: tuple[Issue, ...]
