"""Where clauses meet a message class: resolving wire paths, reading values, evaluating.

:func:`field_getter` resolves a wire path (``okey.tk``, ``bidPrice``; any case) against a
message class and reads it from records; a clause's value text is read by the field's type;
:func:`compile_where` turns a where AST into a predicate over records (what the local server
evaluates).
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, cast

import attrs

from ..enums import SREnum
from ..errors import QueryError
from ..keys import CallPut, TickerKey
from ..message import FieldSpec, Message
from .grammar import _TEXT_OPS, And, Comparison, Node, _to_path

__all__ = ["compile_where", "field_getter"]

# ---- resolving paths against a message class ---------------------------------------------------

_INT_TYPES = frozenset({"Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong"})
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_KINDS = {
    **dict.fromkeys(_INT_TYPES | {"Float", "Double"}, "number"),
    **dict.fromkeys(("TickerKey", "ExpiryKey", "OptionKey"), "key"),
    "Enum": "enum",
    "Flag": "enum",
    "DateKey": "date",
    "DateTime": "datetime",
    "TimeSpan": "timespan",
    "Repeater": "repeater",
}
# Key parts as MLink's compact JSON names them -> (attribute, kind, what errors call it); each
# key kind has a prefix of this list.
_KEY_PARTS = {
    "at": ("asset_type", "text", "asset type"),
    "ts": ("ticker_src", "text", "ticker source"),
    "tk": ("ticker", "text", "ticker"),
    "dt": ("expiration", "date", "date"),
    "xx": ("strike", "number", "strike"),
    "cp": ("call_put", "callput", "call/put"),
}
_PARTS_OF = {"TickerKey": 3, "ExpiryKey": 4, "OptionKey": 6}
_PART_BY_ATTRIBUTE = {attribute: part for part, (attribute, _, _) in _KEY_PARTS.items()}
_CALL_PUTS = {word.lower(): cp for cp in CallPut for word in (cp.wire_name, cp.letter)}


class _Namespace(NamedTuple):
    """A message's queryable fields: its own (but ``pkey``) and its primary key's parts."""

    by_wire: dict[str, tuple[FieldSpec, FieldSpec | None]]  # folded wire name -> (spec, pkey)
    by_python: dict[str, str]  # Python name -> folded wire name


# Per-class caches (plain dicts: mypy will not take a class as functools.cache's Hashable).
_NAMESPACES: dict[type[Message], _Namespace] = {}
_TARGETS: dict[tuple[type[Message], tuple[str, ...]], _Target] = {}


def _namespace(cls: type[Message]) -> _Namespace:
    found = _NAMESPACES.get(cls)
    if found is not None:
        return found
    by_wire: dict[str, tuple[FieldSpec, FieldSpec | None]] = {}
    for spec in cls.SPEC.fields:
        if spec.sr_type == "PKey" and spec.type is not None:
            for part in spec.type.SPEC.fields:
                by_wire.setdefault(part.wire_name.lower(), (part, spec))
        else:
            by_wire.setdefault(spec.wire_name.lower(), (spec, None))
    by_python = {spec.name: wire for wire, (spec, _) in by_wire.items()}
    found = _NAMESPACES[cls] = _Namespace(by_wire, by_python)
    return found


@attrs.frozen
class _Target:
    """A resolved path: how to read it from a record and what kind of value it holds."""

    label: str  # the wire path as the schema spells it: okey.tk
    attributes: tuple[str, ...]  # the attribute chain from a record: pkey, okey, ticker
    kind: str  # number text enum key date datetime timespan callput repeater
    sr_type: str  # for a key part, what it is: "strike"
    type: type[Any] | None
    message_type: str

    def get(self, record: object) -> Any:
        value: Any = record
        for name in self.attributes:
            value = getattr(value, name)
            if value is None:
                return None
        if self.kind == "datetime" and value.tzinfo is None:
            return value.replace(tzinfo=_dt.UTC)  # naive DateTimes are UTC, as on the wire
        return value

    def coerce(self, text: str) -> Any:
        """The clause value ``text`` read as this field's type; QueryError when it is not one."""
        try:
            value = _COERCE[self.kind](text, self)
        except ValueError as exc:
            reason = f"{text!r} is not a valid {self.sr_type} for {self.label}: {exc}"
            raise QueryError(reason, message_type=self.message_type) from None
        return value


