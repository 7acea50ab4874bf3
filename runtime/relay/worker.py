"""A relay worker: one MLink stream over its share of the stripes into a :class:`Sink`.

Records are read in batches (up to ``batch_size``, or whatever came within
``flush_interval``) and published; while the sink fails the worker keeps reading into a
bounded :class:`Buffer` and retries with exponential backoff, so a Redis outage is ridden
out and reported, and what had to be shed is counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from attrs import field, frozen

from ..errors import MLinkStreamError
from ..message import Message
from ..registry import Registry
from ..stream.client import AsyncMLinkStream, Scheme
from ..stream.events import Reconnected, Record, StreamAck
from .sink import Buffer, RelayEncoding, Sink, SinkError, entry_of

__all__ = ["WorkerConfig", "WorkerStats", "run_worker"]

log = logging.getLogger("srmlink.relay")


@frozen
class WorkerConfig:
    """What one worker relays and how (no secrets: the API key comes from the environment,
    ``SRMLINK_API_KEY``, and the Redis URL, which may hold a password, is not shown)."""

    msgtype: str
    stripes: tuple[str, ...]
    redis_url: str = field(repr=False)
    host: str | None = None
    scheme: Scheme | None = None
    where: str | None = None
    view: str | None = None
    encoding: RelayEncoding = "proto"
    batch_size: int = 1_000
    flush_interval: float = 0.05
    max_buffer: int = 100_000
    maxlen: int = 1_000_000
    backoff: float = 0.1
    max_backoff: float = 5.0


@frozen
class WorkerStats:
    """What a worker did: stream entries published, shed, and failed publishes."""

    published: int
    shed: int
    failures: int


class _Publisher:
    """Drains a buffer into a sink, backing off while it fails (one per worker)."""

    def __init__(self, sink: Sink, config: WorkerConfig) -> None:
        self.sink, self.config = sink, config
        self.buffer = Buffer(config.max_buffer)
        self.published = self.failures = 0
        self._delay = config.backoff
        self._retry_at = 0.0
        self._down = False

    async def drain(self) -> None:
        while self.buffer and time.monotonic() >= self._retry_at:
            batch = self.buffer.batch(self.config.batch_size)
            try:
                await self.sink.publish(batch)
            except SinkError as exc:
                self.failures += 1
                if not self._down:
                    log.warning("%s; buffering and retrying", exc)
                self._down = True
                self._retry_at = time.monotonic() + self._delay
                self._delay = min(self._delay * 2, self.config.max_backoff)
                return
            self.buffer.done(batch)
            self.published += len(batch.entries)
            self._delay = self.config.backoff
            if self._down:
                self._down = False
                log.warning(
                    "publishing again; %d stream entries shed in all", self.buffer.shed_total
                )

    def stats(self) -> WorkerStats:
        return WorkerStats(self.published, self.buffer.shed_total, self.failures)


async def run_worker(
    config: WorkerConfig,
    sink: Sink,
    *,
    api_key: str | None = None,
    registry: Registry | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> WorkerStats:
    """Relay ``config.msgtype`` over ``config.stripes`` into ``sink`` until ``stop()`` is
    true or the stream ends; returns what was done.

    Raises:
        MLinkStreamError: the server refused the subscription.
        MLinkTransportError / AuthError: the MLink session failed for good.
    """
    stream = AsyncMLinkStream(
        api_key,
        host=config.host,
        scheme=config.scheme,
        encoding=config.encoding,
        registry=registry,
        stripes=list(config.stripes) if config.stripes else False,
    )
    publisher = _Publisher(sink, config)
    async with stream:
        cls = stream.registry.by_name(config.msgtype)
        await stream.subscribe(cls, where=config.where, view=config.view)
        while not stop():
            if not await _read(stream, cls, publisher.buffer, config):
                break
            await publisher.drain()
    await publisher.drain()
    return publisher.stats()


async def _read(
    stream: AsyncMLinkStream, cls: type[Message], buffer: Buffer, config: WorkerConfig
) -> bool:
    """Read into ``buffer`` for up to ``flush_interval`` or ``batch_size`` records; False
    when the stream has ended."""
    deadline = time.monotonic() + config.flush_interval
    wanted = len(buffer.entries) + config.batch_size
    while len(buffer.entries) < wanted:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        try:
            event = await stream.next_event(timeout=remaining)
        except TimeoutError:
            return True
        except StopAsyncIteration:
            return False
        if isinstance(event, Record) and isinstance(event.message, cls):
            buffer.add(entry_of(event.message, config.encoding, deleted=event.deleted))
        elif isinstance(event, StreamAck) and not event.ok:
            raise MLinkStreamError(
                f"{config.msgtype} subscription refused: {event.result} {event.detail or ''}"
            )
        elif isinstance(event, Reconnected):
            log.warning("MLink connection %s resumed: %s", event.stripe or "", event.reason)
    return True


def worker_main(config: WorkerConfig) -> None:
    """A worker process's entry point (picklable for multiprocessing's spawn)."""
    from .redis_sink import RedisSink  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def main() -> None:
        sink = RedisSink(config.redis_url, maxlen=config.maxlen)
        try:
            await run_worker(config, sink)
        finally:
            await sink.close()

    asyncio.run(main())
