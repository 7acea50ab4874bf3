"""MLink's where / view / order clauses: one grammar for the client and the local server.

- :func:`parse_where` reads a where clause into an AST (:class:`Comparison`, :class:`And`,
  :class:`Or`); ``str(node)`` writes it back in canonical form, and
  ``parse_where(str(node)) == node``. :func:`compile_where` turns an AST into a predicate over
  the records of one message class (what the local server evaluates).
- :func:`parse_view`, :func:`check_view`, :func:`apply_view`; :func:`parse_order`,
  :func:`sort_key`; :func:`field_getter` reads one path from records.
- Typed builders: ``OptionNbboQuote.fields.bid_size >= 10`` builds the same AST, checked against
  the class as it is built, and renders with wire names (``bidSize:ge:10``).

The where grammar. SpiderRock documents the operators, ``&`` / ``|``, parentheses and dotted
key parts (``okey.tk:eq:AAPL``); the rest is this module's reading, chosen to be strict::

    or         := and ("|" and)*
    and        := atom ("&" atom)*
    atom       := "(" or ")" | comparison
    comparison := path ":" op ":" value         (no spaces inside a comparison)
    path       := name ("." name)*              (name: letters, digits, "_")
    op         := eq ne gt ge lt le sw ew cv nv cb       (any case)
    value      := characters other than whitespace, "&", "|", "(", ")"

Whitespace may surround ``&``, ``|`` and parentheses. ``&`` binds tighter than ``|``; MLink does
not document a precedence, so rendering parenthesises every nested group, as SpiderRock's own
examples do. ``cb`` is between, inclusive, with the bounds joined by ``$`` (``bidsize:cb:1$9``).
Values cannot contain whitespace, so DateTime values take the ISO ``T`` form (UTC when naive).

Evaluation. Field names match wire names case-insensitively; a primary key's parts are fields
too (``okey``; ``pkey`` itself is not), and key parts are ``at ts tk dt xx cp``. Values are
read by the field's type: numbers, enums by SpiderRock name (any case), keys, DateKey
``YYYY-MM-DD``, DateTime, TimeSpan. An unset (None) field matches only ``ne``. ``eq`` on text
is exact; ``sw ew cv nv`` compare the text form (enums by name, keys as flat text)
case-insensitively. Enums order by their number.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, TypeAlias, TypeVar, cast

import attrs

from .enums import SREnum
from .errors import QueryError
from .keys import CallPut, ExpiryKey, OptionKey, TickerKey
from .message import FieldSpec, Message

__all__ = [
    "OPERATORS",
    "And",
    "Comparison",
    "FieldRef",
    "Fields",
    "Node",
    "Or",
    "Order",
    "OrderTerm",
    "View",
    "apply_view",
    "check_view",
    "compile_where",
    "field_getter",
    "order_by",
    "parse_order",
    "parse_view",
    "parse_where",
    "sort_key",
    "view",
]

OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le", "sw", "ew", "cv", "nv", "cb")
_TEXT_OPS = frozenset({"sw", "ew", "cv", "nv"})
_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OP = re.compile(r"[A-Za-z]+")
_VALUE = re.compile(r"[^\s&|()]+")
_SPACE = re.compile(r"\s*")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_VIEW_SEPARATORS = re.compile(r"[\s|,]+")
# Deep enough for any real clause; stops a hostile one from exhausting the server's stack.
_MAX_DEPTH = 64

_M = TypeVar("_M", bound=Message)


# ---- the where AST ---------------------------------------------------------------------------


def _to_path(value: str | Iterable[str]) -> tuple[str, ...]:
    return tuple(value.split(".")) if isinstance(value, str) else tuple(value)


def _lower(value: str) -> str:
    return value.lower()


class _Clause:
    """Where nodes combine with ``&`` (and) and ``|`` (or)."""

    __slots__ = ()

    def __and__(self, other: object) -> And:
        if not isinstance(other, Comparison | And | Or):
            return NotImplemented
        return And((cast("Node", self), other))

    def __or__(self, other: object) -> Or:
        if not isinstance(other, Comparison | And | Or):
            return NotImplemented
        return Or((cast("Node", self), other))

    def __bool__(self) -> bool:
        # ``a and b`` would silently keep only ``b``: make the mistake loud.
        raise TypeError("combine where clauses with & and |, not 'and' / 'or' / 'not'")


@attrs.frozen
class Comparison(_Clause):
    """``path:op:value``; ``value`` is the clause's text (``cb`` holds ``low$high``).

    ``message_type`` is the class a builder made it for (not part of equality); None when
    parsed. Raises :class:`~srmlink.errors.QueryError` when the parts cannot be written in the
    grammar (a value with whitespace, an unknown operator ...).
    """

    path: tuple[str, ...] = attrs.field(converter=_to_path)
    op: str = attrs.field(converter=_lower)
    value: str
    message_type: type[Message] | None = attrs.field(
        default=None, eq=False, repr=False, kw_only=True
    )

    def __attrs_post_init__(self) -> None:
        if not self.path or any(_NAME.fullmatch(name) is None for name in self.path):
            raise QueryError(f"{'.'.join(self.path)!r} is not a field path such as okey.tk")
        if self.op not in OPERATORS:
            raise QueryError(f"unknown operator {self.op!r} (one of {' '.join(OPERATORS)})")
        if not isinstance(self.value, str) or _VALUE.fullmatch(self.value) is None:
            raise QueryError(
                f"{self.value!r} cannot be a where value (empty, or whitespace, &, |, ( or ))"
            )
        if self.op == "cb" and not _is_range(self.value):
            raise QueryError(f"cb takes low$high, not {self.value!r}")

    def __str__(self) -> str:
        return f"{'.'.join(self.path)}:{self.op}:{self.value}"


def _is_range(value: str) -> bool:
    low, dollar, high = value.partition("$")
    return bool(dollar and low and high and "$" not in high)


def _flatten(parts: Iterable[Node], kind: type[And | Or]) -> tuple[Node, ...]:
    # ``a & (b & c)`` and ``a & b & c`` are one And: flattening keeps the AST canonical, so
    # rendering and re-parsing always gives back an equal node.
    out: list[Node] = []
    for part in parts:
        out.extend(part.parts if isinstance(part, kind) else (part,))
    return tuple(out)


def _flatten_and(parts: Iterable[Node]) -> tuple[Node, ...]:
    return _flatten(parts, And)


def _flatten_or(parts: Iterable[Node]) -> tuple[Node, ...]:
    return _flatten(parts, Or)


def _check_parts(node: And | Or) -> None:
    if len(node.parts) < 2:
        raise QueryError(f"{type(node).__name__} needs at least two parts")
    for part in node.parts:
        if not isinstance(part, Comparison | And | Or):
            raise QueryError(f"{type(node).__name__} parts must be where nodes, not {part!r}")
    node.message_type  # noqa: B018 - raises when the parts were built for different classes


def _bound_type(parts: Iterable[Any]) -> type[Message] | None:
    found: type[Message] | None = None
    for part in parts:
        bound = part.message_type
        if bound is not None and found is not None and bound is not found:
            raise QueryError(f"cannot combine clauses of {found.MSG_NAME} and {bound.MSG_NAME}")
        found = found or bound
    return found


def _wrap(node: Node) -> str:
    return str(node) if isinstance(node, Comparison) else f"({node})"


@attrs.frozen
class And(_Clause):
    """Every part matches: ``a&b&c`` (nested Ands are flattened)."""

    parts: tuple[Node, ...] = attrs.field(converter=_flatten_and)

    def __attrs_post_init__(self) -> None:
        _check_parts(self)

    def __str__(self) -> str:
        return "&".join(_wrap(part) for part in self.parts)

    @property
    def message_type(self) -> type[Message] | None:
        """The class the builder parts were made for, if any."""
        return _bound_type(self.parts)


@attrs.frozen
class Or(_Clause):
    """Some part matches: ``a|b|c`` (nested Ors are flattened)."""

    parts: tuple[Node, ...] = attrs.field(converter=_flatten_or)

    def __attrs_post_init__(self) -> None:
        _check_parts(self)

    def __str__(self) -> str:
        return "|".join(_wrap(part) for part in self.parts)

    @property
    def message_type(self) -> type[Message] | None:
        """The class the builder parts were made for, if any."""
        return _bound_type(self.parts)


Node: TypeAlias = Comparison | And | Or


# ---- parsing -----------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over one where clause; errors carry the character position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, reason: str, position: int | None = None) -> QueryError:
        where = self.pos if position is None else position
        return QueryError(reason, text=self.text, position=where)

    def peek(self) -> str:
        match = _SPACE.match(self.text, self.pos)
        assert match is not None  # \s* always matches
        self.pos = match.end()
        return self.text[self.pos : self.pos + 1]

    def parse(self) -> Node:
        if not self.peek():
            raise self.error("empty where clause")
        node = self.any_of()
        char = self.peek()
        if char == ")":
            raise self.error("')' without a matching '('")
        if char:
            raise self.error(f"expected '&', '|' or the end, found {char!r}")
        return node

    def any_of(self) -> Node:
        parts = [self.all_of()]
        while self.peek() == "|":
            self.pos += 1
            parts.append(self.all_of())
        return parts[0] if len(parts) == 1 else Or(parts)

    def all_of(self) -> Node:
        parts = [self.atom()]
        while self.peek() == "&":
            self.pos += 1
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else And(parts)

    def atom(self) -> Node:
        if self.peek() != "(":
            return self.comparison()
        opened = self.pos
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"parentheses nested deeper than {_MAX_DEPTH}")
        self.pos += 1
        node = self.any_of()
        char = self.peek()
        if char != ")":
            if not char:
                raise self.error(f"'(' at position {opened} is never closed")
            raise self.error(f"expected '&', '|' or ')', found {char!r}")
        self.pos += 1
        self.depth -= 1
        return node

    def comparison(self) -> Comparison:
        text = self.text
        path: list[str] = []
        while True:
            name = _NAME.match(text, self.pos)
            if name is None:
                what = "a key part after '.'" if path else "a field name"
                found = repr(text[self.pos]) if self.pos < len(text) else "the end"
                raise self.error(f"expected {what}, found {found}")
            path.append(name.group())
            self.pos = name.end()
            if not text.startswith(".", self.pos):
                break
            self.pos += 1
        self.expect_colon(f"after the field name {'.'.join(path)!r}")
        op = _OP.match(text, self.pos)
        if op is None or op.group().lower() not in OPERATORS:
            found = repr(op.group()) if op else "nothing"
            raise self.error(f"expected an operator ({' '.join(OPERATORS)}), found {found}")
        self.pos = op.end()
        self.expect_colon(f"after the operator {op.group()!r}")
        value = _VALUE.match(text, self.pos)
        if value is None:
            raise self.error(f"missing value after {text[: self.pos].rsplit(None, 1)[-1]!r}")
        if op.group().lower() == "cb" and not _is_range(value.group()):
            raise self.error(f"cb takes low$high, not {value.group()!r}")
        self.pos = value.end()
        return Comparison(tuple(path), op.group(), value.group())

    def expect_colon(self, context: str) -> None:
        if not self.text.startswith(":", self.pos):
            raise self.error(f"expected ':' {context}")
        self.pos += 1


def parse_where(text: str) -> Node:
    """Parse a where clause (see the module docstring for the grammar).

    Raises:
        QueryError: malformed text; ``position`` is where the problem was found.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a where clause string, got {type(text).__name__}")
    return _Parser(text).parse()


