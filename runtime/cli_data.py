"""``srmlink query`` and ``srmlink stream``: MLink records on the command line.

``query`` runs one REST ``getmsgs`` and prints the records; ``stream`` subscribes over the
WebSocket and prints each record as it arrives. Both write a table (for people), JSON lines
(wire names, as MLink's JSON) or CSV (wire names; primary-key parts as their flat text,
repeaters as JSON text), to stdout or ``--output FILE``.

Stdout carries records only, so it can be piped; notes, errors and the progress display go
to stderr. A typed srmlink error (bad clause, refused key, unreachable host...) prints one
line and exits 2, with any credential scrubbed from it.

This module is imported whenever the ``srmlink`` parser is built, by every command, so its
top level stays light: each command imports the clients, codecs and ``rich`` when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from .auth import Credentials, redact
from .errors import MLinkStreamError, QueryError, SRMLinkError

if TYPE_CHECKING:
    from rich.progress import Progress

    from .message import FieldSpec, Message
    from .rest import RestResult
    from .stream import MLinkStream
    from .stream.events import Event

__all__ = ["add_data_commands"]

FORMATS = ("table", "json", "csv")
MAX_WIDTH = 40  # a table column never grows past this (an OptionKey's flat text fits)
LONG_TRANSFER = 1000  # records: beyond this a piped transfer shows progress on a terminal
_POLL = 0.25  # seconds a stream waits for an event before looking at Ctrl-C and the clock
_EXIT_USER_ERROR = 2
_EXIT_INTERRUPTED = 130
_EXIT_BROKEN_PIPE = 141  # what a shell reports for a process killed by SIGPIPE
_NUMERIC = frozenset({"Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong", "Float", "Double"})
_F32 = struct.Struct("<f")
# Table cells are one line each: control characters are shown escaped.
_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


# ---- the parser ---------------------------------------------------------------------------


def add_data_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``query``, ``stream`` and ``demo`` under ``subparsers`` (``srmlink`` commands)."""
    query = subparsers.add_parser(
        "query",
        help="print the records of a message type (REST getmsgs)",
        description="Run one REST getmsgs and print the records, then the QueryResult "
        "(table format). Exit status 0, or 2 with a one-line message on stderr.",
    )
    _add_common(query, schemes=("http", "https"), long=f"there are over {LONG_TRANSFER:,}")
    query.add_argument("--order", metavar="O", help="order clause, e.g. bidsize:DESC")
    query.add_argument(
        "--limit", metavar="N", type=_limit, help="at most N records (1..10,000; MLink's limit)"
    )
    for key, example in (
        ("tkey", "AAPL-NMS-EQT"),
        ("ekey", "AAPL-NMS-EQT-2026-12-18"),
        ("okey", "AAPL-NMS-EQT-2026-12-18-190-C"),
    ):
        query.add_argument(f"--{key}", metavar="K", help=f"only records of this key ({example})")
    query.set_defaults(handler=_query)

    stream = subparsers.add_parser(
        "stream",
        help="print records of a message type as they arrive (WebSocket)",
        description="Subscribe over the WebSocket and print each record as it arrives, "
        "until --count records, --seconds elapsed or Ctrl-C (all exit 0). Reconnections "
        "are noted on stderr.",
    )
    _add_common(
        stream, schemes=("ws", "wss"), long=f"--count is over {LONG_TRANSFER:,} or not given"
    )
    stream.add_argument("--count", metavar="N", type=_positive_int, help="stop after N records")
    stream.add_argument("--seconds", metavar="S", type=_positive_float, help="stop after S seconds")
    stream.add_argument(
        "--active-latency",
        metavar="MS",
        type=_non_negative_int,
        help="have the server send updates every MS milliseconds (0: as soon as they "
        "happen); default: whenever this client has printed everything it was sent",
    )
    stream.set_defaults(handler=_stream)

    demo = subparsers.add_parser(
        "demo",
        help="a short typed session against a local server with demo data (no account needed)",
        description="Start a local MLink server with demo option chains (or use --host), run "
        "one REST query with a typed where clause and stream live quotes for a few seconds.",
    )
    demo.add_argument("--host", metavar="H", help="a running server instead (HOST:PORT)")
    demo.add_argument("--api-key", metavar="K", help="its API key (default $SRMLINK_API_KEY)")
    demo.add_argument(
        "--seconds", metavar="S", type=_positive_float, default=3.0, help="how long to stream"
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from .demo_session import run_demo

    def body() -> int:
        run_demo(host=args.host, api_key=args.api_key, seconds=args.seconds)
        return 0

    return _run("demo", args, body)


def _add_common(parser: argparse.ArgumentParser, *, schemes: tuple[str, str], long: str) -> None:
    parser.add_argument("msgtype", metavar="MSGTYPE", help="message type, e.g. OptionNbboQuote")
    parser.add_argument("--where", metavar="W", help="where clause, e.g. okey.tk:eq:AAPL")
    parser.add_argument("--view", metavar="V", help="fields to fetch, e.g. bidprice|askprice")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (default), json (one object per line, wire names) or csv",
    )
    parser.add_argument("--output", metavar="FILE", help="write the records to FILE (- for stdout)")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal and records go to "
        f"--output, or to a pipe and {long})",
    )
    parser.add_argument(
        "--host",
        metavar="H",
        help="HOST[:PORT] or a URL such as http://127.0.0.1:8642 (default: the --endpoint's)",
    )
    parser.add_argument(
        "--scheme",
        choices=schemes,
        help=f"{schemes[0]} or {schemes[1]} (default: the --host URL's, else {schemes[1]})",
    )
    parser.add_argument(
        "--endpoint",
        choices=("live", "delayed"),
        default="live",
        help="SpiderRock's live or delayed host (default live)",
    )
    parser.add_argument(
        "--encoding",
        choices=("json", "jsonf", "proto"),
        default="proto",
        help="wire encoding (default proto, the smallest)",
    )
    parser.add_argument(
        "--api-key",
        metavar="K",
        help="API key, KEY or KEY.PASSWORD (default: $SRMLINK_API_KEY, which is better: "
        "other users can see command lines)",
    )


