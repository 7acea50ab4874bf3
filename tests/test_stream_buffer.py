"""The stream's event buffer: a frame's events in one step, in order, the consumer woken once,
and the reader held at the limit until the consumer has taken enough."""

from __future__ import annotations

import asyncio

import pytest

from srmlink.stream.buffer import EventBuffer, Failure
from srmlink.stream.events import Reconnected


def events(*attempts: int) -> list[Reconnected]:
    return [Reconnected(n, "test") for n in attempts]


def test_items_come_out_in_order_across_puts() -> None:
    buffer = EventBuffer(100)
    buffer.put_nowait(events(1, 2))
    buffer.put_nowait(events(3))
    taken = [buffer.get_nowait() for _ in range(len(buffer))]
    assert taken == events(1, 2, 3)
    with pytest.raises(IndexError):
        buffer.get_nowait()


def test_a_waiting_consumer_is_woken_by_a_put_and_not_before() -> None:
    async def run() -> None:
        buffer = EventBuffer(100)
        waiter = buffer.wait()
        buffer.put_nowait([])  # nothing to take: still waiting
        assert not waiter.done()
        failure = Failure(RuntimeError("x"))
        buffer.put_nowait([failure])
        await asyncio.wait_for(waiter, 5)
        assert buffer.get_nowait() is failure
        buffer.put_nowait(events(1))
        assert buffer.wait().done()  # an item is there: done at once

    asyncio.run(run())


def test_put_holds_the_reader_at_the_limit_until_the_consumer_takes_enough() -> None:
    async def run() -> None:
        buffer = EventBuffer(3)
        await asyncio.wait_for(buffer.put(events(1, 2)), 5)  # under the limit: returns
        reader = asyncio.ensure_future(buffer.put(events(3, 4, 5)))  # a whole frame goes in
        await asyncio.sleep(0)
        assert len(buffer) == 5 and not reader.done()
        buffer.get_nowait()
        buffer.get_nowait()
        await asyncio.sleep(0)
        assert not reader.done()  # 3 still waiting: at the limit
        buffer.get_nowait()
        await asyncio.wait_for(reader, 5)
        assert [buffer.get_nowait() for _ in range(len(buffer))] == events(4, 5)

    asyncio.run(run())