# ---- resolving paths against a message class ---------------------------------------------------

_INT_TYPES = frozenset({"Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong"})
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
_VIEWS: dict[tuple[type[Message], tuple[str, ...]], tuple[str, ...]] = {}


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


def _unknown(cls: type[Message], name: str, known: Iterable[str], what: str) -> QueryError:
    close = difflib.get_close_matches(name, list(known), n=3)
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
    from .codec import values  # noqa: PLC0415

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
        from .codec.values import format_timespan  # noqa: PLC0415 - see _time_value

        return format_timespan(value)
    return str(value)


# ---- compiling where clauses ---------------------------------------------------------------


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


# ---- view --------------------------------------------------------------------------------------


def parse_view(text: str) -> tuple[str, ...]:
    """Field names from a view clause: ``okey|bidprice|askprice`` (or ``,`` / spaces).

    Raises:
        QueryError: empty, or a name that is not a field name.
    """
    names: list[str] = []
    for match in re.finditer(r"[^\s|,]+", text):
        if _NAME.fullmatch(match.group()) is None:
            reason = f"{match.group()!r} is not a field name"
            raise QueryError(reason, text=text, position=match.start())
        names.append(match.group())
    if not names:
        raise QueryError("empty view", text=text, position=0)
    return tuple(names)


