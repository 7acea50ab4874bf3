"""Arrow schemas of the generated message classes, derived from the reconciled schema.

The column types come from each field's SpiderRock type (``FieldSpec.sr_type``), never from
the values seen:

========================  ===============================================================
SR type                   Arrow type
========================  ===============================================================
Float / Double            float32 / float64
Byte, UShort, UInt, ULong uint8, uint16, uint32, uint64
Short, Int, Long          int16, int32, int64
Enum, Flag                dictionary<int32, string> of SpiderRock wire names
String, Text1, Text2      string
DateTime                  timestamp[us, tz=UTC]
DateKey                   date32
TimeSpan                  duration[us]
TickerKey                 struct<asset_type, ticker_src, ticker>
ExpiryKey                 TickerKey's struct + expiration: date32
OptionKey                 ExpiryKey's struct + strike: float64, call_put: string
Repeater                  list<struct<the group's fields>>
========================  ===============================================================

A message's primary key is flattened: each part of ``pkey`` becomes a top-level column (named
``pkey_<part>`` only where a message field already has the part's name). Every Arrow field
carries metadata: ``sr_type``, ``wire_name`` and, where the schema has one, ``description``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import attrs
from attrs import frozen

from ..message import FieldSpec, Message
from ._arrow import require

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

__all__ = ["KEY_PARTS", "Column", "ColumnNames", "arrow_schema", "columns", "field_type"]

ColumnNames = Literal["python", "wire"]

#: The parts of each key kind: (Python attribute, compact JSON member).
KEY_PARTS: dict[str, tuple[tuple[str, str], ...]] = {
    "TickerKey": (("asset_type", "at"), ("ticker_src", "ts"), ("ticker", "tk")),
}
KEY_PARTS["ExpiryKey"] = (*KEY_PARTS["TickerKey"], ("expiration", "dt"))
KEY_PARTS["OptionKey"] = (*KEY_PARTS["ExpiryKey"], ("strike", "xx"), ("call_put", "cp"))

_PRIMITIVES = {
    "Float": "float32",
    "Double": "float64",
    "Byte": "uint8",
    "Short": "int16",
    "UShort": "uint16",
    "Int": "int32",
    "UInt": "uint32",
    "Long": "int64",
    "ULong": "uint64",
    "String": "string",
    "Text1": "string",
    "Text2": "string",
    "DateKey": "date32",
}


@frozen
class Column:
    """One column of a message's table: where its values live on the message.

    Attributes:
        name: the column name (Python or wire name, as asked).
        attribute: the message attribute holding the value.
        part: for a primary-key part, the attribute on ``pkey`` (else None).
        spec: the schema's field.
    """

    name: str
    attribute: str
    part: str | None
    spec: FieldSpec


def _dictionary() -> pa.DataType:
    pa = require("pyarrow")
    return pa.dictionary(pa.int32(), pa.string())


def _key_struct(kind: str) -> pa.DataType:
    pa = require("pyarrow")
    types = {
        "expiration": pa.date32(),
        "strike": pa.float64(),
    }
    return pa.struct([pa.field(name, types.get(name, pa.string())) for name, _ in KEY_PARTS[kind]])


def field_type(spec: FieldSpec, names: ColumnNames = "python") -> pa.DataType:
    """The Arrow type of one field (see the module's table)."""
    pa = require("pyarrow")
    sr_type = spec.sr_type
    if sr_type in _PRIMITIVES:
        return pa.type_for_alias(_PRIMITIVES[sr_type])
    if sr_type in ("Enum", "Flag"):
        return _dictionary()
    if sr_type == "DateTime":
        return pa.timestamp("us", tz="UTC")
    if sr_type == "TimeSpan":
        return pa.duration("us")
    if sr_type in KEY_PARTS:
        return _key_struct(sr_type)
    if sr_type == "Repeater" and spec.type is not None:
        group = spec.type.SPEC.fields
        return pa.list_(pa.struct([_arrow_field(f, _name(f, names), names) for f in group]))
    raise TypeError(f"no Arrow type for SR type {sr_type!r} (field {spec.wire_name})")


def _name(spec: FieldSpec, names: ColumnNames) -> str:
    return spec.name if names == "python" else spec.wire_name


def _description(owner: type[Any] | None, spec: FieldSpec) -> str | None:
    if owner is None or not attrs.has(owner):
        return None
    for attribute in attrs.fields(owner):
        if attribute.name == spec.name:
            text = attribute.metadata.get("description")
            return text if isinstance(text, str) and text else None
    return None


def _arrow_field(
    spec: FieldSpec, name: str, names: ColumnNames, owner: type[Any] | None = None
) -> pa.Field:
    pa = require("pyarrow")
    metadata = {"sr_type": spec.sr_type, "wire_name": spec.wire_name}
    description = _description(owner, spec)
    if description:
        metadata["description"] = description
    return pa.field(name, field_type(spec, names), nullable=True, metadata=metadata)


def columns(cls: type[Message], names: ColumnNames = "python") -> Iterator[Column]:
    """The columns of ``cls``'s table in order: primary-key parts, then the other fields."""
    fields = cls.SPEC.fields
    own = {_name(f, names) for f in fields if f.sr_type != "PKey"}
    for spec in fields:
        if spec.sr_type == "PKey" and spec.type is not None:
            for part in spec.type.SPEC.fields:
                name = _name(part, names)
                yield Column(f"pkey_{name}" if name in own else name, spec.name, part.name, part)
    for spec in fields:
        if spec.sr_type != "PKey":
            yield Column(_name(spec, names), spec.name, None, spec)


def arrow_schema(cls: type[Message], *, names: ColumnNames = "python") -> pa.Schema:
    """The Arrow schema of ``cls``'s records (column names: Python attributes or wire names).

    Raises:
        MissingExtraError: pyarrow is not installed (``pip install 'srmlink[arrow]'``).
    """
    pa = require("pyarrow")
    pkey_type = next((f.type for f in cls.SPEC.fields if f.sr_type == "PKey"), None)
    fields = [
        _arrow_field(c.spec, c.name, names, pkey_type if c.part is not None else cls)
        for c in columns(cls, names)
    ]
    metadata = {"message": cls.MSG_NAME, "token": cls.TOKEN}
    if cls.MSG_NUM is not None:
        metadata["mnum"] = str(cls.MSG_NUM)
    return pa.schema(fields, metadata=metadata)
