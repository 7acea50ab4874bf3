"""View and order clauses: which fields records keep, and how records sort.

:func:`parse_view`, :func:`check_view` and :func:`apply_view` for views (``okey|bidPrice``);
:class:`OrderTerm`, :func:`parse_order` and :func:`sort_key` for orders
(``bidSize:DESC|bidPrice:ASC:ABS``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

import attrs

from ..enums import SREnum
from ..errors import QueryError
from ..message import Message
from .grammar import _NAME, _to_path
from .resolve import _resolve, _Target

__all__ = ["OrderTerm", "apply_view", "check_view", "parse_order", "parse_view", "sort_key"]


_M = TypeVar("_M", bound=Message)

# Per-class cache (a plain dict: mypy will not take a class as functools.cache's Hashable).
_VIEWS: dict[tuple[type[Message], tuple[str, ...]], tuple[str, ...]] = {}


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