def check_view(view: Iterable[str], cls: type[Message]) -> tuple[str, ...]:
    """The attribute names a view keeps in records of ``cls`` (the primary key always).

    Raises:
        QueryError: a name ``cls`` does not have (or a key part: views take whole fields).
    """
    return _view_attributes(cls, tuple(view))


def _view_attributes(cls: type[Message], names: tuple[str, ...]) -> tuple[str, ...]:
    found = _VIEWS.get((cls, names))
    if found is None:
        if len(_VIEWS) >= 1024:
            _VIEWS.clear()  # views come from clients: keep the cache bounded
        found = _VIEWS[cls, names] = _kept(cls, names)
    return found


def _kept(cls: type[Message], names: tuple[str, ...]) -> tuple[str, ...]:
    kept = {spec.name: None for spec in cls.SPEC.fields if spec.sr_type == "PKey"}
    for name in names:
        if "." in name:
            raise QueryError(f"view names whole fields, not {name!r}", message_type=cls.MSG_NAME)
        kept.setdefault(_resolve(cls, (name,)).attributes[0], None)
    return tuple(kept)


def apply_view(message: _M, view: Iterable[str]) -> _M:
    """A copy of ``message`` with only the view's fields (and the primary key) set.

    Raises:
        QueryError: a view name the message's class does not have.
    """
    kept = set(_view_attributes(type(message), tuple(view)))
    dropped = {spec.name: None for spec in message.SPEC.fields if spec.name not in kept}
    # Messages are attrs classes, though their base (Message) is not.
    return cast("_M", attrs.evolve(cast("Any", message), **dropped))