def _limit(text: str) -> int:
    value = _positive_int(text)
    if value > 10_000:
        raise argparse.ArgumentTypeError(f"at most 10,000, not {value:,}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text}")
    return value


# ---- shared machinery ---------------------------------------------------------------------


def _credentials(args: argparse.Namespace) -> Credentials | None:
    """The credentials to use, built here so a malformed key is a user error, not a crash
    inside a client's background thread."""
    return Credentials.from_token(args.api_key) if args.api_key else Credentials.from_env()


def _address(args: argparse.Namespace, *, websocket: bool) -> tuple[str | None, str]:
    """``(host, scheme)`` from ``--host`` (which may be a URL, as ``srmlink serve`` prints
    them) and ``--scheme``; a URL's scheme is mapped to the transport's (http -> ws...)."""
    host: str | None = args.host
    scheme: str | None = args.scheme
    if host and "://" in host:
        given, _, rest = host.partition("://")
        host = rest.split("/", 1)[0]
        secure = given.lower() in ("https", "wss")
        if scheme is None:
            scheme = ("wss" if secure else "ws") if websocket else ("https" if secure else "http")
    if scheme is None:
        scheme = "wss" if websocket else "https"
    return host or None, scheme


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _isatty(stream: object) -> bool:
    try:
        return bool(getattr(stream, "isatty", lambda: False)())
    except ValueError:  # a closed stream
        return False


def _want_progress(args: argparse.Namespace, *, long: bool) -> bool:
    """Whether to show progress: as asked, else only on a terminal stderr (a progress bar in a
    log file is noise), and only when stdout is not where the records scroll by."""
    if args.progress is not None:
        return bool(args.progress)
    if not _isatty(sys.stderr):
        return False
    to_file = args.output not in (None, "-")
    return to_file or (long and not _isatty(sys.stdout))


