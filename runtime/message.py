"""Base classes and field metadata of the generated message classes.

Every generated message class derives from :class:`Message` and carries ``MSG_NAME``,
``MSG_NUM`` (None when the schema gives no number), ``TOKEN`` and ``SPEC``: the reconciled
field table (wire names, SR types, proto numbers) that the codecs and query builders read.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self

from attrs import frozen

from .enums import SREnum
from .errors import KeyParseError
from .keys import ExpiryKey, OptionKey, TickerKey

if TYPE_CHECKING:
    from .query import Fields

__all__ = ["FieldSpec", "Group", "Message", "MessageSpec", "PrimaryKey"]


@frozen
class FieldSpec:
    """One field as the schema defines it.

    Attributes:
        name: the Python attribute name.
        wire_name: the JSON member name (the data dictionary's name).
        sr_type: SpiderRock type (``Float``, ``Enum``, ``OptionKey``, ``Repeater`` ...).
        proto_number: protobuf field number, None for a JSON-only field.
        proto_type: protobuf type (``float``, ``enum``, ``Timestamp`` ...), None if JSON-only.
        type: the enum, key or group class for fields that have one.
    """

    name: str
    wire_name: str
    sr_type: str
    proto_number: int | None
    proto_type: str | None
    type: type[Any] | None = None


@frozen
class MessageSpec:
    """The field table of a message, primary key or repeated group.

    ``origin`` is ``both``, ``dictionary`` (JSON only: no .proto defines it) or ``proto`` (no
    dictionary entry: wire names follow proto3's camelCase rule).
    """

    origin: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec:
        """The field with this Python or wire name (wire names case-insensitively)."""
        folded = name.lower()
        for spec in self.fields:
            if spec.name == name or spec.wire_name.lower() == folded:
                return spec
        raise KeyError(name)


class _FieldsAccessor:
    """``SomeMessage.fields``: the class's query builders (:class:`srmlink.query.Fields`)."""

    __slots__ = ()

    def __get__(self, instance: object, owner: type[Message]) -> Fields:
        # srmlink.query imports this module, so it is imported on first use instead.
        from .query import Fields  # noqa: PLC0415

        return Fields(owner)


class Message:
    """Base class of every generated message type.

    ``SomeMessage.fields`` builds where / view / order clauses (see :mod:`srmlink.query`).
    """

    __slots__ = ()

    MSG_NAME: ClassVar[str]
    MSG_NUM: ClassVar[int | None]
    TOKEN: ClassVar[str]
    SPEC: ClassVar[MessageSpec]
    fields: ClassVar[_FieldsAccessor] = _FieldsAccessor()


class Group:
    """Base class of a repeated group's element (a Repeater's child record)."""

    __slots__ = ()

    SPEC: ClassVar[MessageSpec]


class PrimaryKey:
    """Base class of generated primary-key classes; ``str(pkey)`` is the flat form.

    A single-part key prints as its part (``AAPL-NMS-EQT``). Composite keys join their parts
    with ``|`` (``AAPL-NMS-EQT-2023-12-01|Live``), a ``|`` or ``\\`` inside a part escaped with
    ``\\`` (``a\\|b``), so distinct keys never print alike. A part that is not set prints empty,
    and an empty part parses as not set (proto3 cannot tell an empty or zero part from a
    missing one either).
    """

    __slots__ = ()

    SPEC: ClassVar[MessageSpec]

    def __str__(self) -> str:
        parts = [_format_part(getattr(self, f.name)) for f in self.SPEC.fields]
        return parts[0] if len(parts) == 1 else "|".join(map(_escape, parts))

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse the flat form; raises :class:`~srmlink.errors.KeyParseError` naming the part."""
        specs = cls.SPEC.fields
        parts = [(0, text)] if len(specs) == 1 else _split(text)
        if len(parts) != len(specs):
            names = "|".join(f.wire_name for f in specs)
            raise KeyParseError(
                text,
                0,
                f"{cls.__name__} has {len(specs)} part(s) ({names}) joined by '|', "
                f"got {len(parts)}",
            )
        values: dict[str, Any] = {}
        for number, ((offset, part), spec) in enumerate(zip(parts, specs, strict=True), 1):
            where = f"{cls.__name__} part {number} ({spec.wire_name}, {spec.sr_type})"
            try:
                values[spec.name] = _parse_part(part, spec) if part else None
            except KeyParseError as exc:
                raise KeyParseError(text, offset + exc.position, f"{where}: {exc.reason}") from None
            except ValueError as exc:
                raise KeyParseError(text, offset, f"{where}: {exc}") from None
        return cls(**values)


def _escape(part: str) -> str:
    return part.replace("\\", "\\\\").replace("|", "\\|")


def _split(text: str) -> list[tuple[int, str]]:
    """The unescaped parts of a flat key, each with its offset in ``text``.

    ``\\`` escapes only ``|`` and ``\\``; any other backslash is kept as written.
    """
    parts: list[tuple[int, str]] = []
    current: list[str] = []
    start = i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and text[i + 1 : i + 2] in ("|", "\\"):
            current.append(text[i + 1])
            i += 2
            continue
        if char == "|":
            parts.append((start, "".join(current)))
            current, start = [], i + 1
        else:
            current.append(char)
        i += 1
    parts.append((start, "".join(current)))
    return parts


def _format_part(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, SREnum):
        return str(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_KEY_PARSERS: dict[str, Callable[[str], object]] = {
    "TickerKey": TickerKey.parse,
    "ExpiryKey": ExpiryKey.parse,
    "OptionKey": OptionKey.parse,
    "DateKey": _dt.date.fromisoformat,
    "DateTime": _dt.datetime.fromisoformat,
}
_INT_TYPES = frozenset({"Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong"})


def _parse_part(text: str, spec: FieldSpec) -> object:
    if spec.sr_type in _KEY_PARSERS:
        return _KEY_PARSERS[spec.sr_type](text)
    if spec.sr_type in ("Enum", "Flag") and spec.type is not None:
        member = spec.type.from_wire(text)
        if not member.known:
            raise KeyParseError(text, 0, f"{text!r} is not a {spec.type.__name__} value")
        return member
    if spec.sr_type in _INT_TYPES:
        return int(text)
    if spec.sr_type in ("Float", "Double"):
        number = float(text)
        if not math.isfinite(number):
            raise KeyParseError(text, 0, "not a finite number")
        return number
    return text
