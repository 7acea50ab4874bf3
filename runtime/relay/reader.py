"""Typed consumers of what ``srmlink relay`` publishes: the last-value cache, and the record
stream through a consumer group (so N consumers on N machines share the load)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from attrs import frozen

from ..codec import decode
from ..errors import DecodeError
from ..message import Message
from ..registry import Registry
from .redis_sink import lvc_key, safe_url, stream_key

__all__ = ["RelayEntry", "RelayReader"]

M = TypeVar("M", bound=Message)


@frozen
class RelayEntry(Generic[M]):
    """One stream entry: its Redis id, flat primary key, message and delete flag."""

    id: str
    pkey: str
    message: M
    deleted: bool


def _decode(frame: bytes, cls: type[M], registry: Registry | None, where: str) -> M:
    # Each frame says its own kind (P or J); the encoding argument matters only for json.
    messages = decode(frame, "proto", registry=registry)
    if len(messages) != 1 or not isinstance(messages[0], cls):
        got = [type(m).__name__ for m in messages]
        raise DecodeError(f"{where}: expected one {cls.MSG_NAME} frame, found {got}")
    return messages[0]


class RelayReader:
    """Reads a relay's Redis keys (see :mod:`srmlink.relay.redis_sink` for their names).

    >>> reader = RelayReader("redis://127.0.0.1:6379/0")
    >>> quotes = reader.lvc(OptionNbboQuote)  # flat pkey -> OptionNbboQuote
    >>> for entry in reader.stream(OptionNbboQuote, group="risk", consumer="host-1"):
    ...     handle(entry.message)  # acknowledged when the next entry is asked for
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
        out: dict[str, M] = {}
        for raw_pkey, frame in self._redis.hscan_iter(key, count=1000):
            pkey = raw_pkey.decode()
            out[pkey] = _decode(frame, cls, self.registry, f"{key} {pkey}")
        return out

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
        run that stopped early) come first. Each entry is acknowledged (XACK) when the next
        one is asked for, so an entry being handled when a consumer dies is delivered again
        to it on restart. Ends after ``idle_timeout`` seconds without a new entry (None:
        never); ``block`` is the longest single wait on Redis.
        """
        import redis  # noqa: PLC0415

        key = stream_key(cls.MSG_NAME)
        try:
            self._redis.xgroup_create(key, group, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        cursor = "0"  # this consumer's pending entries first, then new ones (">")
        last = time.monotonic()
        while True:
            wait = block
            if idle_timeout is not None:  # never wait on Redis past the idle deadline
                wait = min(block, max(idle_timeout - (time.monotonic() - last), 0.001))
            reply: Any = self._redis.xreadgroup(
                group, consumer, {key: cursor}, count=count, block=max(1, int(wait * 1000))
            )
            entries = reply[0][1] if reply else []
            if not entries:
                if cursor == "0":
                    cursor = ">"
                    continue
                if idle_timeout is not None and time.monotonic() - last >= idle_timeout:
                    return
                continue
            last = time.monotonic()
            for raw_id, fields in entries:
                entry_id = raw_id.decode()
                yield RelayEntry(
                    id=entry_id,
                    pkey=fields[b"pkey"].decode(),
                    message=_decode(fields[b"frame"], cls, self.registry, f"{key} {entry_id}"),
                    deleted=fields[b"del"] == b"1",
                )
            self._redis.xack(key, group, *(raw_id for raw_id, _ in entries))