def _run(command: str, args: argparse.Namespace, body: Callable[[], int]) -> int:
    """Run a command's body; user errors become one scrubbed line on stderr and exit 2."""
    secrets: tuple[str, ...] = (args.api_key,) if args.api_key else ()
    try:
        credentials = _credentials(args)
        if credentials is not None:
            secrets = (*credentials.secrets(), *secrets)
        return body()
    except (SRMLinkError, ValueError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            return _broken_pipe()
        # The clients redact already; this is the last line of defence for the key.
        text = redact(_one_line(str(exc) or type(exc).__name__), secrets)
        print(f"srmlink {command}: {text}", file=sys.stderr)
        return _EXIT_USER_ERROR
    except KeyboardInterrupt:  # the user stopped it: no traceback, the shell's usual status
        return _EXIT_INTERRUPTED


def _broken_pipe() -> int:
    """The reader went away (``| head``): stop quietly, as a SIGPIPE'd tool would."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        # Python would complain again flushing stdout at exit: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return _EXIT_BROKEN_PIPE


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """Where records go: stdout, or FILE (opened only once there is something to write, so a
    failed query leaves an existing file alone)."""
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    # newline="": the csv module writes its own line ends.
    with open(path, "w", encoding="utf-8", newline="") as file:
        yield file


class _Progress:
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

    def __enter__(self) -> _Progress:
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
def _waiting(enabled: bool, text: str) -> Iterator[None]:
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


def _view_columns(cls: type[Message], view: str | None, shorten: bool) -> list[_Column]:
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


class _Sink(Protocol):
    def write(self, message: Message) -> None: ...

    def finish(self) -> None: ...


class _JsonLines:
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


class _CsvRows:
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


class _StreamTable:
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


def _table(
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


def _records(count: int) -> str:
    return f"{count:,} record{'' if count == 1 else 's'}"


def _result_text(result: Message | None) -> str:
    """The QueryResult's set fields by wire name (``numMessagesSent=5, queryElapsed=...``)."""
    if result is None:
        return "no QueryResult"
    return ", ".join(
        f"{c.header}={c.cell(result)}"
        for c in _columns(type(result), shorten=True)
        if c.get(result) is not None
    )


# ---- srmlink query ------------------------------------------------------------------------


def _query(args: argparse.Namespace) -> int:
    """``srmlink query``: one getmsgs, printed."""
    return _run("query", args, lambda: _query_body(args))


def _query_body(args: argparse.Namespace) -> int:
    from .messages import registry
    from .rest import MLinkClient

    cls = registry.by_name(args.msgtype)
    host, scheme = _address(args, websocket=False)
    shorten = args.encoding == "proto"
    with (
        MLinkClient(
            _credentials(args),
            endpoint=args.endpoint,
            host=host,
            scheme=scheme,
            encoding=args.encoding,
        ) as client,
        _waiting(_want_progress(args, long=False), f"querying {cls.MSG_NAME}…"),
    ):
        result: RestResult = client.getmsgs(
            cls,
            tkey=args.tkey,
            ekey=args.ekey,
            okey=args.okey,
            where=args.where,
            view=args.view,
            order=args.order,
            limit=args.limit,
        )
    records = [m for m in result.messages if isinstance(m, cls)]
    skipped = len(result.messages) - len(records)
    show = _want_progress(args, long=len(records) > LONG_TRANSFER)
    with (
        _output(args.output) as out,
        _Progress(show, f"writing {cls.MSG_NAME}", len(records)) as progress,
    ):
        if skipped:
            progress.note(f"srmlink query: skipped {skipped} record(s) not of type {cls.MSG_NAME}")
        if args.format == "table":
            header, rows = _table(records, cls, shorten)
            out.write("".join(line + "\n" for line in header))
            for line in rows:
                out.write(line + "\n")
                progress.advance()
            out.write(f"{_records(len(records))}; {_result_text(result.query_result)}\n")
        else:
            sink: _Sink = (
                _JsonLines(out, cls, shorten)
                if args.format == "json"
                else _CsvRows(out, _view_columns(cls, args.view, shorten))
            )
            for message in records:
                sink.write(message)
                progress.advance()
            sink.finish()
    if args.output not in (None, "-"):
        # Nothing else would say what happened: stdout is empty.
        print(
            f"srmlink query: wrote {_records(len(records))} to {args.output} "
            f"({_result_text(result.query_result)})",
            file=sys.stderr,
        )
    return 0


# ---- srmlink stream -----------------------------------------------------------------------


class _Interrupt:
    """Turns the first Ctrl-C into a flag the stream loop checks between events, so the loop
    ends between two waits and the stream closes with no request of the consumer left pending
    in its event loop; a second Ctrl-C interrupts at once. Only the main thread can own signal
    handlers: elsewhere this is inert."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _Interrupt:
        # Not in other threads (Python forbids it), nor where Ctrl-C is ignored (nohup, a
        # background job of a script): that choice stands.
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


def _stream(args: argparse.Namespace) -> int:
    """``srmlink stream``: a subscription, printed as it arrives."""
    return _run("stream", args, lambda: _stream_body(args))


def _stream_body(args: argparse.Namespace) -> int:
    from .messages import registry
    from .stream import MLinkStream

    cls = registry.by_name(args.msgtype)
    host, scheme = _address(args, websocket=True)
    # Closed on every path below: it owns a background thread running an event loop.
    stream = MLinkStream(
        _credentials(args),
        endpoint=args.endpoint,
        host=host,
        scheme=scheme,
        encoding=args.encoding,
    )
    try:
        with _Interrupt() as interrupt:
            stream.connect()
            query_id = stream.subscribe(
                cls, where=args.where, view=args.view, active_latency=args.active_latency
            )
            _print_stream(args, stream, cls, query_id, interrupt)
    except KeyboardInterrupt:  # a second Ctrl-C, or one while connecting
        return 0
    finally:
        stream.close()
    return 0


def _print_stream(
    args: argparse.Namespace,
    stream: MLinkStream,
    cls: type[Message],
    query_id: int,
    interrupt: _Interrupt,
) -> None:
    """Print records until --count, --seconds, Ctrl-C or the end of the stream."""
    shorten = args.encoding == "proto"
    count: int | None = args.count
    show = _want_progress(args, long=count is None or count > LONG_TRANSFER)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    with (
        _output(args.output) as out,
        _Progress(show, f"streaming {cls.MSG_NAME}", count) as progress,
    ):
        sink: _Sink
        if args.format == "json":
            sink = _JsonLines(out, cls, shorten)
        elif args.format == "csv":
            sink = _CsvRows(out, _view_columns(cls, args.view, shorten))
            out.flush()
        else:
            sink = _StreamTable(out, cls, shorten)
        written = 0
        while (count is None or written < count) and not interrupt.requested:
            wait = _POLL
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            try:
                event = stream.next_event(wait)
            except StopIteration:
                progress.note("srmlink stream: the stream ended")
                break
            except SRMLinkError:
                raise
            except TimeoutError:  # nothing yet: look at the clock and Ctrl-C again
                continue
            try:
                message = _on_event(event, cls, query_id, progress)
            except _Ended as ended:
                progress.note(f"srmlink stream: {ended}")
                break
            if message is not None:
                sink.write(message)
                # Flushed per record: a reader at the other end of a pipe sees it now.
                out.flush()
                written += 1
                progress.advance()
        sink.finish()
    if args.output not in (None, "-"):
        print(f"srmlink stream: wrote {_records(written)} to {args.output}", file=sys.stderr)


class _Ended(Exception):
    """The server ended the subscription without an error (a Terminated checkpoint)."""


def _on_event(
    event: Event, cls: type[Message], query_id: int, progress: _Progress
) -> Message | None:
    """The record to print in ``event``, if any; notes on stderr what else matters.

    Raises:
        MLinkStreamError: the server refused the subscription or failed it.
        _Ended: the server ended it (Terminated).
    """
    from .stream.events import BadMessage, CheckPoint, Reconnected, Record, StreamAck

    if isinstance(event, Record):
        # Records of other types (an UnknownMessage among them) have no place in the columns.
        return event.message if isinstance(event.message, cls) else None
    if isinstance(event, StreamAck) and not event.ok and event.query_id in (query_id, None):
        detail = f": {event.detail}" if event.detail else ""
        raise MLinkStreamError(f"{cls.MSG_NAME}: subscription refused: {event.result}{detail}")
    if isinstance(event, CheckPoint) and event.query_id == query_id:
        detail = f": {event.detail}" if event.detail else ""
        if event.state == "Error":
            raise MLinkStreamError(f"{cls.MSG_NAME}: the stream failed{detail}")
        if event.state == "Terminated":
            raise _Ended(f"the server ended the {cls.MSG_NAME} stream{detail}")
    if isinstance(event, Reconnected):
        progress.note(
            f"srmlink stream: reconnected after {event.reason} "
            f"({event.attempts} attempt{'s' if event.attempts != 1 else ''}); "
            "records resume from the last checkpoint"
        )
    elif isinstance(event, BadMessage):
        progress.note(f"srmlink stream: skipped a message: {_one_line(str(event.error))}")
    return None
