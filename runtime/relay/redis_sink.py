"""The Redis Streams sink: one stream and one last-value hash per message type.

Key names (``{...}`` is a Redis Cluster hash tag: both keys of a message type live in the
same slot, so one MULTI/EXEC covers them on a cluster too, and message types spread over
the cluster's shards):

- ``srmlink:{MsgName}:stream``: a Redis Stream, one entry per record, trimmed with
  ``MAXLEN ~ maxlen``. Fields: ``frame`` (the MLink frame as received, ``P`` or ``J``),
  ``mnum``, ``name``, ``pkey`` (the flat primary key), ``enc`` (``proto`` / ``jsonf``) and
  ``del`` (``1``: the record was deleted).
- ``srmlink:{MsgName}:lvc``: a hash, flat primary key -> the latest frame; a delete
  removes the key.
- ``srmlink:{MsgName}:stats``: a hash of counters; ``shed``: stream entries a worker
  dropped because its buffer bound was hit during a Redis outage.
- ``srmlink:{MsgName}:workers``: a hash, one field per worker (its stripes) set with the
  worker's first publish; a field gone later means Redis lost its data (a restart without
  persistence), and the worker starts over (:class:`SinkResetError`).
- ``srmlink:{MsgName}:resume``: a hash, per worker (its stripes, e.g. ``A,C,E``) the
  highwaterTs written in the MULTI/EXEC of its last batch that left nothing buffered, and
  ``A,C,E:image``, when (ns since the epoch) its last full image was complete and pruned
  after: a restarted worker resumes from there (:meth:`RedisSink.resume_point`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .sink import Batch, Entry, ResumePoint, SinkError, SinkResetError

__all__ = [
    "RedisSink",
    "lvc_key",
    "resume_key",
    "safe_url",
    "stats_key",
    "stream_key",
    "workers_key",
]


def stream_key(name: str) -> str:
    """The Redis Stream of message type ``name``."""
    return f"srmlink:{{{name}}}:stream"


def lvc_key(name: str) -> str:
    """The last-value-cache hash of message type ``name``."""
    return f"srmlink:{{{name}}}:lvc"


def stats_key(name: str) -> str:
    """The counters hash of message type ``name``."""
    return f"srmlink:{{{name}}}:stats"


def workers_key(name: str) -> str:
    """The hash of message type ``name`` that marks which workers have published."""
    return f"srmlink:{{{name}}}:workers"


def resume_key(name: str) -> str:
    """The hash of message type ``name`` with each worker's highwaterTs and last image time."""
    return f"srmlink:{{{name}}}:resume"


def safe_url(url: str) -> str:
    """``url`` without its user and password, fit for a log line."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<redis url>"
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"


def _fields(entry: Entry) -> dict[Any, Any]:
    return {
        "frame": entry.frame,
        "mnum": entry.mnum,
        "name": entry.name,
        "pkey": entry.pkey,
        "enc": entry.encoding,
        "del": int(entry.deleted),
    }


class RedisSink:
    """Publishes batches to Redis (or Valkey) with redis-py.

    Each batch is one pipelined MULTI/EXEC: a batch is written whole or not at all, so a
    retry after a failed publish does not write half of it twice. The blocking client runs
    in a thread: it packs commands with hiredis, five times the records/s of redis-py's
    asyncio client (whose pure-Python packing was most of a publish, measured).
    """

    def __init__(self, url: str, *, maxlen: int = 1_000_000, marker: str = "worker") -> None:
        import redis  # noqa: PLC0415 - the redis extra is needed only here

        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, not {maxlen}")
        self.maxlen = maxlen
        self.marker = marker  # this worker's field in the workers hash (its stripes)
        self._marked: set[str] = set()  # message types whose marker this sink has set
        self._url = safe_url(url)
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def __repr__(self) -> str:
        return f"RedisSink({self._url!r}, maxlen={self.maxlen})"

    async def publish(self, batch: Batch) -> None:
        """As :meth:`Sink.publish`."""
        import redis  # noqa: PLC0415

        try:
            await asyncio.to_thread(self._execute, batch)
        except redis.RedisError as exc:
            raise SinkError(f"publish to {self._url} failed: {type(exc).__name__}") from exc

    def _execute(self, batch: Batch) -> None:
        # The batch's message types and every one published before (an empty batch only
        # checks that nothing was lost).
        names = sorted({entry.name for entry in (*batch.entries, *batch.latest)} | self._marked)
        with self._redis.pipeline(transaction=True) as pipe:
            for name in names:
                pipe.hsetnx(workers_key(name), self.marker, 1)
            for entry in batch.entries:
                pipe.xadd(
                    stream_key(entry.name), _fields(entry), maxlen=self.maxlen, approximate=True
                )
            # One HSET and one HDEL per message type and batch, not one per key.
            kept: dict[str, dict[str, bytes]] = {}
            gone: dict[str, list[str]] = {}
            for entry in batch.latest:
                if entry.deleted:
                    gone.setdefault(entry.name, []).append(entry.pkey)
                else:
                    kept.setdefault(entry.name, {})[entry.pkey] = entry.frame
            for name, mapping in kept.items():
                pipe.hset(lvc_key(name), mapping=mapping)  # type: ignore[arg-type]
            for name, pkeys in gone.items():
                pipe.hdel(lvc_key(name), *pkeys)
            for name in names:
                if batch.shed:
                    pipe.hincrby(stats_key(name), "shed", batch.shed)
                if batch.highwater is not None:
                    pipe.hset(resume_key(name), self.marker, batch.highwater)
            replies = pipe.execute()
        lost = [
            name
            for name, new in zip(names, replies[: len(names)], strict=True)
            if new and name in self._marked
        ]
        self._marked.update(names)
        if lost:
            raise SinkResetError(
                f"{self._url} lost the relayed data of {', '.join(lost)} (restarted empty?)"
            )

    async def prune(self, name: str, stale: Callable[[str, bytes], bool]) -> int:
        """As :meth:`Sink.prune`: one HSCAN of the hash, HDEL of the stale keys, then the
        image time in the resume hash."""
        import redis  # noqa: PLC0415

        try:
            return await asyncio.to_thread(self._prune, name, stale)
        except redis.RedisError as exc:
            raise SinkError(
                f"prune of {lvc_key(name)} at {self._url} failed: {type(exc).__name__}"
            ) from exc

    def _prune(self, name: str, stale: Callable[[str, bytes], bool]) -> int:
        key = lvc_key(name)
        doomed = [
            pkey
            for pkey, frame in self._redis.hscan_iter(key, count=1000)
            if stale(pkey.decode(), frame)
        ]
        for start in range(0, len(doomed), 1000):
            self._redis.hdel(key, *doomed[start : start + 1000])
        self._redis.hset(resume_key(name), f"{self.marker}:image", time.time_ns())
        return len(doomed)

    async def resume_point(self, name: str) -> ResumePoint | None:
        """As :meth:`Sink.resume_point`: this worker's fields of the resume hash."""
        import redis  # noqa: PLC0415

        key = resume_key(name)
        try:
            highwater, image = await asyncio.to_thread(
                self._redis.hmget, key, [self.marker, f"{self.marker}:image"]
            )
        except redis.RedisError as exc:
            raise SinkError(f"read of {key} at {self._url} failed: {type(exc).__name__}") from exc
        if highwater is None:
            return None
        return ResumePoint(int(highwater), int(image or 0))

    async def close(self) -> None:
        """Close the connection pool."""
        await asyncio.to_thread(self._redis.close)
