"""Typed handles of one subscription: what ``subscribe(OptionNbboQuote)`` returns.

Iterating a handle yields ``Record[OptionNbboQuote]`` (``record.message`` is an
``OptionNbboQuote`` for mypy and the IDE, checked at run time) and ends when the server ends
the subscription (or, for a query, when its snapshot is complete). MLink records carry no
query id, so a handle's records are the stream's records of its message type; events that
are not its own are consumed and skipped (the cache still applies them): iterate the stream
itself to handle several message types in one loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from ..errors import MLinkStreamError
from ..message import Message
from .events import CheckPoint, Event, Record, StreamAck

if TYPE_CHECKING:
    from .client import AsyncMLinkStream
    from .sync import MLinkStream

__all__ = ["AsyncSubscription", "Subscription"]

M = TypeVar("M", bound=Message)
_ENDED = frozenset({"Terminated", "Error"})


class _Filter(Generic[M]):
    """Which stream events belong to one subscription; I/O-free, shared by both handles."""

    def __init__(self, query_id: int, msgtype: type[M], live: bool, connections: int) -> None:
        self.query_id = query_id
        self.msgtype = msgtype
        self.live = live
        self.done = False
        self._ends_left = connections  # each connection of a striped stream ends it once
        self._begun = live  # a query's records are those after its Begin

    def take(self, event: Event) -> Record[M] | None:
        """``event`` as one of this subscription's records, or None (also at its end)."""
        if isinstance(event, Record):
            if self._begun and isinstance(event.message, self.msgtype):
                return cast("Record[M]", event)
        elif isinstance(event, StreamAck) and event.query_id == self.query_id and not event.ok:
            raise MLinkStreamError(
                f"{self.msgtype.MSG_NAME} subscription {self.query_id} refused: "
                f"{event.result} {event.detail or ''}".rstrip()
            )
        elif isinstance(event, CheckPoint) and event.query_id == self.query_id:
            self._begun = self._begun or event.state == "Begin"
            if event.state in _ENDED or (event.state == "Complete" and not self.live):
                self._ends_left -= 1
                self.done = self._ends_left <= 0
        return None


class _Handle(Generic[M]):
    """What both handles hold: the query id, the message class and whether it is live."""

    def __init__(self, query_id: int, msgtype: type[M], live: bool) -> None:
        self.query_id = query_id
        self.msgtype = msgtype
        self.live = live

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.msgtype.MSG_NAME}, query_id={self.query_id})"

    def _filter(self, connections: int) -> _Filter[M]:
        return _Filter(self.query_id, self.msgtype, self.live, connections)


class AsyncSubscription(_Handle[M]):
    """One subscription of an :class:`~srmlink.stream.AsyncMLinkStream`.

    >>> quotes = await stream.subscribe(OptionNbboQuote)
    >>> async for record in quotes:
    ...     print(record.message.bid_price)  # an OptionNbboQuote, no isinstance needed
    """

    def __init__(
        self, stream: AsyncMLinkStream, query_id: int, msgtype: type[M], live: bool
    ) -> None:
        super().__init__(query_id, msgtype, live)
        self.stream = stream

    def __aiter__(self) -> AsyncIterator[Record[M]]:
        return self._records()

    async def _records(self) -> AsyncIterator[Record[M]]:
        keep = self._filter(self.stream.connections)
        while not keep.done:
            try:
                event = await self.stream.next_event()
            except StopAsyncIteration:
                return
            record = keep.take(event)
            if record is not None:
                yield record

    async def unsubscribe(self) -> None:
        """End this subscription on the server."""
        await self.stream.unsubscribe(self.query_id)


class Subscription(_Handle[M]):
    """One subscription of an :class:`~srmlink.stream.MLinkStream` (the sync twin).

    >>> for record in stream.subscribe(OptionNbboQuote):
    ...     print(record.message.bid_price)  # an OptionNbboQuote
    """

    def __init__(self, stream: MLinkStream, query_id: int, msgtype: type[M], live: bool) -> None:
        super().__init__(query_id, msgtype, live)
        self.stream = stream

    def __iter__(self) -> Iterator[Record[M]]:
        keep = self._filter(self.stream.connections)
        while not keep.done:
            try:
                event = self.stream.next_event()
            except StopIteration:
                return
            record = keep.take(event)
            if record is not None:
                yield record

    def unsubscribe(self) -> None:
        """End this subscription on the server."""
        self.stream.unsubscribe(self.query_id)
