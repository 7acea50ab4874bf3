"""``srmlink record``: a live stream written to rotating Parquet files.

Each file is complete and readable as soon as it appears (see
:class:`srmlink.frames.parquet.RotatingParquetWriter`); Ctrl-C, ``--count`` or ``--seconds``
end the run after writing every record received and closing the last file.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from .cli_data import (
    _POLL,
    _Ended,
    _Interrupt,
    _non_negative_int,
    _on_event,
    _positive_float,
    _positive_int,
    _run,
    _want_progress,
    add_connection,
    add_progress,
    add_selection,
    open_stream,
)
from .cli_output import ProgressDisplay, record_count
from .errors import SRMLinkError

if TYPE_CHECKING:
    from .frames.parquet import RotatingParquetWriter
    from .message import Message
    from .stream import MLinkStream

__all__ = ["add_record_command"]


def add_record_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``srmlink record``."""
    record = subparsers.add_parser(
        "record",
        help="write a live stream to rotating Parquet files (WebSocket)",
        description="Subscribe over the WebSocket and append every record to Parquet files in "
        "--output DIR, starting a new file by --rotate-records, --rotate-mb or "
        "--rotate-seconds. A file is named NAME.parquet only once it is complete. Ends on "
        "Ctrl-C, --count or --seconds, after writing every record received (exit 0).",
    )
    add_selection(record)
    record.add_argument("--output", metavar="DIR", required=True, help="folder for the files")
    record.add_argument(
        "--rotate-records", metavar="N", type=_positive_int, help="new file after N records"
    )
    record.add_argument(
        "--rotate-mb", metavar="MB", type=_positive_float, help="new file at about MB megabytes"
    )
    record.add_argument(
        "--rotate-seconds",
        metavar="S",
        type=_positive_float,
        default=3600.0,
        help="new file after S seconds (default 3600)",
    )
    record.add_argument("--count", metavar="N", type=_positive_int, help="stop after N records")
    record.add_argument("--seconds", metavar="S", type=_positive_float, help="stop after S seconds")
    record.add_argument(
        "--active-latency",
        metavar="MS",
        type=_non_negative_int,
        help="have the server send updates every MS milliseconds (default: when written)",
    )
    add_progress(record, "always, when stderr is a terminal")
    add_connection(record, ("ws", "wss"))
    record.set_defaults(handler=_record)


def _record(args: argparse.Namespace) -> int:
    return _run("record", args, lambda: _record_body(args))


def _record_body(args: argparse.Namespace) -> int:
    from .frames.parquet import RotatingParquetWriter
    from .messages import registry

    cls = registry.by_name(args.msgtype)
    writer = RotatingParquetWriter(
        args.output,
        cls,
        max_records=args.rotate_records,
        max_bytes=None if args.rotate_mb is None else int(args.rotate_mb * 1_000_000),
        max_seconds=args.rotate_seconds,
        batch_records=1_000,
    )
    stream = open_stream(args)
    try:
        with _Interrupt() as interrupt:
            stream.connect()
            subscription = stream.subscribe(
                cls, where=args.where, view=args.view, active_latency=args.active_latency
            )
            _write_stream(
                args, stream, cls, subscription.query_id, writer=writer, interrupt=interrupt
            )
    except KeyboardInterrupt:  # a second Ctrl-C, or one while connecting
        pass
    finally:
        try:
            writer.close()  # every record received is in a closed file
        finally:
            stream.close()
    print(
        f"srmlink record: wrote {record_count(writer.written)} to {len(writer.files)} "
        f"file(s) in {args.output}",
        file=sys.stderr,
    )
    return 0


def _write_stream(
    args: argparse.Namespace,
    stream: MLinkStream,
    cls: type[Message],
    query_id: int,
    *,
    writer: RotatingParquetWriter[Message],
    interrupt: _Interrupt,
) -> None:
    count: int | None = args.count
    show = _want_progress(args, long=True)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    with ProgressDisplay(show, f"recording {cls.MSG_NAME}", count) as progress:
        while (count is None or writer.written + writer.buffered < count) and not (
            interrupt.requested
        ):
            wait = _POLL
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            try:
                event = stream.next_event(wait)
            except StopIteration:
                progress.note("srmlink record: the stream ended")
                break
            except SRMLinkError:
                raise
            except TimeoutError:
                writer.tick()
                continue
            try:
                message = _on_event(event, cls, query_id, progress)
            except _Ended as ended:
                progress.note(f"srmlink record: {ended}")
                break
            if message is not None:
                writer.write(message)
                progress.advance()
