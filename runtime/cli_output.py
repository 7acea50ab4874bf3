"""How ``srmlink query`` and ``srmlink stream`` write records, and what they show on stderr.

Records become a table (for people: flat columns by wire name, as wide as their values up to
MAX_WIDTH), JSON lines (wire names, as MLink's JSON) or CSV (wire names; primary-key parts as
their flat text, repeaters as JSON text), written to stdout or a file through a :class:`Sink`.
With the proto encoding, 32-bit floats are shown as the shortest decimal that is the same
float (the number the server meant). Progress goes to stderr through ``rich``.

Imported with :mod:`srmlink.cli_data`, whenever the ``srmlink`` parser is built, so its top
level stays light too: ``rich`` and the codecs are imported when they are used.
"""

from __future__ import annotations

import contextlib
import csv
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from .errors import QueryError

if TYPE_CHECKING:
    from rich.progress import Progress

    from .message import FieldSpec, Message

__all__ = [
    "MAX_WIDTH",
    "CsvRows",
    "JsonLines",
    "ProgressDisplay",
    "Sink",
    "StreamTable",
    "output",
    "record_count",
    "result_text",
    "table_lines",
    "view_columns",
    "waiting",
]

MAX_WIDTH = 40  # a table column never grows past this (an OptionKey's flat text fits)
_NUMERIC = frozenset({"Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong", "Float", "Double"})
_F32 = struct.Struct("<f")
# Table cells are one line each: control characters are shown escaped.
_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


# ---- where records go, and progress on stderr ---------------------------------------------


@contextlib.contextmanager
def output(path: str | None) -> Iterator[IO[str]]:
    """Where records go: stdout, or FILE (opened only once there is something to write, so a
    failed query leaves an existing file alone)."""
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    # newline="": the csv module writes its own line ends.
    with open(path, "w", encoding="utf-8", newline="") as file:
        yield file


class ProgressDisplay:
    """Progress on stderr through ``rich``, or nothing when disabled (rich is not imported)."""

    def __init__(self, enabled: bool, description: str, total: int | None) -> None:
        self._progress: Progress | None = None
        self._task: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns: list[ProgressColumn | str] = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        else:
            columns.append(TextColumn("{task.completed:,} records"))
        columns.append(TimeElapsedColumn())
        # sys.stderr is looked up now, not at import (pytest's capture replaces it), and stdout
        # is left alone: it carries the records.
        self._progress = Progress(
            *columns,
            console=Console(file=sys.stderr),
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self) -> None:
        """One more record written."""
        if self._progress is not None:
            self._progress.advance(self._task)

    def note(self, text: str) -> None:
        """A line on stderr (above the progress display when there is one)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def waiting(enabled: bool, text: str) -> Iterator[None]:
    """A spinner on stderr while a request is outstanding (when progress is shown)."""
    if not enabled:
        yield
        return
    from rich.console import Console

    with Console(file=sys.stderr).status(text):
        yield


# ---- turning records into text ------------------------------------------------------------


def _float32(value: float) -> float:
    """The shortest decimal that is the same 32-bit float: a protobuf ``float`` 11.19 arrives
    as 11.1899995803833, and the server meant 11.19."""
    try:
        exact = _F32.pack(value)
    except OverflowError:  # not a 32-bit float at all: leave it be
        return value
    for digits in (6, 7, 8):  # six digits always survive a float32; nine always identify it
        short = float(f"{value:.{digits}g}")
        if _F32.pack(short) == exact:
            return short
    return value


def _float32_fixer(cls: type[Any]) -> Callable[[dict[str, Any]], None] | None:
    """Rewrites a wire-name dict of ``cls`` in place with :func:`_float32` applied to every
    32-bit float (through repeaters and primary keys); None if ``cls`` has none."""
    steps: list[Callable[[dict[str, Any]], None]] = []
    for spec in cls.SPEC.fields:
        wire = spec.wire_name
        if spec.proto_type == "float":

            def shorten(d: dict[str, Any], wire: str = wire) -> None:
                value = d.get(wire)
                if isinstance(value, float):
                    d[wire] = _float32(value)

            steps.append(shorten)
        elif spec.sr_type in ("Repeater", "PKey") and spec.type is not None:
            inner = _float32_fixer(spec.type)
            if inner is None:
                continue

            def nested(
                d: dict[str, Any], wire: str = wire, inner: Callable[..., None] = inner
            ) -> None:
                value = d.get(wire)
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict):
                        inner(item)

            steps.append(nested)
    if not steps:
        return None

    def fix(d: dict[str, Any]) -> None:
        for step in steps:
            step(d)

    return fix


class _Column:
    """One output column: its header (a wire name), how to read it and how to write it."""

    __slots__ = ("get", "header", "numeric", "text")

    def __init__(
        self,
        header: str,
        get: Callable[[Message], Any],
        text: Callable[[Any], str],
        numeric: bool,
    ) -> None:
        self.header = header
        self.get = get
        self.text = text
        self.numeric = numeric

    def cell(self, message: Message) -> str:
        """The column's text for ``message`` ("" when unset)."""
        value = self.get(message)
        return "" if value is None else self.text(value)


