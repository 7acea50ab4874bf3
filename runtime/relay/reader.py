"""Typed consumers of what ``srmlink relay`` publishes: the last-value cache, and the record
stream through a consumer group (so N consumers on N machines share the load)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, TypeVar

from attrs import frozen

from ..codec import decode
from ..errors import DecodeError, FramingError
from ..message import Message
from ..registry import Registry
from .redis_sink import lvc_key, safe_url, stream_key

__all__ = ["AsyncRelayReader", "RelayEntry", "RelayReader"]

M = TypeVar("M", bound=Message)


@frozen
class RelayEntry(Generic[M]):
    """One stream entry: its Redis id, flat primary key, message and delete flag."""

    id: str
    pkey: str
    message: M
    deleted: bool


def _decode(frame: bytes, cls: type[M], registry: Registry | None, where: str) -> M:
    """The one ``cls`` record of a stored frame.

    Raises:
        DecodeError: the frame is not one ``cls`` record; names ``where`` (the key).
    """
    try:
        # Each frame says its own kind (P or J); the encoding argument matters only for json.
        messages = decode(frame, "proto", registry=registry)
    except (DecodeError, FramingError) as exc:
        raise DecodeError(f"{where}: {exc}", message_type=cls.MSG_NAME) from None
    if len(messages) != 1 or not isinstance(messages[0], cls):
        got = [type(m).__name__ for m in messages]
        raise DecodeError(f"{where}: expected one frame, found {got}", message_type=cls.MSG_NAME)
    return messages[0]


class _GroupRead(Generic[M]):
    """One consumer's reading of a stream through a group (sans-I/O): what to ask Redis
    next, and the typed entries of each reply."""

    def __init__(
        self,
        cls: type[M],
        registry: Registry | None,
        block: float,
        idle_timeout: float | None,
    ) -> None:
        self.cls, self.registry = cls, registry
        self.key = stream_key(cls.MSG_NAME)
        self.block, self.idle_timeout = block, idle_timeout
        self.cursor = "0"  # this consumer's pending entries first, then new ones (">")
        self.last = time.monotonic()

    def wait_ms(self) -> int | None:
        """Milliseconds for the next XREADGROUP to block; None: idle too long, stop."""
        wait = self.block
        if self.idle_timeout is not None:  # never wait on Redis past the idle deadline
            left = self.idle_timeout - (time.monotonic() - self.last)
            if left <= 0 and self.cursor == ">":
                return None
            wait = min(wait, max(left, 0.001))
        return max(1, int(wait * 1000))

    def entries(self, reply: Any) -> list[RelayEntry[M]]:
        """The entries of an XREADGROUP reply, decoded."""
        raw = reply[0][1] if reply else []
        if not raw:
            self.cursor = ">"  # no (more) pending entries: read new ones
            return []
        self.last = time.monotonic()
        return [
            RelayEntry(
                id=(entry_id := raw_id.decode()),
                pkey=fields[b"pkey"].decode(),
                message=_decode(
                    fields[b"frame"], self.cls, self.registry, f"{self.key} {entry_id}"
                ),
                deleted=fields[b"del"] == b"1",
            )
            for raw_id, fields in raw
        ]


def _busy_group(exc: Exception) -> bool:
    """Whether XGROUP CREATE failed only because the group exists."""
    return "BUSYGROUP" in str(exc)


class RelayReader:
    """Reads a relay's Redis keys (see :mod:`srmlink.relay.redis_sink` for their names).

    >>> reader = RelayReader("redis://127.0.0.1:6379/0")
    >>> quotes = reader.lvc(OptionNbboQuote)  # flat pkey -> OptionNbboQuote
    >>> for entry in reader.stream(OptionNbboQuote, group="risk", consumer="host-1"):
    ...     handle(entry.message)
    """

    def __init__(self, url: str, *, registry: Registry | None = None) -> None:
        import redis  # noqa: PLC0415 - the redis extra is needed only here

        self.registry = registry
        self._url = safe_url(url)
        self._redis = redis.Redis.from_url(url)

    def __repr__(self) -> str:
        return f"RelayReader({self._url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()

    def __enter__(self) -> RelayReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lvc(self, cls: type[M]) -> dict[str, M]:
        """The last-value cache of ``cls``: flat primary key -> its latest record.

        Raises:
            DecodeError: a stored frame is not one ``cls`` record (naming the key).
        """
        key = lvc_key(cls.MSG_NAME)
        return {
            (pkey := raw_pkey.decode()): _decode(frame, cls, self.registry, f"{key} {pkey}")
            for raw_pkey, frame in self._redis.hscan_iter(key, count=1000)
        }

    def stream(
        self,
        cls: type[M],
        *,
        group: str,
        consumer: str,
        start: str = "0",
        count: int = 100,
        block: float = 1.0,
        idle_timeout: float | None = None,
    ) -> Iterator[RelayEntry[M]]:
        """The records of ``cls`` for consumer ``consumer`` of group ``group``.

        The group is created at ``start`` (``0``: the whole retained stream, ``$``: new
        entries only) if it does not exist. This consumer's unacknowledged entries (from a
        run that stopped early) come first. The entries of each read (up to ``count``) are
        acknowledged together (one XACK) when the entry after the last of them is asked for,
        so an entry in hand when a consumer dies is delivered again to it on restart. Ends
        after ``idle_timeout`` seconds without a new entry (None: never); ``block`` is the
        longest single wait on Redis.

        Raises:
            DecodeError: an entry is not one ``cls`` frame (naming the stream and entry id).
        """
        import redis  # noqa: PLC0415

        read = _GroupRead(cls, self.registry, block, idle_timeout)
        try:
            self._redis.xgroup_create(read.key, group, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if not _busy_group(exc):
                raise
        while (wait := read.wait_ms()) is not None:
            reply = self._redis.xreadgroup(
                group, consumer, {read.key: read.cursor}, count=count, block=wait
            )
            entries = read.entries(reply)
            yield from entries
            if entries:
                self._redis.xack(read.key, group, *(entry.id for entry in entries))


class AsyncRelayReader:
    """The asyncio twin of :class:`RelayReader` (same methods, awaited / ``async for``)."""

    def __init__(self, url: str, *, registry: Registry | None = None) -> None:
        import redis.asyncio  # noqa: PLC0415

        self.registry = registry
        self._url = safe_url(url)
        self._redis = redis.asyncio.Redis.from_url(url)

    def __repr__(self) -> str:
        return f"AsyncRelayReader({self._url!r})"

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    async def __aenter__(self) -> AsyncRelayReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def lvc(self, cls: type[M]) -> dict[str, M]:
        """As :meth:`RelayReader.lvc`."""
        key = lvc_key(cls.MSG_NAME)
        return {
            (pkey := raw_pkey.decode()): _decode(frame, cls, self.registry, f"{key} {pkey}")
            async for raw_pkey, frame in self._redis.hscan_iter(key, count=1000)
        }

    async def stream(
        self,
        cls: type[M],
        *,
        group: str,
        consumer: str,
        start: str = "0",
        count: int = 100,
        block: float = 1.0,
        idle_timeout: float | None = None,
    ) -> AsyncIterator[RelayEntry[M]]:
        """As :meth:`RelayReader.stream`."""
        import redis  # noqa: PLC0415

        read = _GroupRead(cls, self.registry, block, idle_timeout)
        try:
            await self._redis.xgroup_create(read.key, group, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if not _busy_group(exc):
                raise
        while (wait := read.wait_ms()) is not None:
            reply = await self._redis.xreadgroup(
                group, consumer, {read.key: read.cursor}, count=count, block=wait
            )
            entries = read.entries(reply)
            for entry in entries:
                yield entry
            if entries:
                await self._redis.xack(read.key, group, *(entry.id for entry in entries))
