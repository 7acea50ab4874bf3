"""Records to rotating Parquet files, each one complete and readable the moment it appears.

A file is written as ``NAME.parquet.partial`` and renamed to ``NAME.parquet`` when it is
closed (rotation, :meth:`RotatingParquetWriter.close`, or leaving the ``with`` block, also on
Ctrl-C), so a reader never sees a half-written file, and every record handed to
:meth:`~RotatingParquetWriter.write` is in a closed file once ``close`` returns.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Self, TypeVar

from ..message import Message
from ._arrow import require
from .convert import to_arrow
from .schema import ColumnNames, arrow_schema

if TYPE_CHECKING:
    import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

__all__ = ["RotatingParquetWriter"]

M = TypeVar("M", bound=Message)


class RotatingParquetWriter(Generic[M]):
    """Append records of one message type to Parquet files in ``directory``, rotating them.

    Args:
        directory: where the files go (created if missing).
        cls: the message type (its Arrow schema is every file's schema).
        max_records: start a new file after this many records (None: no limit).
        max_bytes: start a new file once a file holds about this many bytes (None: no limit).
        max_seconds: start a new file after this many seconds (None: no limit).
        batch_records: records buffered before they are written as one row group.
        names: column names, Python attributes or wire names.
        clock: seconds, for rotation by time (tests pass their own).
    """

    def __init__(
        self,
        directory: str | Path,
        cls: type[M],
        *,
        max_records: int | None = None,
        max_bytes: int | None = None,
        max_seconds: float | None = None,
        batch_records: int = 10_000,
        names: ColumnNames = "python",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for label, limit in (("max_records", max_records), ("max_bytes", max_bytes)):
            if limit is not None and limit < 1:
                raise ValueError(f"{label} must be at least 1, got {limit}")
        if max_seconds is not None and not max_seconds > 0:
            raise ValueError(f"max_seconds must be positive, got {max_seconds}")
        if batch_records < 1:
            raise ValueError(f"batch_records must be at least 1, got {batch_records}")
        self._pq = require("pyarrow.parquet")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cls = cls
        self.names: ColumnNames = names
        self.schema = arrow_schema(cls, names=names)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.batch_records = min(batch_records, max_records or batch_records)
        self._clock = clock
        self._buffer: list[M] = []
        self._writer: pq.ParquetWriter | None = None
        self._partial: Path | None = None
        self._opened_at = 0.0
        self._in_file = 0
        self._sequence = 0
        #: The closed, complete files, in order.
        self.files: list[Path] = []
        #: Records written to closed files or to the open one.
        self.written = 0

    @property
    def buffered(self) -> int:
        """Records received but not yet written to a file."""
        return len(self._buffer)

    def write(self, message: M) -> None:
        """Add one record (written when a batch fills, at rotation or at close)."""
        if self._writer is not None and self._due():
            self._rotate()
        self._buffer.append(message)
        if len(self._buffer) >= self.batch_records or self._file_full_with_buffer():
            self.flush()

    def _file_full_with_buffer(self) -> bool:
        return (
            self.max_records is not None and self._in_file + len(self._buffer) >= self.max_records
        )

    def _due(self) -> bool:
        if self.max_seconds is not None and self._clock() - self._opened_at >= self.max_seconds:
            return True
        if self.max_records is not None and self._in_file >= self.max_records:
            return True
        return (
            self.max_bytes is not None
            and self._partial is not None
            and self._partial.stat().st_size >= self.max_bytes
        )

    def flush(self) -> None:
        """Write the buffered records to the open file (opening one if needed)."""
        if not self._buffer:
            return
        if self._writer is None:
            self._open()
        assert self._writer is not None
        table = to_arrow(self._buffer, self.cls, names=self.names)
        self._writer.write_table(table)
        self._in_file += len(self._buffer)
        self.written += len(self._buffer)
        self._buffer.clear()
        if self._due():
            self._rotate()

    def tick(self) -> None:
        """Rotate by time while no records arrive (call it now and then from a read loop)."""
        if self._writer is not None and self._due():
            self.flush()
            self._rotate()

    def _open(self) -> None:
        self._sequence += 1
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{self.cls.MSG_NAME}-{stamp}-{self._sequence:05d}.parquet"
        self._partial = self.directory / (name + ".partial")
        self._writer = self._pq.ParquetWriter(str(self._partial), self.schema)
        self._opened_at = self._clock()
        self._in_file = 0

    def _rotate(self) -> None:
        """Close the open file and make it visible under its final name."""
        if self._writer is None or self._partial is None:
            return
        self._writer.close()
        final = self._partial.with_suffix("")
        self._partial.rename(final)
        self.files.append(final)
        self._writer = None
        self._partial = None

    def close(self) -> None:
        """Write what is buffered and close the open file (idempotent)."""
        try:
            self.flush()
        finally:
            self._rotate()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
