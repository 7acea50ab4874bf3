"""MLink's where / view / order clauses: one grammar for the client and the local server.

- :func:`parse_where` reads a where clause into an AST (:class:`Comparison`, :class:`And`,
  :class:`Or`); ``str(node)`` writes it back in canonical form, and
  ``parse_where(str(node)) == node``. :func:`compile_where` turns an AST into a predicate over
  the records of one message class (what the local server evaluates).
- :func:`parse_view`, :func:`check_view`, :func:`apply_view`; :func:`parse_order`,
  :func:`sort_key`; :func:`field_getter` reads one path from records.
- Typed builders: ``OptionNbboQuote.fields.bid_size >= 10`` builds the same AST, checked against
  the class as it is built, and renders with wire names (``bidSize:ge:10``).

The modules: ``grammar`` (the where AST and its parser), ``resolve`` (wire paths resolved
against a message class, values read by field type, :func:`compile_where`), ``views`` (view
and order clauses) and ``builders`` (the typed builders). Import from ``srmlink.query``.

The where grammar. SpiderRock documents the operators, ``&`` / ``|``, parentheses and dotted
key parts (``okey.tk:eq:AAPL``); the rest is this package's reading, chosen to be strict::

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

from .builders import FieldRef, Fields, Order, View, order_by, view
from .grammar import OPERATORS, And, Comparison, Node, Or, parse_where
from .resolve import compile_where, field_getter
from .views import OrderTerm, apply_view, check_view, parse_order, parse_view, sort_key

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