def _formatter(spec: FieldSpec, shorten: bool) -> Callable[[Any], str]:
    """How one field's (not None) value is written: numbers in full, enums by SpiderRock name,
    keys flat, DateTime / DateKey ISO 8601, TimeSpan as MLink writes it, repeaters as JSON."""
    from .codec.jsonc import json_encoder
    from .codec.values import format_timespan

    sr = spec.sr_type
    if sr in ("Float", "Double"):
        if shorten and spec.proto_type == "float":
            return lambda v: repr(_float32(v))
        return repr
    if sr == "TimeSpan":
        return format_timespan
    if sr in ("DateTime", "DateKey"):
        return lambda v: str(v.isoformat())
    if sr == "Repeater" and spec.type is not None:
        encode = json_encoder(spec.type)
        fix = _float32_fixer(spec.type) if shorten else None

        def repeater(items: Sequence[Any]) -> str:
            rows = [encode(x) for x in items]
            if fix is not None:
                for row in rows:
                    fix(row)
            return orjson.dumps(rows).decode()

        return repeater
    return str  # text, integers, enums (their wire name), keys (their flat form)


def _columns(cls: type[Message], shorten: bool, only: Sequence[str] | None = None) -> list[_Column]:
    """The flat columns of ``cls``: the primary key's parts, then every other field, in schema
    order; ``only`` limits them to those attribute names."""
    columns: list[_Column] = []
    used: set[str] = set()
    for spec in cls.SPEC.fields:
        if only is not None and spec.name not in only:
            continue
        numeric = spec.sr_type in _NUMERIC
        if spec.sr_type == "PKey" and spec.type is not None:
            for part in spec.type.SPEC.fields:
                header = part.wire_name
                if header in used:  # a part named like a field: keep both, told apart
                    header = f"{spec.wire_name}.{part.wire_name}"

                def get_part(m: Any, key: str = spec.name, name: str = part.name) -> Any:
                    pkey = getattr(m, key)
                    return None if pkey is None else getattr(pkey, name)

                used.add(header)
                columns.append(
                    _Column(header, get_part, _formatter(part, shorten), part.sr_type in _NUMERIC)
                )
            continue

        def get_field(m: Any, name: str = spec.name) -> Any:
            return getattr(m, name)

        used.add(spec.wire_name)
        columns.append(_Column(spec.wire_name, get_field, _formatter(spec, shorten), numeric))
    return columns


def view_columns(cls: type[Message], view: str | None, shorten: bool) -> list[_Column]:
    """CSV columns: every field, or the primary key and the ``--view`` fields. A view the
    local schema cannot read is left for the server to judge (it answers with the error)."""
    if view is None:
        return _columns(cls, shorten)
    from .query import check_view, parse_view

    try:
        kept = check_view(parse_view(view), cls)
    except QueryError:
        return _columns(cls, shorten)
    return _columns(cls, shorten, kept)


def _fit(text: str, width: int, numeric: bool) -> str:
    text = text.translate(_ESCAPES)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.rjust(width) if numeric else text.ljust(width)


