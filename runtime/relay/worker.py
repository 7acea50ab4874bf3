"""A relay worker: one MLink stream over its share of the stripes into a :class:`Sink`.

Records are read in batches (up to ``batch_size``, or whatever came within
``flush_interval``) and published, each as the MLink frame it came in (the stream's
``raw_frames``); while the sink fails the worker keeps reading into a
bounded :class:`Buffer` and retries with exponential backoff, so a Redis outage is ridden
out and reported, and what had to be shed is counted.
"""

from __future__ import annotations

import asyncio
import logging
import math
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
    ``SRMLINK_API_KEY``, and the Redis URL, which may hold a password, is not shown).

    ``full_image_every`` (seconds): a (re)started worker resumes from the highwaterTs it
    stored only if its last full image is younger than this, and a running worker takes a
    new full image this often (each full image prunes the keys deleted unseen); 0: a full
    image at every start and none while running.
    """

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
    full_image_every: float = 3600.0


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
        self.query_id = 0
        self.full = True  # the current subscription started with a full image
        self.image_due_at = math.inf  # monotonic time of the next periodic full image
        # The last checkpoint's highwaterTs per connection (stripe) of the current
        # subscription; the lowest covers every record read so far.
        self.highwaters: dict[str | None, int] = {}
        self.connections = 1
        self._stored_highwater: int | None = None
        self._delay = config.backoff
        self._retry_at = 0.0
        self._checked = time.monotonic()
        self._down = False

    def take(self, message: Message, *, deleted: bool = False, frame: bytes | None = None) -> None:
        entry = entry_of(message, self.config.encoding, deleted=deleted, frame=frame)
        self.buffer.add(entry)
        if deleted:
            self.held.discard(entry.pkey)
        else:
            self.held.add(entry.pkey)

    async def start(self, stream: AsyncMLinkStream) -> None:
        """Subscribe from the stored highwaterTs if the last full image is younger than
        ``full_image_every``, else from a full image."""
        every = self.config.full_image_every
        try:
            point = await self.sink.resume_point(self.cls.MSG_NAME)
        except SinkError as exc:
            log.warning("%s; starting from a full image", exc)
            point = None
        # Never negative: the image time may come from another machine's clock.
        age = max(0.0, (time.time_ns() - point.image_ns) / 1e9) if point else math.inf
        if point is None or age >= every:
            log.info("%s: subscribing for a full image", self.cls.MSG_NAME)
            await self.subscribe(stream, None)
            return
        log.info(
            "%s: resuming from highwaterTs %d (last full image %.0f s ago)",
            self.cls.MSG_NAME,
            point.highwater,
            age,
        )
        await self.subscribe(stream, point.highwater)
        self._stored_highwater = point.highwater
        self.image_due_at = time.monotonic() + every - age

    async def renew(self, stream: AsyncMLinkStream) -> None:
        """A periodic full image: a new subscription, then the old one ended (records in
        between come twice, which live objects make harmless)."""
        old = self.query_id
        log.info("%s: periodic full image", self.cls.MSG_NAME)
        await self.subscribe(stream, None)
        await stream.unsubscribe(old)

    async def subscribe(self, stream: AsyncMLinkStream, highwater: int | None) -> None:
        """Subscribe from ``highwater`` (None: a full image, pruned after) and forget the
        previous subscription's progress."""
        config = self.config
        subscription = await stream.subscribe(
            self.cls, where=config.where, view=config.view, highwater_ts=highwater
        )
        self.query_id, self.full = subscription.query_id, highwater is None
        self.connections = stream.connections
        self.held.clear()
        self.highwaters.clear()
        self.completes = 0
        self.prune_due = False
        if self.full:
            self.image_due_at = math.inf  # counted from the prune: images never overlap

    def checkpoint(self, event: CheckPoint) -> None:
        if event.highwater_ts:
            self.highwaters[event.stripe] = event.highwater_ts
        if event.state == "Complete":
            self.completes += 1
            # After a full image, once: every key of the stripes has been seen.
            self.prune_due = self.full and self.completes == self.connections

    def highwater(self) -> int | None:
        """The highwaterTs every record read so far is covered by (None until each
        connection has sent one)."""
        if len(self.highwaters) < self.connections:
            return None
        return min(self.highwaters.values())

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
        """Publish what is buffered (with the highwaterTs once nothing is left), then prune
        when due, then an empty batch when the highwaterTs moved or after ``check_interval``
        idle (which lets the sink notice it lost its data); unless backing off."""
        while time.monotonic() >= self._retry_at:
            highwater = self.highwater()
            moved = highwater is not None and highwater != self._stored_highwater
            try:
                if self.prune_due and not self.buffer:
                    pruned = await self.sink.prune(self.cls.MSG_NAME, self.stale)
                    self.prune_due = False
                    if self.config.full_image_every > 0:
                        self.image_due_at = time.monotonic() + self.config.full_image_every
                    if pruned:
                        log.warning("pruned %d stale keys from the last-value cache", pruned)
                elif (
                    self.buffer
                    or moved
                    or time.monotonic() - self._checked >= self.config.check_interval
                ):
                    await self._publish(self.buffer.batch(self.config.batch_size, highwater))
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

    async def _publish(self, batch: Batch) -> None:
        await self.sink.publish(batch)
        self.buffer.done(batch)
        self.published += len(batch.entries)
        if batch.highwater is not None:
            self._stored_highwater = batch.highwater

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
        raw_frames=True,  # relayed as received: no encoding again
    )
    async with stream:
        relay = _Relay(sink, config, stream.registry.by_name(config.msgtype))
        await relay.start(stream)
        while not stop():
            if not await _read(stream, relay):
                break
            await relay.drain()
            if time.monotonic() >= relay.image_due_at:
                await relay.renew(stream)
    await relay.drain()
    if relay.buffer:
        log.warning("stopped with %d entries not published (the sink is down)", len(relay.buffer))
    return relay.stats()


async def _read(stream: AsyncMLinkStream, relay: _Relay) -> bool:
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
            relay.take(event.message, deleted=event.deleted, frame=event.frame)
        elif isinstance(event, CheckPoint) and event.query_id == relay.query_id:
            relay.checkpoint(event)
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
