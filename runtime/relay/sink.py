"""What a relay worker hands to a sink: entries of the record stream and the latest value per
primary key, buffered within a bound (sans-I/O).

A :class:`Sink` is the one interface workers know, so another engine (Kafka...) is a new
sink, not a new worker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Literal, Protocol

from attrs import field, frozen

from ..codec import encode_message
from ..errors import SRMLinkError
from ..message import Message

__all__ = [
    "Batch",
    "Buffer",
    "Entry",
    "RelayEncoding",
    "ResumePoint",
    "Sink",
    "SinkError",
    "SinkResetError",
    "entry_of",
]

#: The framed encodings a relay stores (each frame says its own kind: ``P`` or ``J``).
RelayEncoding = Literal["proto", "jsonf"]


class SinkError(SRMLinkError):
    """A publish failed (the sink is down or refused it); the batch can be retried."""


class SinkResetError(SRMLinkError):
    """The sink lost what was published before (a Redis restarted without its data): the
    last-value cache misses keys that have not changed since, so the worker must start over
    from a full image (a relay worker process exits and is restarted)."""


@frozen
class Entry:
    """One record as relayed: its message type, flat primary key, frame and delete flag."""

    name: str
    mnum: int
    pkey: str
    encoding: RelayEncoding
    frame: bytes = field(repr=lambda frame: f"<{len(frame)} bytes>")
    deleted: bool = False


def entry_of(
    message: Message,
    encoding: RelayEncoding,
    *,
    deleted: bool = False,
    frame: bytes | None = None,
) -> Entry:
    """``message`` as one MLink frame: ``frame`` (the frame as received from MLink), else
    ``message`` encoded.

    Raises:
        EncodeError: the message cannot be framed (no message number, a bad value).
    """
    pkey = getattr(message, "pkey", None)
    return Entry(
        name=message.MSG_NAME,
        mnum=message.MSG_NUM or 0,
        pkey="" if pkey is None else str(pkey),
        encoding=encoding,
        frame=encode_message(message, encoding) if frame is None else frame,
        deleted=deleted,
    )


@frozen
class Batch:
    """What one publish writes: stream entries in order, the latest entry of some primary
    keys (a deleted one removes the key), how many stream entries were shed since the
    last successful publish, and the highwaterTs (ns) this worker may resume from once the
    batch is written (None: unchanged; set only on a batch that leaves nothing buffered)."""

    entries: Sequence[Entry]
    latest: Sequence[Entry]
    shed: int = 0
    highwater: int | None = None


@frozen
class ResumePoint:
    """What a sink holds for one worker: the highwaterTs stored with its last batch that
    left nothing buffered, and when (ns since the epoch, 0: never) it last completed a full
    image (and pruned after it)."""

    highwater: int
    image_ns: int


class Sink(Protocol):
    """Where a relay worker publishes (a Redis Streams sink today)."""

    async def publish(self, batch: Batch) -> None:
        """Append ``batch.entries`` to the streams and apply ``batch.latest`` to the
        last-value cache, all or nothing; raise :class:`SinkError` on failure (the worker
        retries the batch), :class:`SinkResetError` if earlier publishes were lost."""
        ...

    async def prune(self, name: str, stale: Callable[[str, bytes], bool]) -> int:
        """Remove from ``name``'s last-value cache every key for which ``stale(pkey, frame)``
        is true (after a full image), then record the image as this worker's latest; return
        how many; raise :class:`SinkError` on failure."""
        ...

    async def resume_point(self, name: str) -> ResumePoint | None:
        """Where this worker stopped publishing ``name`` (None: no highwaterTs stored);
        raise :class:`SinkError` on failure."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class Buffer:
    """Entries waiting for the sink, bounded.

    The stream entries are bounded by ``bound``: past it the oldest is shed and counted
    (:attr:`shed`; the sink records the count). The latest value per primary key is kept
    apart and never shed: it is bounded by the number of series, so the last-value cache is
    exact after any outage even when stream history was shed.
    """

    def __init__(self, bound: int) -> None:
        if bound < 1:
            raise ValueError(f"a buffer bound must be at least 1, not {bound}")
        self.bound = bound
        self.entries: deque[Entry] = deque()
        self.latest: dict[tuple[str, str], Entry] = {}
        self.shed = 0  # not yet reported to the sink
        self.shed_total = 0

    def __len__(self) -> int:
        return len(self.entries) + len(self.latest)

    def add(self, entry: Entry) -> None:
        """Queue ``entry`` for the stream and as its primary key's latest value."""
        if len(self.entries) >= self.bound:
            self.entries.popleft()
            self.shed += 1
            self.shed_total += 1
        self.entries.append(entry)
        key = (entry.name, entry.pkey)
        self.latest.pop(key, None)  # re-inserted last: keys are published oldest change first
        self.latest[key] = entry

    def batch(self, size: int, highwater: int | None = None) -> Batch:
        """The oldest ``size`` entries and latest values, left in place until :meth:`done`;
        ``highwater`` (what every record read so far is covered by) goes with the batch
        only if the batch takes everything buffered."""
        entries = tuple(islice(self.entries, size))
        latest = tuple(islice(self.latest.values(), size))
        whole = len(entries) == len(self.entries) and len(latest) == len(self.latest)
        return Batch(entries, latest, self.shed, highwater if whole else None)

    def done(self, batch: Batch) -> None:
        """``batch`` was published: forget it (a latest value replaced since stays)."""
        for _ in batch.entries:
            self.entries.popleft()
        for entry in batch.latest:
            key = (entry.name, entry.pkey)
            if self.latest.get(key) is entry:
                del self.latest[key]
        self.shed -= batch.shed