def _table_line(cells: Sequence[str], columns: Sequence[_Column], widths: Sequence[int]) -> str:
    return "  ".join(
        _fit(c, w, col.numeric) for c, col, w in zip(cells, columns, widths, strict=True)
    ).rstrip()


class Sink(Protocol):
    def write(self, message: Message) -> None: ...

    def finish(self) -> None: ...


class JsonLines:
    """One JSON object per record, with wire names (srmlink's JSON encoder, as MLink's)."""

    def __init__(self, out: IO[str], cls: type[Message], shorten: bool) -> None:
        from .codec.jsonc import json_encoder

        self._out = out
        self._dumps = orjson.dumps
        self._encode = json_encoder(cls)
        self._fix = _float32_fixer(cls) if shorten else None

    def write(self, message: Message) -> None:
        data = self._encode(message)
        if self._fix is not None:
            self._fix(data)
        self._out.write(self._dumps(data).decode())
        self._out.write("\n")

    def finish(self) -> None:
        self._out.flush()


class CsvRows:
    """A header of wire names (written at once, so an empty result is still valid CSV),
    then one row per record."""

    def __init__(self, out: IO[str], columns: list[_Column]) -> None:
        self._out = out
        self._columns = columns
        # "\n", not the csv module's "\r\n": the same line ends as the other formats.
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow([c.header for c in columns])

    def write(self, message: Message) -> None:
        self._writer.writerow([c.cell(message) for c in self._columns])

    def finish(self) -> None:
        self._out.flush()


class StreamTable:
    """Table lines as records arrive: the header comes from the first record's set fields,
    and column widths from it too (later, longer values are cut)."""

    def __init__(self, out: IO[str], cls: type[Message], shorten: bool) -> None:
        self._out = out
        self._all = _columns(cls, shorten)
        self._columns: list[_Column] = []
        self._widths: list[int] = []

    def write(self, message: Message) -> None:
        if not self._columns:
            cells = [c.cell(message) for c in self._all]
            picked = [(c, t) for c, t in zip(self._all, cells, strict=True) if t]
            self._columns = [c for c, _ in picked] or self._all
            self._widths = [
                min(MAX_WIDTH, max(len(c.header), len(t), 8 if c.numeric else 1)) for c, t in picked
            ] or [len(c.header) for c in self._all]
            self._out.write(
                _table_line([c.header for c in self._columns], self._columns, self._widths) + "\n"
            )
            self._out.write("  ".join("-" * w for w in self._widths) + "\n")
        cells = [c.cell(message) for c in self._columns]
        self._out.write(_table_line(cells, self._columns, self._widths) + "\n")

    def finish(self) -> None:
        self._out.flush()


def table_lines(
    messages: Sequence[Message], cls: type[Message], shorten: bool
) -> tuple[list[str], list[str]]:
    """A whole result as table lines, ``(header, rows)``: only the columns some record sets,
    each as wide as its widest value (up to MAX_WIDTH)."""
    columns = _columns(cls, shorten)
    rows = [[c.cell(m) for c in columns] for m in messages]
    keep = [i for i in range(len(columns)) if any(row[i] for row in rows)]
    if not keep:  # nothing set anywhere (or no records): still name the columns
        keep = list(range(len(columns)))
    kept = [columns[i] for i in keep]
    widths = [
        min(MAX_WIDTH, max([len(columns[i].header), *(len(row[i]) for row in rows)])) for i in keep
    ]
    header = [
        _table_line([c.header for c in kept], kept, widths),
        "  ".join("-" * w for w in widths),
    ]
    return header, [_table_line([row[i] for i in keep], kept, widths) for row in rows]


def record_count(count: int) -> str:
    return f"{count:,} record{'' if count == 1 else 's'}"


def result_text(result: Message | None) -> str:
    """The QueryResult's set fields by wire name (``numMessagesSent=5, queryElapsed=...``)."""
    if result is None:
        return "no QueryResult"
    return ", ".join(
        f"{c.header}={c.cell(result)}"
        for c in _columns(type(result), shorten=True)
        if c.get(result) is not None
    )
