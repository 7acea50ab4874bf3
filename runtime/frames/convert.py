"""Generated messages to Arrow tables and back, column by column.

Values map as :mod:`srmlink.frames.schema` lays out: enums by their SpiderRock wire name (an
unknown member that has only a number is written as that number's digits and read back as
the same unknown member), keys as structs of their typed parts, repeaters as lists of structs.
Float (float32) columns read back as the shortest decimal that is the same float32, so a record
decoded from JSON or protobuf re-encodes to the same wire value after a trip through Arrow.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

from ..enums import SREnum
from ..errors import SRMLinkError
from ..keys import CallPut, ExpiryKey, OptionKey, TickerKey
from ..message import FieldSpec, Message
from ._arrow import require
from .schema import KEY_PARTS, ColumnNames, arrow_schema, columns

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    import polars as pl
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

__all__ = ["FrameConversionError", "from_arrow", "to_arrow", "to_pandas", "to_polars"]

M = TypeVar("M", bound=Message)

_KEY_CLASSES: dict[str, type[Any]] = {
    "TickerKey": TickerKey,
    "ExpiryKey": ExpiryKey,
    "OptionKey": OptionKey,
}
_CALL_PUT = {member.wire_name: member for member in CallPut}
_FLOAT32_MAX = 3.4028234663852886e38


class FrameConversionError(SRMLinkError, ValueError):
    """A table cannot become messages: a column or value does not fit the message's schema."""


# ---- messages -> Arrow ---------------------------------------------------------------------


def _key_dict(key: Any) -> dict[str, object]:
    parts: dict[str, object] = {
        "asset_type": key.asset_type,
        "ticker_src": key.ticker_src,
        "ticker": key.ticker,
    }
    if not isinstance(key, TickerKey):
        parts["expiration"] = key.expiration
    if isinstance(key, OptionKey):
        parts["strike"] = key.strike
        parts["call_put"] = key.call_put.wire_name
    return parts


def _to_arrow_value(spec: FieldSpec, names: ColumnNames) -> Callable[[Any], Any] | None:
    """How one field's Python value becomes what pyarrow takes (None: as it is)."""
    if spec.sr_type in ("Enum", "Flag"):
        return lambda v: None if v is None else str(v)
    if spec.sr_type in KEY_PARTS:
        return lambda v: None if v is None else _key_dict(v)
    if spec.sr_type == "Repeater" and spec.type is not None:
        children = [
            (f.name, f.name if names == "python" else f.wire_name, _to_arrow_value(f, names))
            for f in spec.type.SPEC.fields
        ]

        def group(items: Sequence[Any] | None) -> list[dict[str, Any]] | None:
            if items is None:
                return None
            return [
                {
                    label: (convert(value) if convert is not None else value)
                    for attr, label, convert in children
                    for value in (getattr(item, attr),)
                }
                for item in items
            ]

        return group
    return None


def to_arrow(
    messages: Iterable[M], cls: type[M] | None = None, *, names: ColumnNames = "python"
) -> pa.Table:
    """A table of ``messages`` (all of class ``cls``; taken from the first when not given).

    Raises:
        FrameConversionError: a message is not a ``cls``, or no class was given for no message.
        MissingExtraError: pyarrow is not installed.
    """
    pa = require("pyarrow")
    rows = list(messages)
    if cls is None:
        if not rows:
            raise FrameConversionError("to_arrow of no messages needs the message class")
        cls = type(rows[0])
    strays = [type(m).__name__ for m in rows if type(m) is not cls]
    if strays:
        raise FrameConversionError(
            f"to_arrow({cls.__name__}): got {len(strays)} record(s) of another type "
            f"({', '.join(sorted(set(strays)))})"
        )
    schema = arrow_schema(cls, names=names)
    arrays = []
    for column, field in zip(columns(cls, names), schema, strict=True):
        if column.part is None:
            values = list(map(attrgetter(column.attribute), rows))
        else:
            get_part = attrgetter(column.part)
            values = [
                None if key is None else get_part(key)
                for key in map(attrgetter(column.attribute), rows)
            ]
        convert = _to_arrow_value(column.spec, names)
        if convert is not None:
            values = [convert(v) for v in values]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise FrameConversionError(f"{cls.MSG_NAME}.{column.spec.name}: {exc}") from None
    return pa.Table.from_arrays(arrays, schema=schema)


def to_polars(
    messages: Iterable[M], cls: type[M] | None = None, *, names: ColumnNames = "python"
) -> pl.DataFrame:
    """A polars DataFrame of ``messages`` (built from the Arrow table without a copy)."""
    polars = require("polars")
    frame: pl.DataFrame = polars.from_arrow(to_arrow(messages, cls, names=names))
    return frame


