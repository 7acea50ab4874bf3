"""What one WebSocket connection has subscribed to: the server-side subscription record and
how streams are told apart and narrowed to a stripe (used by :mod:`.session`)."""

from __future__ import annotations

from collections.abc import Callable

from attrs import define, field

from ..message import Message
from ..stripes import check_stripe, in_stripe
from .store import Deleted

__all__ = ["WAIT_SIGNAL", "Sub", "stream_ident", "striped"]

#: A subscription's latency when it waits for MLinkSignalReady.
WAIT_SIGNAL = None


@define
class Sub:
    """One server-side subscription (a stream, a 2023 query, or a set of subscribed keys).

    ``ident`` tells streams apart (queryID, else queryLabel); ``latency``: None waits for
    SignalReady, 0 sends at once, N every N ms.
    """

    kind: str  # "stream", "query" or "subscribe"
    query_id: int | None
    label: str | None
    cls: type[Message]
    matches: Callable[[Message], bool]
    view: tuple[str, ...] | None
    latency: int | None
    ident: object = None
    keys: set[str] = field(factory=set)
    pending: dict[str, Message | Deleted] = field(factory=dict)
    armed: bool = False
    signal_id: int | None = None
    last_flush: float = 0.0


def stream_ident(query_id: object, label: object) -> tuple[str, object]:
    """What tells one MLinkStream from another: its queryID, else its queryLabel."""
    return ("id", query_id) if query_id else ("label", label or None)


def striped(matches: Callable[[Message], bool], stripe: object) -> Callable[[Message], bool]:
    """``matches`` narrowed to one stripe (QueryError for an unknown stripe code)."""
    if not stripe or not str(stripe).strip():
        return matches
    code = check_stripe(str(stripe))
    return lambda record: matches(record) and in_stripe(record, code)
