"""The local server's in-memory live-object store: create/replace by primary key.

Live MLink objects are keyed by their primary key and replaced whole on every update; the
store keeps the latest record per key and message type, with the time it last changed
(nanoseconds since the epoch, like MLink's highwaterTs), and tells listeners about changes
and deletes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence

from attrs import frozen

from ..message import Message

__all__ = ["Deleted", "Listener", "LiveStore", "UnknownRecordError", "record_key"]

#: ``listener(name, key, record, stamp, deleted)``: ``record`` is the new value, or for a
#: delete the last value the key had.
Listener = Callable[[str, str, Message, int, bool], None]
_auto = itertools.count(1)


class UnknownRecordError(LookupError):
    """A delete named a primary key the store does not hold."""


@frozen
class Deleted:
    """A delete to send: the last value of the deleted record (MLink sends it with
    ``_meta.is_deleted`` set)."""

    message: Message


def record_key(message: Message) -> str:
    """The flat primary key of a record; records without one get a fresh serial key."""
    pkey = getattr(message, "pkey", None)
    if pkey is not None and not isinstance(pkey, str | int):
        return str(pkey)
    return f"#{next(_auto)}"


class LiveStore:
    """Latest record per (message type, primary key)."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, tuple[Message, int]]] = {}
        self._listeners: list[Listener] = []
        self._last_ns = 0

    def _now(self) -> int:
        # Strictly increasing, so "changed after highwaterTs" never misses an update.
        now = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = now
        return now

    def put(self, message: Message) -> tuple[str, int]:
        """Create or replace ``message``; returns its key and change time."""
        key = record_key(message)
        stamp = self._now()
        self._tables.setdefault(message.MSG_NAME, {})[key] = (message, stamp)
        self._tell(message.MSG_NAME, key, message, stamp, deleted=False)
        return key, stamp

    def delete(self, name: str, keys: Sequence[str]) -> int:
        """Delete the records of ``name`` with these flat primary keys (all or none); returns
        the change time.

        Raises:
            UnknownRecordError: a key the store does not hold (named; nothing is deleted).
        """
        table = self._tables.get(name, {})
        missing = [key for key in keys if key not in table]
        if missing:
            raise UnknownRecordError(f"{name} has no record with primary key {missing[0]!r}")
        stamp = self._now()
        for key in keys:
            message, _ = table.pop(key)
            self._tell(name, key, message, stamp, deleted=True)
        return stamp

    def _tell(self, name: str, key: str, message: Message, stamp: int, *, deleted: bool) -> None:
        for listener in list(self._listeners):
            listener(name, key, message, stamp, deleted)

    def get(self, name: str, key: str) -> Message | None:
        found = self._tables.get(name, {}).get(key)
        return found[0] if found is not None else None

    def stamp(self, name: str, key: str) -> int:
        """When a record last changed (0 if absent)."""
        found = self._tables.get(name, {}).get(key)
        return found[1] if found is not None else 0

    def records(self, name: str, *, since_ns: int | None = None) -> list[Message]:
        """Every record of a message type, oldest change first (optionally changed after)."""
        rows = sorted(self._tables.get(name, {}).values(), key=lambda row: row[1])
        return [m for m, stamp in rows if since_ns is None or stamp > since_ns]

    def items(self, name: str) -> Iterator[tuple[str, Message, int]]:
        """(key, record, change time) of every record of a message type."""
        for key, (message, stamp) in list(self._tables.get(name, {}).items()):
            yield key, message, stamp

    def count(self, name: str) -> int:
        return len(self._tables.get(name, {}))

    def names(self) -> list[str]:
        return sorted(self._tables)

    @property
    def highwater_ns(self) -> int:
        """The latest change time (0 when empty)."""
        return self._last_ns

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)
