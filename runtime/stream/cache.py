"""A last-value cache of live objects, keyed by message type and primary key.

MLink live objects are replaced whole on every update, so the latest record per primary key
is the object's current state; the cache applies stream events in order and keeps exactly
that. Messages without a primary key (acks, prints without one) are not cached.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from ..message import Message
from ..records import primary_key_text
from .events import Event, Record

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

__all__ = ["LastValueCache"]

M = TypeVar("M", bound=Message)


class LastValueCache:
    """Latest record per (message type, flat primary key)."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Message]] = {}

    def apply(self, event: Event) -> None:
        """Take a stream event into account (only :class:`Record` events change the cache;
        a deleted record removes its primary key)."""
        if isinstance(event, Record) and isinstance(event.message, Message):
            if event.deleted:
                self.delete(event.message)
            else:
                self.put(event.message)

    def put(self, message: Message) -> None:
        """Create or replace the object ``message`` is the new state of."""
        key = primary_key_text(message)
        if key is not None:
            self._tables.setdefault(message.MSG_NAME, {})[key] = message

    def delete(self, message: Message) -> None:
        """Forget the object ``message`` deletes (nothing happens if it is not cached)."""
        key = primary_key_text(message)
        if key is not None:
            self._tables.get(message.MSG_NAME, {}).pop(key, None)

    @overload
    def get(self, msgtype: type[M], key: object) -> M | None: ...
    @overload
    def get(self, msgtype: str, key: object) -> Message | None: ...
    def get(self, msgtype: str | type[Message], key: object) -> Any:
        """The current record of ``key`` (a primary-key object or its flat text)."""
        return self._tables.get(_name(msgtype), {}).get(str(key))

    @overload
    def table(self, msgtype: type[M]) -> dict[str, M]: ...
    @overload
    def table(self, msgtype: str) -> dict[str, Message]: ...
    def table(self, msgtype: str | type[Message]) -> dict[str, Any]:
        """A copy of every cached record of a message type, by flat primary key."""
        return dict(self._tables.get(_name(msgtype), {}))

    def of(self, msgtype: type[M]) -> Mapping[str, M]:
        """A live read-only view of one message type's records, by flat primary key.

        Typed by class: ``cache.of(OptionNbboQuote)`` is a ``Mapping[str, OptionNbboQuote]``
        (records are filed under their own class's name, so every value is one).
        """
        table = self._tables.setdefault(msgtype.MSG_NAME, {})
        return cast("Mapping[str, M]", MappingProxyType(table))

    def to_arrow(
        self, msgtype: type[Message], *, names: Literal["python", "wire"] = "python"
    ) -> pa.Table:
        """The current records of one message type as a pyarrow Table (:mod:`srmlink.frames`;
        needs ``srmlink[arrow]``); ``to_polars`` / ``to_pandas`` there take the same records."""
        from ..frames import to_arrow  # noqa: PLC0415 (pyarrow only when asked for)

        return to_arrow(self.of(msgtype).values(), msgtype, names=names)

    def clear(self) -> None:
        self._tables.clear()

    def __len__(self) -> int:
        return sum(len(table) for table in self._tables.values())

    def __iter__(self) -> Iterator[Message]:
        for table in self._tables.values():
            yield from table.values()


def _name(msgtype: str | type[Message]) -> str:
    return msgtype if isinstance(msgtype, str) else msgtype.MSG_NAME
