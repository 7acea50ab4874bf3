"""A relay worker: one MLink stream over its share of the stripes into a :class:`Sink`.

Records are read in batches (up to ``batch_size``, or whatever came within
``flush_interval``) and published; while the sink fails the worker keeps reading into a
bounded :class:`Buffer` and retries with exponential backoff, so a Redis outage is ridden
out and reported, and what had to be shed is counted.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from attrs import field, frozen

from ..codec import decode
from ..errors import DecodeError, MLinkStreamError, MLinkTransportError, SRMLinkError
from ..message import Message
from ..registry import Registry
from ..stream.client import AsyncMLinkStream, Scheme
from ..stream.events import CheckPoint, Reconnected, Record, StreamAck
from ..stripes import in_stripe
from .sink import Batch, Buffer, RelayEncoding, Sink, SinkError, SinkResetError, entry_of

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
    check_interval: float = 1.0


@frozen
class WorkerStats:
    """What a worker did: stream entries published, shed, and failed publishes."""

    published: int
    shed: int
    failures: int


class _Relay:
    """One worker's state: the buffer, the primary keys it holds, and the sink's health."""

    def __init__(self, sink: Sink, config: WorkerConfig, cls: type[Message]) -> None:
        self.sink, self.config, self.cls = sink, config, cls
        self.buffer = Buffer(config.max_buffer)
        self.published = self.failures = 0
        # Keys of this worker's stripes the server holds now (seen since start, not deleted):
        # once every connection's image is complete, any other key of these stripes in the
        # last-value cache is stale (deleted while no worker was relaying it) and is pruned.
        self.held: set[str] = set()
        self.completes = 0
        self.prune_due = False
        self._delay = config.backoff
        self._retry_at = 0.0
        self._checked = time.monotonic()
        self._down = False

    def take(self, message: Message, *, deleted: bool = False) -> None:
        entry = entry_of(message, self.config.encoding, deleted=deleted)
        self.buffer.add(entry)
        if deleted:
            self.held.discard(entry.pkey)
        else:
            self.held.add(entry.pkey)

    def complete(self, connections: int) -> None:
        self.completes += 1
        self.prune_due = self.completes == connections  # the first full image, once

    def stale(self, pkey: str, frame: bytes) -> bool:
        if pkey in self.held:
            return False
        if not self.config.stripes:
            return True
        try:
            message = decode(frame, "proto")[0]
        except DecodeError as exc:
            log.warning("cannot tell the stripe of cached key %s: %s", pkey, exc)
            return False
        return isinstance(message, Message) and any(
            in_stripe(message, code) for code in self.config.stripes
        )

    async def drain(self) -> None:
        """Publish what is buffered, then prune when due, then (idle for ``check_interval``)
        an empty batch, which lets the sink notice it lost its data; unless backing off."""
        while time.monotonic() >= self._retry_at:
            try:
                if self.buffer:
                    batch = self.buffer.batch(self.config.batch_size)
                    await self.sink.publish(batch)
                    self.buffer.done(batch)
                    self.published += len(batch.entries)
                elif self.prune_due:
                    pruned = await self.sink.prune(self.cls.MSG_NAME, self.stale)
                    self.prune_due = False
                    if pruned:
                        log.warning("pruned %d stale keys from the last-value cache", pruned)
                elif time.monotonic() - self._checked >= self.config.check_interval:
                    await self.sink.publish(Batch((), (), 0))
                else:
                    return
            except SinkError as exc:
                self.failures += 1
                if not self._down:
                    log.warning("%s; buffering and retrying", exc)
                self._down = True
                self._retry_at = time.monotonic() + self._delay
                self._delay = min(self._delay * 2, self.config.max_backoff)
                return
            self._checked = time.monotonic()
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
        SinkResetError: the sink lost what was published (start over for a full image).
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
    async with stream:
        relay = _Relay(sink, config, stream.registry.by_name(config.msgtype))
        subscription = await stream.subscribe(relay.cls, where=config.where, view=config.view)
        while not stop():
            if not await _read(stream, subscription.query_id, relay):
                break
            await relay.drain()
    await relay.drain()
    if relay.buffer:
        log.warning("stopped with %d entries not published (the sink is down)", len(relay.buffer))
    return relay.stats()


async def _read(stream: AsyncMLinkStream, query_id: int, relay: _Relay) -> bool:
    """Read into the relay's buffer for up to ``flush_interval`` or ``batch_size`` records;
    False when the stream has ended."""
    config = relay.config
    deadline = time.monotonic() + config.flush_interval
    wanted = len(relay.buffer.entries) + config.batch_size
    while len(relay.buffer.entries) < wanted:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        try:
            event = await stream.next_event(timeout=remaining)
        except TimeoutError:
            return True
        except StopAsyncIteration:
            return False
        if isinstance(event, Record) and isinstance(event.message, relay.cls):
            relay.take(event.message, deleted=event.deleted)
        elif isinstance(event, CheckPoint) and event.query_id == query_id:
            if event.state == "Complete":
                relay.complete(stream.connections)
        elif isinstance(event, StreamAck) and not event.ok:
            raise MLinkStreamError(
                f"{config.msgtype} subscription refused: {event.result} {event.detail or ''}"
            )
        elif isinstance(event, Reconnected):
            log.warning("MLink connection %s resumed: %s", event.stripe or "", event.reason)
    return True


#: A worker's exit status when retrying cannot help (a refused subscription, a bad key):
#: the supervisor stops instead of restarting it.
EXIT_PERMANENT = 2


def worker_main(config: WorkerConfig) -> None:
    """A worker process's entry point (picklable for multiprocessing's spawn)."""
    from .redis_sink import RedisSink  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    # SIGTERM (the supervisor stopping) ends the loop, so what is buffered is published.
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))

    async def main() -> None:
        marker = ",".join(config.stripes) or "all"
        sink = RedisSink(config.redis_url, maxlen=config.maxlen, marker=marker)
        try:
            await run_worker(config, sink, stop=lambda: bool(stopping))
        finally:
            await sink.close()

    stripes = " ".join(config.stripes)
    try:
        asyncio.run(main())
    except (MLinkTransportError, SinkResetError) as exc:
        # The MLink connection failed for good, or Redis lost its data: a restart mends it.
        log.error("stripes %s: %s; exiting to be restarted", stripes, exc)
        raise SystemExit(1) from None
    except SRMLinkError as exc:
        log.error("stripes %s: %s", stripes, exc)
        raise SystemExit(EXIT_PERMANENT) from None
