"""MLink bytes straight to Arrow: no Python object per record on the JSON paths.

Framed JSON and plain JSON bodies go through Arrow's own JSON reader (C++, multi-threaded):
the payloads of the wanted message type are cut out by their frame headers, read as
newline-delimited JSON into the wire-shaped struct, then renamed and cast into the table of
:func:`srmlink.frames.arrow_schema`. Protobuf has no columnar reader, so it is decoded into
messages first. Whatever Arrow's reader cannot take exactly (a malformed record, a value out
of the column's range) is decoded by srmlink's codec instead, which then raises its usual
``DecodeError`` naming the message type, the field and the byte offset; the columnar path
never produces a value the codec would not.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import orjson

from ..codec import decode
from ..codec.values import parse_timespan
from ..framing import split_frames
from ..message import FieldSpec, Message
from ._arrow import require
from .convert import to_arrow
from .schema import KEY_PARTS, ColumnNames, arrow_schema, columns, field_type

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

__all__ = ["decode_arrow"]

M = TypeVar("M", bound=Message)

_WIRE_TYPES = {"Enum": "string", "Flag": "string", "DateTime": "string", "DateKey": "string"}


def _wire_type(spec: FieldSpec) -> pa.DataType:
    """The type Arrow's JSON reader reads a field as, before it is cast."""
    pa = require("pyarrow")
    if spec.sr_type in _WIRE_TYPES or spec.sr_type == "TimeSpan":
        return pa.string()
    if spec.sr_type in KEY_PARTS:
        types = {"xx": pa.float64()}
        return pa.struct(
            [pa.field(w, types.get(w, pa.string())) for _, w in KEY_PARTS[spec.sr_type]]
        )
    if spec.sr_type == "Repeater" and spec.type is not None:
        return pa.list_(
            pa.struct([pa.field(f.wire_name, _wire_type(f)) for f in spec.type.SPEC.fields])
        )
    return field_type(spec)


def _message_struct(cls: type[Message]) -> pa.DataType:
    pa = require("pyarrow")
    fields = []
    for spec in cls.SPEC.fields:
        if spec.sr_type == "PKey" and spec.type is not None:
            parts = [pa.field(p.wire_name, _wire_type(p)) for p in spec.type.SPEC.fields]
            fields.append(pa.field(spec.wire_name, pa.struct(parts)))
        else:
            fields.append(pa.field(spec.wire_name, _wire_type(spec)))
    return pa.struct(fields)


def _cast(array: pa.Array, spec: FieldSpec, target: pa.DataType) -> pa.Array:
    """A wire-shaped column as the table's type."""
    pa = require("pyarrow")
    pc = require("pyarrow.compute")
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if spec.sr_type in ("Enum", "Flag"):
        return pc.dictionary_encode(array).cast(target)
    if spec.sr_type == "DateTime":
        return array.cast(pa.timestamp("us")).cast(target)
    if spec.sr_type == "TimeSpan":
        values = [None if v is None else parse_timespan(v) for v in array.to_pylist()]
        return pa.array(values, type=target)
    if spec.sr_type in KEY_PARTS:
        parts = [
            _cast_part(array.field(wire), name, target.field(name).type)
            for name, wire in KEY_PARTS[spec.sr_type]
        ]
        return pa.StructArray.from_arrays(parts, fields=list(target), mask=array.is_null())
    if spec.sr_type == "Repeater" and spec.type is not None:
        flat = array.flatten()
        struct_type = target.value_type
        children = [
            _cast(flat.field(f.wire_name), f, struct_type.field(i).type)
            for i, f in enumerate(spec.type.SPEC.fields)
        ]
        items = pa.StructArray.from_arrays(children, fields=list(struct_type), mask=flat.is_null())
        return pa.ListArray.from_arrays(array.offsets, items, mask=array.is_null()).cast(target)
    return array.cast(target)


def _cast_part(array: pa.Array, name: str, target: pa.DataType) -> pa.Array:
    return array.cast(target)


def _payloads(body: bytes, encoding: str, cls: type[Message]) -> list[bytes]:
    if encoding == "jsonf":
        return [payload for _, mnum, payload, _ in split_frames(body) if mnum == cls.MSG_NUM]
    wanted = cls.MSG_NAME
    return [
        orjson.dumps(item)
        for item in orjson.loads(body)
        if isinstance(item, dict) and (item.get("header") or {}).get("mTyp") == wanted
    ]


def _columnar(payloads: Sequence[bytes], cls: type[Message], names: ColumnNames) -> pa.Table:
    pa = require("pyarrow")
    pj = require("pyarrow.json")
    schema = arrow_schema(cls, names=names)
    if not payloads:
        return schema.empty_table()
    data = b"\n".join(payloads)
    read = pj.ParseOptions(
        explicit_schema=pa.schema([pa.field("message", _message_struct(cls))]),
        unexpected_field_behavior="ignore",
        newlines_in_values=b"\n" in b"".join(payloads),
    )
    message = pj.read_json(io.BytesIO(data), parse_options=read).column("message")
    message = message.combine_chunks()
    arrays: list[Any] = []
    for column, field in zip(columns(cls, names), schema, strict=True):
        wire = message.field(_wire_name(cls, column.attribute))
        spec = column.spec
        if column.part is not None:
            wire = wire.field(spec.wire_name)
        arrays.append(_cast(wire, spec, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _wire_name(cls: type[Message], attribute: str) -> str:
    return next(f.wire_name for f in cls.SPEC.fields if f.name == attribute)


def decode_arrow(
    body: bytes,
    cls: type[M],
    encoding: Literal["json", "jsonf", "proto"] = "jsonf",
    *,
    names: ColumnNames = "python",
) -> pa.Table:
    """The ``cls`` records of an MLink body (REST reply or WebSocket frame) as an Arrow table.

    Records of other types (a REST body's closing QueryResult, for instance) are left out.

    Raises:
        FramingError: a corrupt frame header or length (framed encodings).
        DecodeError: a record that does not fit ``cls``'s schema, naming field and offset.
        MissingExtraError: pyarrow is not installed.
    """
    pa = require("pyarrow")
    if encoding == "proto":
        return to_arrow((m for m in decode(body, "proto") if type(m) is cls), cls, names=names)
    payloads = _payloads(body, encoding, cls)
    try:
        return _columnar(payloads, cls, names)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Let the codec find and name the bad value; what it accepts converts as usual.
        messages = [m for m in decode(body, encoding) if type(m) is cls]
        return to_arrow(messages, cls, names=names)