def field_getter(
    cls: type[Message], path: str | Iterable[str]
) -> tuple[str, Callable[[Message], Any]]:
    """The wire path as the schema spells it (``okey.tk``, ``bidPrice``) and a function reading
    that value from a record of ``cls`` (None when unset; DateTimes as aware UTC).

    ``path`` is a wire path in any case, dotted or as parts. Raises QueryError if ``cls`` has
    no such field.
    """
    target = _resolve(cls, _to_path(path))
    return target.label, target.get


def _close_matches(name: str, known: Iterable[str]) -> list[str]:
    """Up to three of ``known`` that look like ``name``: suggestions for error messages."""
    # Only errors need difflib: importing it on first use keeps ``import srmlink.query`` cheap.
    import difflib  # noqa: PLC0415

    return difflib.get_close_matches(name, list(known), n=3)


def _unknown(cls: type[Message], name: str, known: Iterable[str], what: str) -> QueryError:
    close = _close_matches(name, known)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return QueryError(f"no {what} {name!r}{hint}", message_type=cls.MSG_NAME)


def _resolve(cls: type[Message], path: tuple[str, ...]) -> _Target:
    """The field ``path`` names in ``cls`` (wire names, any case); QueryError if none."""
    key = (cls, tuple(name.lower() for name in path))
    found = _TARGETS.get(key)
    if found is None:
        found = _TARGETS[key] = _find(cls, path)
    return found


def _find(cls: type[Message], path: tuple[str, ...]) -> _Target:
    if not path:
        raise QueryError("empty field path", message_type=cls.MSG_NAME)
    namespace = _namespace(cls)
    entry = namespace.by_wire.get(path[0].lower())
    if entry is None:
        names = [spec.wire_name for spec, _ in namespace.by_wire.values()]
        raise _unknown(cls, path[0], names, "field")
    spec, pkey = entry
    attributes = (pkey.name, spec.name) if pkey is not None else (spec.name,)
    kind = _KINDS.get(spec.sr_type, "text")
    if kind == "enum" and spec.type is None:
        kind = "text"  # no enum class to read names with: compare the text
    target = _Target(spec.wire_name, attributes, kind, spec.sr_type, spec.type, cls.MSG_NAME)
    if len(path) == 1:
        return target
    count = _PARTS_OF.get(spec.sr_type, 0)
    parts = list(_KEY_PARTS)[:count]
    if len(path) > 2 or path[1].lower() not in parts:
        what = "key part" if count else "nested field"
        raise _unknown(cls, ".".join(path), [f"{spec.wire_name}.{p}" for p in parts], what)
    part = path[1].lower()
    attribute, part_kind, what = _KEY_PARTS[part]
    return _Target(
        f"{spec.wire_name}.{part}", (*attributes, attribute), part_kind, what, None, cls.MSG_NAME
    )


def _number(text: str, target: _Target) -> float | int:
    if _NUMBER.fullmatch(text) is None:
        raise ValueError("not a number")
    if target.sr_type in _INT_TYPES and text.lstrip("+-").isdigit():
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("out of range")
    return value


def _enum(text: str, target: _Target) -> SREnum:
    assert target.type is not None
    member: SREnum = target.type.from_wire(text)
    if not member.known:
        names = ", ".join(str(m) for m in list(cast("Iterable[SREnum]", target.type))[:8])
        raise ValueError(f"not a {target.type.__name__} name ({names}, ...)")
    return member


def _call_put(text: str, target: _Target) -> CallPut:
    found = _CALL_PUTS.get(text.lower())
    if found is None:
        raise ValueError("not C, P, B, Call, Put or Both")
    return found


