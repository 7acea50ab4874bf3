"""``srmlink query`` and ``srmlink stream``: MLink records on the command line.

``query`` runs one REST ``getmsgs`` and prints the records; ``stream`` subscribes over the
WebSocket and prints each record as it arrives. Both write a table (for people), JSON lines
(wire names, as MLink's JSON) or CSV (wire names; primary-key parts as their flat text,
repeaters as JSON text), to stdout or ``--output FILE``: :mod:`srmlink.cli_output` writes
them.

Stdout carries records only, so it can be piped; notes, errors and the progress display go
to stderr. A typed srmlink error (bad clause, refused key, unreachable host...) prints one
line and exits 2, with any credential scrubbed from it.

This module is imported whenever the ``srmlink`` parser is built, by every command, so its
top level stays light: each command imports the clients, codecs and ``rich`` when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from .auth import Credentials, redact
from .cli_output import (
    CsvRows,
    JsonLines,
    ProgressDisplay,
    Sink,
    StreamTable,
    output,
    record_count,
    result_text,
    table_lines,
    view_columns,
    waiting,
)
from .errors import MLinkStreamError, SRMLinkError

if TYPE_CHECKING:
    from .message import Message
    from .rest import RestResult
    from .stream import MLinkStream
    from .stream.events import Event

__all__ = ["add_data_commands"]

FORMATS = ("table", "json", "csv")
#: Columnar files of `srmlink query` (srmlink.frames; they need --output).
FILE_FORMATS = ("parquet", "arrow")
LONG_TRANSFER = 1000  # records: beyond this a piped transfer shows progress on a terminal
_POLL = 0.25  # seconds a stream waits for an event before looking at Ctrl-C and the clock
_EXIT_USER_ERROR = 2
_EXIT_INTERRUPTED = 130
_EXIT_BROKEN_PIPE = 141  # what a shell reports for a process killed by SIGPIPE


# ---- the parser ---------------------------------------------------------------------------


def add_data_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``query``, ``stream`` and ``demo`` under ``subparsers`` (``srmlink`` commands)."""
    query = subparsers.add_parser(
        "query",
        help="print the records of a message type (REST getmsgs)",
        description="Run one REST getmsgs and print the records, then the QueryResult "
        "(table format). Exit status 0, or 2 with a one-line message on stderr.",
    )
    _add_common(
        query,
        schemes=("http", "https"),
        long=f"there are over {LONG_TRANSFER:,}",
        formats=(*FORMATS, *FILE_FORMATS),
    )
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


def _add_common(
    parser: argparse.ArgumentParser,
    *,
    schemes: tuple[str, str],
    long: str,
    formats: tuple[str, ...] = FORMATS,
) -> None:
    add_selection(parser)
    parser.add_argument(
        "--format",
        choices=formats,
        default="table",
        help="table (default), json (one object per line, wire names), csv"
        + (
            ", parquet or arrow (an Arrow IPC file): those two need --output"
            if "arrow" in formats
            else ""
        ),
    )
    parser.add_argument("--output", metavar="FILE", help="write the records to FILE (- for stdout)")
    add_progress(parser, long)
    add_connection(parser, schemes)


def add_selection(parser: argparse.ArgumentParser) -> None:
    """MSGTYPE, --where and --view."""
    parser.add_argument("msgtype", metavar="MSGTYPE", help="message type, e.g. OptionNbboQuote")
    parser.add_argument("--where", metavar="W", help="where clause, e.g. okey.tk:eq:AAPL")
    parser.add_argument("--view", metavar="V", help="fields to fetch, e.g. bidprice|askprice")


def add_progress(parser: argparse.ArgumentParser, long: str) -> None:
    """--progress / --no-progress."""
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal and records go to "
        f"--output, or to a pipe and {long})",
    )


