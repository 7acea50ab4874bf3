"""Checking a where / view / order clause before it is sent, for REST and WebSocket alike.

Kept apart from :mod:`srmlink.query` (which builds and evaluates clauses) so that clients
sending plain strings do not import the grammar.
"""

from __future__ import annotations

from .message import Message

__all__ = ["clause_text"]


def clause_text(clause: object, what: str, msgtype: str | type[Message]) -> str:
    """The wire text of a where / view / order clause sent with ``msgtype``.

    ``msgtype`` is a class, or a name (any case) or number as MLink requests carry it.

    Raises:
        ValueError: the clause is empty, or was built from another message type's fields.
    """
    bound = getattr(clause, "message_type", None)
    if isinstance(bound, type) and issubclass(bound, Message):
        if isinstance(msgtype, str):
            wanted = msgtype.strip().lower()
            same = wanted in (bound.MSG_NAME.lower(), str(bound.MSG_NUM))
        else:
            same = bound is msgtype
        if not same:
            name = msgtype.strip() if isinstance(msgtype, str) else msgtype.MSG_NAME
            raise ValueError(f"{what} was built for {bound.MSG_NAME}, not {name}")
    text = str(clause).strip()
    if not text:
        raise ValueError(f"{what} must not be empty")
    return text