def _time_value(text: str, target: _Target) -> Any:
    # The codec package imports protobuf (~150 ms); only time fields need its text forms.
    from ..codec import values  # noqa: PLC0415

    if target.kind == "date":
        return values.parse_date(text)
    if target.kind == "datetime":
        return values.parse_datetime(text)
    return values.parse_timespan(text)


def _repeater(text: str, target: _Target) -> Any:
    raise ValueError("a repeated group cannot be compared")


_COERCE: dict[str, Callable[[str, _Target], Any]] = {
    "number": _number,
    "text": lambda text, target: text,
    "enum": _enum,
    "key": lambda text, target: cast("type[TickerKey]", target.type).parse(text),
    "date": _time_value,
    "datetime": _time_value,
    "timespan": _time_value,
    "callput": _call_put,
    "repeater": _repeater,
}


def _text_of(value: object) -> str:
    """A value's text form: as clauses write it, and what sw / ew / cv / nv search."""
    if isinstance(value, str):
        return value
    if isinstance(value, SREnum):
        return str(value)
    if isinstance(value, CallPut):
        return value.wire_name
    if isinstance(value, float):
        # 500.0 -> "500", as keys print strikes; huge values keep repr's exponent form.
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        from ..codec.values import format_timespan  # noqa: PLC0415 - see _time_value

        return format_timespan(value)
    return str(value)


# ---- compiling where clauses ---------------------------------------------------------------

_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def compile_where(node: Node, cls: type[Message]) -> Callable[[Message], bool]:
    """A predicate that says whether a record of ``cls`` matches ``node``.

    Raises:
        QueryError: a path ``cls`` does not have, or a value its field cannot hold.
    """
    if isinstance(node, Comparison):
        try:
            return _compile_comparison(node, _resolve(cls, node.path))
        except QueryError as exc:
            raise QueryError(f"{exc.reason} in {str(node)!r}", message_type=cls.MSG_NAME) from None
    tests = tuple(compile_where(part, cls) for part in node.parts)
    if isinstance(node, And):
        return lambda record: all(test(record) for test in tests)
    return lambda record: any(test(record) for test in tests)


def _compile_comparison(node: Comparison, target: _Target) -> Callable[[Message], bool]:
    get, op = target.get, node.op
    if target.kind == "repeater":
        raise QueryError(f"{target.label} is a repeated group; where cannot test it")
    if op in _TEXT_OPS:
        needle = node.value.lower()
        search: Callable[[str], bool] = {
            "sw": lambda text: text.startswith(needle),
            "ew": lambda text: text.endswith(needle),
            "cv": lambda text: needle in text,
            "nv": lambda text: needle not in text,
        }[op]

        def text_test(record: Message) -> bool:
            value = get(record)
            return value is not None and search(_text_of(value).lower())

        return text_test
    # Text fields compare their text form, so a non-string value of an untyped field works too.
    norm: Callable[[Any], Any] = _text_of if target.kind == "text" else _identity
    if op in ("eq", "ne"):
        wanted = target.coerce(node.value)
        if op == "eq":
            return lambda record: (value := get(record)) is not None and norm(value) == wanted
        return lambda record: (value := get(record)) is None or norm(value) != wanted
    # Ordering: enums by number; an enum value without one (JSON-only) never matches.
    if target.kind == "enum":
        norm = _enum_number
    if op == "cb":
        low_text, _, high_text = node.value.partition("$")
        low, high = norm(target.coerce(low_text)), norm(target.coerce(high_text))

        def between(record: Message) -> bool:
            value = get(record)
            value = None if value is None else norm(value)
            return (
                value is not None
                and low is not None
                and high is not None
                and (low <= value <= high)
            )

        return between
    compare, wanted = _ORDER_OPS[op], norm(target.coerce(node.value))

    def ordered(record: Message) -> bool:
        value = get(record)
        value = None if value is None else norm(value)
        return value is not None and wanted is not None and compare(value, wanted)

    return ordered


def _identity(value: Any) -> Any:
    return value


def _enum_number(value: SREnum) -> int | None:
    return value.number
