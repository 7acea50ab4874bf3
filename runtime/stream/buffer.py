"""The events a stream's connections have received and its consumer not yet taken.

Connections add every event of a WebSocket frame at once and the consumer takes them one by
one without a task switch or an ``await`` each (the per-record path of a busy stream); an
``asyncio.Queue`` costs a coroutine per put, and once full a task switch per event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from .events import Event

__all__ = ["EventBuffer", "Failure"]


class Failure:
    """Carries an exception from a reader task to the consumer, in order."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class EventBuffer:
    """A FIFO of events with one waiting consumer and back-pressure on the writers.

    ``limit``: once this many events wait, :meth:`put` returns only after the consumer has
    taken enough of them (a connection then stops reading its socket, so the server slows
    down and coalesces). A frame's events go in whole, so the buffer may hold more.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[Event | Failure] = deque()
        self._waiter: asyncio.Future[None] | None = None  # the consumer's
        self._room: asyncio.Event | None = None  # set while under the limit

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, items: Iterable[Event | Failure]) -> None:
        """Add ``items`` (in order) and wake the consumer; never waits."""
        self._items.extend(items)
        waiter = self._waiter
        if waiter is not None and self._items:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def put(self, items: Iterable[Event | Failure]) -> None:
        """Add ``items``; then wait while the buffer is at its limit."""
        self.put_nowait(items)
        while len(self._items) >= self.limit:
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            await self._room.wait()

    def get_nowait(self) -> Event | Failure:
        """The oldest item (IndexError when empty)."""
        item = self._items.popleft()
        room = self._room
        if room is not None and len(self._items) < self.limit:
            room.set()
        return item

    def wait(self) -> asyncio.Future[None]:
        """A future done once an item is there (at once if one is)."""
        waiter = asyncio.get_running_loop().create_future()
        if self._items:
            waiter.set_result(None)
        else:
            self._waiter = waiter
        return waiter
