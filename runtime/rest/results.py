"""Typed REST results: what a command's records are, kept apart by kind (no I/O).

``getmsgs(OptionNbboQuote)`` gives a :class:`RestResult` whose ``messages`` are
``OptionNbboQuote`` records: records of any other known type go to ``others`` and records the
registry does not know to ``unknown``, so user code needs no ``isinstance``. Commands whose
records are the same every time (``getcount``, the key sets) give results with the value
itself (``count``, ``keys``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from attrs import field, frozen

from ..codec import UnknownMessage
from ..errors import DecodeError
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import Message
from ..records import wire_value

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    import polars as pl
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

__all__ = ["CountResult", "KeySetResult", "RestResult", "Shape", "count_of", "keys_of", "sorted_by"]

M = TypeVar("M", bound=Message)
K = TypeVar("K", TickerKey, ExpiryKey, OptionKey)
R = TypeVar("R")

Records = Sequence[Message | UnknownMessage]
# What a call does with the decoded records and the trailing QueryResult.
Shape = Callable[[Records, Message | None], R]


@frozen
class RestResult(Generic[M]):
    """A REST response.

    Attributes:
        messages: the records of the type asked for (every known record when the command
            names no type, or names it as a string the registry does not know).
        query_result: the trailing QueryResult (None if absent).
        others: records of other known types (a server may interleave them).
        unknown: records of types the registry does not know (raw bytes kept).
        message_type: the class asked for, when the command named one the registry knows.
    """

    messages: tuple[M, ...]
    query_result: Message | None = None
    others: tuple[Message, ...] = ()
    unknown: tuple[UnknownMessage, ...] = ()
    message_type: type[M] | None = field(default=None, kw_only=True)

    def first(self) -> M | None:
        """The first record of the type asked for (``getmsg``'s one record), None if none."""
        return self.messages[0] if self.messages else None

    def to_arrow(self, *, names: Literal["python", "wire"] = "python") -> pa.Table:
        """``messages`` as a pyarrow Table typed from the schema (:mod:`srmlink.frames`;
        needs ``srmlink[arrow]``)."""
        from ..frames import to_arrow  # noqa: PLC0415 (pyarrow only when asked for)

        return to_arrow(self.messages, self.message_type, names=names)

    def to_polars(self, *, names: Literal["python", "wire"] = "python") -> pl.DataFrame:
        """``messages`` as a polars DataFrame (needs ``srmlink[polars]``)."""
        from ..frames import to_polars  # noqa: PLC0415

        return to_polars(self.messages, self.message_type, names=names)

    def to_pandas(self, *, names: Literal["python", "wire"] = "python") -> pd.DataFrame:
        """``messages`` as a pandas DataFrame with Arrow-backed columns (``srmlink[pandas]``)."""
        from ..frames import to_pandas  # noqa: PLC0415

        return to_pandas(self.messages, self.message_type, names=names)


@frozen
class CountResult(RestResult[Message]):
    """``getcount``: ``count`` is how many records matched."""

    count: int = 0


@frozen
class KeySetResult(RestResult[Message], Generic[K]):
    """``get{t,e,o}keyset``: ``keys`` are the active keys, in the server's order."""

    keys: tuple[K, ...] = ()


def _split(
    records: Records, expected: type[M]
) -> tuple[list[M], list[Message], list[UnknownMessage]]:
    mine: list[M] = []
    others: list[Message] = []
    unknown: list[UnknownMessage] = []
    for record in records:
        if isinstance(record, UnknownMessage):
            unknown.append(record)
        elif isinstance(record, expected):
            mine.append(record)
        else:
            others.append(record)
    return mine, others, unknown


def sorted_by(expected: type[M]) -> Shape[RestResult[M]]:
    """A shape keeping records of ``expected`` (every known record for ``Message``) in
    ``messages``."""

    def shape(records: Records, query_result: Message | None) -> RestResult[M]:
        mine, others, unknown = _split(records, expected)
        concrete = expected if expected is not Message else None
        return RestResult(
            tuple(mine), query_result, tuple(others), tuple(unknown), message_type=concrete
        )

    return shape


def count_of(records: Records, query_result: Message | None) -> CountResult:
    """The shape of ``getcount``: the ``count`` of its MLinkCount record."""
    mine, others, unknown = _split(records, Message)
    counts = [wire_value(record, "count") for record in mine]
    if len(counts) != 1 or not isinstance(counts[0], int):
        raise DecodeError(
            f"getcount answered {len(mine)} record(s) without exactly one integer count",
            message_type=mine[0].MSG_NAME if mine else None,
            field="count",
        )
    return CountResult(tuple(mine), query_result, tuple(others), tuple(unknown), counts[0])


def keys_of(kind: type[K], member: str) -> Shape[KeySetResult[K]]:
    """The shape of a key-set command: the ``member`` key (wire name) of every record."""

    def shape(records: Records, query_result: Message | None) -> KeySetResult[K]:
        mine, others, unknown = _split(records, Message)
        keys: list[K] = []
        for record in mine:
            key = wire_value(record, member)
            if not isinstance(key, kind):
                raise DecodeError(
                    f"expected a {kind.__name__}, got {key!r}",
                    message_type=record.MSG_NAME,
                    field=member,
                )
            keys.append(key)
        return KeySetResult(tuple(mine), query_result, tuple(others), tuple(unknown), tuple(keys))

    return shape