def add_connection(parser: argparse.ArgumentParser, schemes: tuple[str, str]) -> None:
    """--host, --scheme, --endpoint, --encoding and --api-key."""
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
        waiting(_want_progress(args, long=False), f"querying {cls.MSG_NAME}…"),
    ):
        result: RestResult[Message] = client.getmsgs(
            cls,
            tkey=args.tkey,
            ekey=args.ekey,
            okey=args.okey,
            where=args.where,
            view=args.view,
            order=args.order,
            limit=args.limit,
        )
    records = list(result.messages)
    skipped = len(result.others) + len(result.unknown)
    if args.format in FILE_FORMATS:
        return _write_columnar(args, cls, records, skipped, result)
    show = _want_progress(args, long=len(records) > LONG_TRANSFER)
    with (
        output(args.output) as out,
        ProgressDisplay(show, f"writing {cls.MSG_NAME}", len(records)) as progress,
    ):
        if skipped:
            progress.note(f"srmlink query: skipped {skipped} record(s) not of type {cls.MSG_NAME}")
        if args.format == "table":
            header, rows = table_lines(records, cls, shorten)
            out.write("".join(line + "\n" for line in header))
            for line in rows:
                out.write(line + "\n")
                progress.advance()
            out.write(f"{record_count(len(records))}; {result_text(result.query_result)}\n")
        else:
            sink: Sink = (
                JsonLines(out, cls, shorten)
                if args.format == "json"
                else CsvRows(out, view_columns(cls, args.view, shorten))
            )
            for message in records:
                sink.write(message)
                progress.advance()
            sink.finish()
    if args.output not in (None, "-"):
        # Nothing else would say what happened: stdout is empty.
        print(
            f"srmlink query: wrote {record_count(len(records))} to {args.output} "
            f"({result_text(result.query_result)})",
            file=sys.stderr,
        )
    return 0


def _write_columnar(
    args: argparse.Namespace,
    cls: type[Message],
    records: list[Message],
    skipped: int,
    result: RestResult[Message],
) -> int:
    """``--format parquet|arrow``: one Arrow table of the records, to --output FILE."""
    from .frames import to_arrow
    from .frames._arrow import require

    if args.output in (None, "-"):
        raise ValueError(f"--format {args.format} writes a file: give --output FILE")
    table = to_arrow(records, cls)
    if args.format == "parquet":
        require("pyarrow.parquet").write_table(table, args.output)
    else:
        ipc = require("pyarrow.ipc")
        with ipc.new_file(args.output, table.schema) as writer:
            writer.write_table(table)
    note = f"; skipped {skipped} record(s) not of type {cls.MSG_NAME}" if skipped else ""
    print(
        f"srmlink query: wrote {record_count(len(records))} to {args.output} "
        f"({args.format}; {result_text(result.query_result)}){note}",
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

    cls = registry.by_name(args.msgtype)
    # Closed on every path below: it owns a background thread running an event loop.
    stream = open_stream(args)
    try:
        with _Interrupt() as interrupt:
            stream.connect()
            subscription = stream.subscribe(
                cls, where=args.where, view=args.view, active_latency=args.active_latency
            )
            _print_stream(args, stream, cls, subscription.query_id, interrupt)
    except KeyboardInterrupt:  # a second Ctrl-C, or one while connecting
        return 0
    finally:
        stream.close()
    return 0


def open_stream(args: argparse.Namespace) -> MLinkStream:
    """An unconnected MLinkStream as the command line's connection options ask."""
    from .stream import MLinkStream

    host, scheme = _address(args, websocket=True)
    return MLinkStream(
        _credentials(args),
        endpoint=args.endpoint,
        host=host,
        scheme="wss" if scheme == "wss" else "ws",  # _address gives ws or wss here
        encoding=args.encoding,
    )


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
        output(args.output) as out,
        ProgressDisplay(show, f"streaming {cls.MSG_NAME}", count) as progress,
    ):
        sink: Sink
        if args.format == "json":
            sink = JsonLines(out, cls, shorten)
        elif args.format == "csv":
            sink = CsvRows(out, view_columns(cls, args.view, shorten))
            out.flush()
        else:
            sink = StreamTable(out, cls, shorten)
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
        print(f"srmlink stream: wrote {record_count(written)} to {args.output}", file=sys.stderr)


class _Ended(Exception):
    """The server ended the subscription without an error (a Terminated checkpoint)."""


def _on_event(
    event: Event, cls: type[Message], query_id: int, progress: ProgressDisplay
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
