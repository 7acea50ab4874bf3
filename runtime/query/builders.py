"""Typed builders: where, view and order clauses from a message class's fields.

``OptionNbboQuote.fields.bid_size >= 10`` builds the same AST :func:`~srmlink.query.parse_where`
reads, checked against the class as it is built, and renders with wire names (``bidSize:ge:10``);
:func:`view` and :func:`order_by` build view and order clauses the same way.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterator

import attrs

from ..enums import SREnum
from ..errors import QueryError
from ..keys import CallPut, ExpiryKey, OptionKey, TickerKey
from ..message import Message
from .grammar import _TEXT_OPS, Comparison, _bound_type
from .resolve import _PART_BY_ATTRIBUTE, _close_matches, _namespace, _resolve, _Target, _text_of
from .views import _SIGNED, OrderTerm

__all__ = ["FieldRef", "Fields", "Order", "View", "order_by", "view"]


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
            close = _close_matches(name, known)
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