# ---- order -------------------------------------------------------------------------------------


@attrs.frozen
class OrderTerm:
    """One sort term: ``bidSize:DESC``, ``bidPrice:ASC:ABS`` (by absolute value)."""

    path: tuple[str, ...] = attrs.field(converter=_to_path)
    descending: bool = False
    absolute: bool = False
    message_type: type[Message] | None = attrs.field(
        default=None, eq=False, repr=False, kw_only=True
    )

    def __attrs_post_init__(self) -> None:
        if not self.path or any(_NAME.fullmatch(name) is None for name in self.path):
            raise QueryError(f"{'.'.join(self.path)!r} is not a field path such as okey.xx")

    def __str__(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        return f"{'.'.join(self.path)}:{direction}{':ABS' if self.absolute else ''}"

    def asc(self) -> OrderTerm:
        """This term, ascending."""
        return attrs.evolve(self, descending=False)

    def desc(self) -> OrderTerm:
        """This term, descending."""
        return attrs.evolve(self, descending=True)

    def abs(self) -> OrderTerm:
        """This term, by absolute value."""
        return attrs.evolve(self, absolute=True)


def parse_order(text: str) -> tuple[OrderTerm, ...]:
    """Sort terms from an order clause: ``bidsize:DESC|bidprice:ASC:ABS`` (``,`` works too).

    A term is a field path and optional ``:ASC`` / ``:DESC`` (default ASC) and ``:ABS``, any
    case. Raises :class:`~srmlink.errors.QueryError` with the position of the problem.
    """
    terms: list[OrderTerm] = []
    for match in re.finditer(r"[^|,]+", text):
        term, start = match.group(), match.start()
        stripped = term.strip()
        if not stripped:
            continue
        start += len(term) - len(term.lstrip())
        path, *modifiers = stripped.split(":")
        if not path or any(_NAME.fullmatch(name) is None for name in path.split(".")):
            raise QueryError(f"{path!r} is not a field path", text=text, position=start)
        seen: dict[str, str] = {}
        offset = start + len(path) + 1
        for modifier in modifiers:
            word = modifier.upper()
            slot = "abs" if word == "ABS" else "direction"
            if word not in ("ASC", "DESC", "ABS") or slot in seen:
                reason = f"expected ASC, DESC or ABS (each once), found {modifier!r}"
                raise QueryError(reason, text=text, position=offset)
            seen[slot] = word
            offset += len(modifier) + 1
        terms.append(OrderTerm(path, seen.get("direction") == "DESC", "abs" in seen))
    if not terms:
        raise QueryError("empty order", text=text, position=0)
    return tuple(terms)


class _SortKey:
    """Orders records term by term; None (and NaN) last whichever the direction."""

    __slots__ = ("descending", "values")

    def __init__(self, values: tuple[Any, ...], descending: tuple[bool, ...]) -> None:
        self.values = values
        self.descending = descending

    def __lt__(self, other: _SortKey) -> bool:
        for descending, mine, theirs in zip(
            self.descending, self.values, other.values, strict=True
        ):
            if mine is None or theirs is None:
                if mine is None and theirs is None:
                    continue
                return theirs is None
            if mine == theirs:
                continue
            return bool(theirs < mine) if descending else bool(mine < theirs)
        return False

    def __repr__(self) -> str:
        return f"_SortKey({self.values!r})"


def _sort_value(target: _Target, absolute: bool) -> Callable[[Message], Any]:
    def value(record: Message) -> Any:
        found = target.get(record)
        if found is None or (isinstance(found, float) and math.isnan(found)):
            return None
        if isinstance(found, SREnum):
            # By number, like where's ordering; a JSON-only value (no number) after the others.
            return (found.number is None, found.number or 0, found.wire_name or "")
        return abs(found) if absolute else found

    return value


def sort_key(order: Iterable[OrderTerm], cls: type[Message]) -> Callable[[Message], _SortKey]:
    """A ``key=`` for :meth:`list.sort` / :func:`sorted` over records of ``cls``.

    Terms may mix directions; unset (None) values sort last in either direction.

    Raises:
        QueryError: a path ``cls`` does not have, ABS on a non-numeric field, or a repeated
            group.
    """
    readers: list[Callable[[Message], Any]] = []
    descending: list[bool] = []
    for term in order:
        target = _resolve(cls, term.path)
        if target.kind == "repeater" or (term.absolute and target.kind not in _SIGNED):
            what = "sort by" if target.kind == "repeater" else "take ABS of"
            reason = f"cannot {what} {target.label} ({target.sr_type})"
            raise QueryError(reason, message_type=cls.MSG_NAME)
        readers.append(_sort_value(target, term.absolute))
        descending.append(term.descending)
    flags = tuple(descending)
    return lambda record: _SortKey(tuple(read(record) for read in readers), flags)


_SIGNED = frozenset({"number", "timespan"})


# ---- typed builders ----------------------------------------------------------------------------


class Fields:
    """``SomeMessage.fields``: one :class:`FieldRef` per field, by Python attribute name.

    ``OptionNbboQuote.fields.bid_size >= 10`` or ``OptionNbboQuote.fields.okey.tk == "AAPL"``
    (primary-key parts are fields too). A name the class lacks raises AttributeError at once.
    """

    __slots__ = ("_cls",)

    def __init__(self, cls: type[Message]) -> None:
        self._cls = cls

    def __getattr__(self, name: str) -> FieldRef:
        if name.startswith("_"):
            raise AttributeError(name)
        cls = self._cls
        try:
            wire = _namespace(cls).by_python.get(name)
        except AttributeError:  # Message itself, or any class without a SPEC
            raise AttributeError(f"{cls.__name__} has no field table") from None
        if wire is None:
            known = _namespace(cls).by_python
            close = difflib.get_close_matches(name, list(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise AttributeError(f"{cls.MSG_NAME} has no field {name!r}{hint}")
        return FieldRef(cls, _resolve(cls, (wire,)))

    def __dir__(self) -> list[str]:
        return sorted(_namespace(self._cls).by_python)

    def __repr__(self) -> str:
        return f"<fields of {self._cls.__name__}>"


class FieldRef:
    """A field (or key part) of one message class, to build clauses with.

    Comparisons (``== != < <= > >=``) and :meth:`startswith`, :meth:`endswith`,
    :meth:`contains`, :meth:`not_contains`, :meth:`between` give where nodes; :meth:`asc`,
    :meth:`desc`, :meth:`abs` give order terms; ``str()`` is the wire path (``okey.tk``). Values
    are checked against the field's type as the clause is built (QueryError).
    """

    __slots__ = ("_target", "message_type")

    # ``==`` builds a clause rather than answering True / False, so a FieldRef has no hash.
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, message_type: type[Message], target: _Target) -> None:
        self.message_type = message_type
        self._target = target

    @property
    def path(self) -> tuple[str, ...]:
        """The wire path: ``("bidSize",)``, ``("okey", "tk")``."""
        return tuple(self._target.label.split("."))

    def __getattr__(self, name: str) -> FieldRef:
        if name.startswith("_"):
            raise AttributeError(name)
        part = _PART_BY_ATTRIBUTE.get(name, name.lower())
        try:
            return FieldRef(self.message_type, _resolve(self.message_type, (*self.path, part)))
        except QueryError as exc:
            raise AttributeError(exc.args[0]) from None

    def __str__(self) -> str:
        return self._target.label

    def __repr__(self) -> str:
        return f"<{self.message_type.__name__}.fields {self._target.label}>"

    def _compare(self, op: str, *values: object) -> Comparison:
        target = self._target
        texts = []
        for value in values:
            text = _render(value, target)
            if op not in _TEXT_OPS:
                target.coerce(text)  # fail now, not on the server
            texts.append(text)
        if target.kind == "repeater":
            reason = f"{target.label} is a repeated group; where cannot test it"
            raise QueryError(reason, message_type=target.message_type)
        return Comparison(self.path, op, "$".join(texts), message_type=self.message_type)

    def __eq__(self, value: object) -> Comparison:  # type: ignore[override]
        return self._compare("eq", value)

    def __ne__(self, value: object) -> Comparison:  # type: ignore[override]
        return self._compare("ne", value)

    def __gt__(self, value: object) -> Comparison:
        return self._compare("gt", value)

    def __ge__(self, value: object) -> Comparison:
        return self._compare("ge", value)

    def __lt__(self, value: object) -> Comparison:
        return self._compare("lt", value)

    def __le__(self, value: object) -> Comparison:
        return self._compare("le", value)

    def startswith(self, text: str) -> Comparison:
        """``sw``: the text form starts with ``text`` (any case)."""
        return self._compare("sw", text)

    def endswith(self, text: str) -> Comparison:
        """``ew``: the text form ends with ``text`` (any case)."""
        return self._compare("ew", text)

    def contains(self, text: str) -> Comparison:
        """``cv``: the text form contains ``text`` (any case)."""
        return self._compare("cv", text)

    def not_contains(self, text: str) -> Comparison:
        """``nv``: the text form does not contain ``text`` (any case)."""
        return self._compare("nv", text)

    def between(self, low: object, high: object) -> Comparison:
        """``cb``: ``low <= field <= high``."""
        return self._compare("cb", low, high)

    def _term(self, descending: bool, absolute: bool) -> OrderTerm:
        if self._target.kind == "repeater" or (absolute and self._target.kind not in _SIGNED):
            what = "take ABS of" if absolute else "sort by"
            reason = f"cannot {what} {self._target.label} ({self._target.sr_type})"
            raise QueryError(reason, message_type=self._target.message_type)
        return OrderTerm(self.path, descending, absolute, message_type=self.message_type)

    def asc(self) -> OrderTerm:
        """Sort ascending by this field."""
        return self._term(False, False)

    def desc(self) -> OrderTerm:
        """Sort descending by this field."""
        return self._term(True, False)

    def abs(self) -> OrderTerm:
        """Sort ascending by this field's absolute value (``.abs().desc()`` for descending)."""
        return self._term(False, True)


def _render(value: object, target: _Target) -> str:
    """A Python value as clause text for ``target``; QueryError for a value of the wrong type."""
    accepted = (str, int, float, SREnum, CallPut, _dt.date, _dt.timedelta)
    wrong_enum = (
        target.kind == "enum"
        and isinstance(value, SREnum)
        and target.type is not None
        and not isinstance(value, target.type)
    )
    keys = (TickerKey, ExpiryKey, OptionKey)
    if isinstance(value, bool) or not isinstance(value, accepted + keys) or wrong_enum:
        reason = f"{value!r} ({type(value).__name__}) is not a value for {target.label}"
        raise QueryError(reason, message_type=target.message_type)
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"{value!r} is not a finite number", message_type=target.message_type)
    return _text_of(value)


@attrs.frozen
class View:
    """A view clause: ``str()`` gives ``okey|bidPrice|askPrice``."""

    names: tuple[str, ...]
    message_type: type[Message] | None = attrs.field(
        default=None, eq=False, repr=False, kw_only=True
    )

    def __str__(self) -> str:
        return "|".join(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)


def view(*fields: FieldRef | str) -> View:
    """A view of whole fields (``view(Q.fields.okey, Q.fields.bid_price)``; names work too).

    Raises:
        QueryError: no fields, a key part, or fields of different message classes.
    """
    if not fields:
        raise QueryError("a view needs at least one field")
    for field in fields:
        if "." in str(field):
            raise QueryError(f"view names whole fields, not {str(field)!r}")
    bound = _bound_type(f for f in fields if isinstance(f, FieldRef))
    return View(tuple(str(f) for f in fields), message_type=bound)


@attrs.frozen
class Order:
    """An order clause: ``str()`` gives ``bidSize:DESC|bidPrice:ASC:ABS``; iterates its terms."""

    terms: tuple[OrderTerm, ...]

    def __attrs_post_init__(self) -> None:
        if not self.terms:
            raise QueryError("an order needs at least one term")
        self.message_type  # noqa: B018 - raises when terms come from different classes

    def __str__(self) -> str:
        return "|".join(str(term) for term in self.terms)

    def __iter__(self) -> Iterator[OrderTerm]:
        return iter(self.terms)

    @property
    def message_type(self) -> type[Message] | None:
        """The class the builder terms were made for, if any."""
        return _bound_type(self.terms)


def order_by(*terms: OrderTerm | FieldRef) -> Order:
    """An order clause from terms (a bare field sorts ascending)."""
    return Order(tuple(t.asc() if isinstance(t, FieldRef) else t for t in terms))