def to_pandas(
    messages: Iterable[M], cls: type[M] | None = None, *, names: ColumnNames = "python"
) -> pd.DataFrame:
    """A pandas DataFrame of ``messages`` with Arrow-backed columns (``pd.ArrowDtype``)."""
    pandas = require("pandas")
    table = to_arrow(messages, cls, names=names)
    frame: pd.DataFrame = table.to_pandas(types_mapper=pandas.ArrowDtype)
    return frame


# ---- Arrow -> messages ---------------------------------------------------------------------


def _enum_value(enum_type: type[SREnum]) -> Callable[[str], SREnum]:
    def convert(text: str) -> SREnum:
        member = enum_type.from_wire(text)
        if not member.known and text.isdigit():
            return enum_type.from_number(int(text))
        return member

    return convert


def _key_value(kind: str) -> Callable[[dict[str, Any]], Any]:
    key_class = _KEY_CLASSES[kind]

    def convert(parts: dict[str, Any]) -> Any:
        values = dict(parts)
        if "call_put" in values:
            values["call_put"] = _CALL_PUT[values["call_put"]]
        return key_class(**values)

    return convert


def _from_arrow_value(spec: FieldSpec, names: ColumnNames) -> Callable[[Any], Any] | None:
    """How a value pyarrow gives back becomes the field's Python value (None: as it is)."""
    if spec.sr_type in ("Enum", "Flag") and spec.type is not None:
        return _enum_value(spec.type)
    if spec.sr_type in KEY_PARTS:
        return _key_value(spec.sr_type)
    if spec.sr_type == "DateTime":
        return lambda v: v.astimezone(_dt.UTC)
    if spec.sr_type == "Repeater" and spec.type is not None:
        group_type = spec.type
        children = [
            (f.name, f.name if names == "python" else f.wire_name, _from_arrow_value(f, names))
            for f in group_type.SPEC.fields
        ]

        def group(items: list[dict[str, Any]]) -> tuple[Any, ...]:
            return tuple(
                group_type(
                    **{
                        attr: (
                            convert(value) if convert is not None and value is not None else value
                        )
                        for attr, label, convert in children
                        for value in (item.get(label),)
                    }
                )
                for item in items
            )

        return group
    return None


def _column_values(table: pa.Table, name: str, spec: FieldSpec) -> list[Any]:
    pa = require("pyarrow")
    column = table.column(name)
    if spec.sr_type == "Float":
        # float32 -> its shortest decimal text -> float64: the value JSON had. At the very
        # edge of the range the shortest text reads back past float32's maximum: keep the
        # exact value there.
        pc = require("pyarrow.compute")
        exact = column.cast(pa.float64())
        short = column.cast(pa.string()).cast(pa.float64())
        column = pc.if_else(pc.less_equal(pc.abs(short), _FLOAT32_MAX), short, exact)
    values: list[Any] = column.to_pylist()
    return values


def from_arrow(table: pa.Table, cls: type[M], *, names: ColumnNames = "python") -> list[M]:
    """The messages of a table made by :func:`to_arrow` (or one with the same columns).

    Columns the class does not have are an error; columns the table lacks are unset fields.

    Raises:
        FrameConversionError: an unknown column, or a value the class cannot hold.
    """
    known = {c.name: c for c in columns(cls, names)}
    unknown = [name for name in table.column_names if name not in known]
    if unknown:
        raise FrameConversionError(
            f"{cls.MSG_NAME} has no column(s) {', '.join(map(repr, unknown))}"
        )
    count = table.num_rows
    own: dict[str, list[Any]] = {}
    parts: dict[str, dict[str, list[Any]]] = {}
    for name in table.column_names:
        column = known[name]
        values = _column_values(table, name, column.spec)
        convert = _from_arrow_value(column.spec, names)
        if convert is not None:
            try:
                values = [None if v is None else convert(v) for v in values]
            except (KeyError, TypeError, ValueError) as exc:
                raise FrameConversionError(f"{cls.MSG_NAME}.{name}: {exc}") from None
        if column.part is None:
            own[column.attribute] = values
        else:
            parts.setdefault(column.attribute, {})[column.part] = values
    pkey_types = {f.name: f.type for f in cls.SPEC.fields if f.sr_type == "PKey"}
    messages = []
    for row in range(count):
        kwargs = {attribute: values[row] for attribute, values in own.items()}
        for attribute, by_part in parts.items():
            key_values = {part: values[row] for part, values in by_part.items()}
            if any(v is not None for v in key_values.values()):
                pkey_type = pkey_types[attribute]
                assert pkey_type is not None
                kwargs[attribute] = pkey_type(**key_values)
        messages.append(cls(**kwargs))
    return messages
