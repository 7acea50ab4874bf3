"""The where clause's grammar: its AST and its parser.

:class:`Comparison` (``path:op:value``), :class:`And` and :class:`Or` make up a where clause
(:data:`Node`); ``str(node)`` writes one back in canonical form and :func:`parse_where` reads
it, so ``parse_where(str(node)) == node``. The grammar itself is in :mod:`srmlink.query`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeAlias, cast

import attrs

from ..errors import QueryError
from ..message import Message

__all__ = ["OPERATORS", "And", "Comparison", "Node", "Or", "parse_where"]

OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le", "sw", "ew", "cv", "nv", "cb")
_TEXT_OPS = frozenset({"sw", "ew", "cv", "nv"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OP = re.compile(r"[A-Za-z]+")
_VALUE = re.compile(r"[^\s&|()]+")
_SPACE = re.compile(r"\s*")
# Deep enough for any real clause; stops a hostile one from exhausting the server's stack.
_MAX_DEPTH = 64


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
    """Parse a where clause (see :mod:`srmlink.query` for the grammar).

    Raises:
        QueryError: malformed text; ``position`` is where the problem was found.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a where clause string, got {type(text).__name__}")
    return _Parser(text).parse()
