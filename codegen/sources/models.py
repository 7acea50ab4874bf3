"""Typed input models: each schema source, loaded but not yet reconciled.

One model per kind of source. Loaders fill them; :mod:`srmlink.codegen.reconcile` reads them and
builds the IR. Nothing here knows about the other sources.
"""

from __future__ import annotations

from attrs import frozen

__all__ = [
    "DictField",
    "DictMessage",
    "Dictionary",
    "MsgType",
    "MsgTypes",
    "ProtoEnum",
    "ProtoEnumValue",
    "ProtoField",
    "ProtoMessage",
    "ProtoSchema",
    "SchemaSources",
]


@frozen
class ProtoEnumValue:
    name: str
    number: int


@frozen
class ProtoEnum:
    name: str
    values: tuple[ProtoEnumValue, ...]
    comment: str


@frozen
class ProtoField:
    """A field of a .proto message.

    ``type`` is the protobuf scalar name (``float``, ``int32``, ``string`` ...), ``enum`` or
    ``message``; ``type_name`` is the short name of the enum or message type for the last two.
    """

    name: str
    number: int
    type: str
    type_name: str | None
    repeated: bool
    comment: str


@frozen
class ProtoMessage:
    name: str
    file: str
    token: str | None
    comment: str
    fields: tuple[ProtoField, ...]
    nested: tuple[ProtoMessage, ...]


@frozen
class ProtoSchema:
    messages: tuple[ProtoMessage, ...]
    enums: tuple[ProtoEnum, ...]
    files: tuple[str, ...]


@frozen
class DictField:
    """One field row of the data dictionary / getschema (FieldDesc) output.

    ``sr_type`` is canonical (``Float``, ``UShort``, ``Enum`` ...). ``repeater`` names the
    Repeater row this field belongs to (None for a top-level field). ``is_pkey`` is only known
    from getschema (None when the source does not say). ``where`` locates the row for reports.
    """

    name: str
    number: int | None
    sr_type: str
    enum_name: str | None
    enum_set: tuple[str, ...] | None
    description: str
    repeater: str | None
    is_pkey: bool | None
    where: str


@frozen
class DictMessage:
    name: str
    token: str | None
    mnum: int | None
    fields: tuple[DictField, ...]


@frozen
class Dictionary:
    """The data dictionary (CSV, either format) or getschema output: the same facts."""

    messages: tuple[DictMessage, ...]
    source: str


@frozen
class MsgType:
    name: str
    mnum: int
    token: str | None
    schema_hash: str | None


@frozen
class MsgTypes:
    """getmsgtypes (MsgDesc records) or getlayout (MsgLayout records) output."""

    types: tuple[MsgType, ...]
    source: str


@frozen
class SchemaSources:
    """Everything found in one schema directory; any part may be missing."""

    root: str
    protos: ProtoSchema | None
    dictionary: Dictionary | None
    msgtypes: MsgTypes | None
    fingerprint: str
