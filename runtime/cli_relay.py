"""``srmlink relay``: MLink records into Redis Streams and a last-value cache."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

__all__ = ["add_relay_command"]


def add_relay_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``srmlink relay``."""
    from .cli_data import _non_negative_int, _positive_int, add_selection

    relay = subparsers.add_parser(
        "relay", help="relay a message type into Redis Streams with N worker processes"
    )
    add_selection(relay)
    relay.add_argument("--redis", required=True, metavar="URL", help="redis://HOST:PORT[/DB]")
    relay.add_argument("--workers", type=_positive_int, default=1, help="worker processes")
    relay.add_argument("--host", metavar="H", help="MLink HOST[:PORT] or URL (default: live)")
    relay.add_argument("--scheme", choices=("ws", "wss"), help="ws or wss")
    relay.add_argument(
        "--encoding", choices=("proto", "jsonf"), default="proto", help="frames stored"
    )
    relay.add_argument(
        "--stripes",
        metavar="CODES",
        help="comma-separated stripe codes to split between the workers (default every stripe, "
        "A..H M S X; halves such as A1,A2 allow more workers)",
    )
    relay.add_argument(
        "--maxlen", type=_positive_int, default=1_000_000, help="stream length bound (MAXLEN ~)"
    )
    relay.add_argument(
        "--full-image-every",
        type=_non_negative_int,
        default=3600,
        metavar="SECONDS",
        help="a restarted worker resumes from its stored highwaterTs if its last full image "
        "is younger than this, and a running worker takes a full image this often (pruning "
        "keys deleted unseen); 0: a full image at every start, none while running "
        "(default 3600)",
    )
    relay.add_argument(
        "--api-key",
        metavar="K",
        help="API key (default: $SRMLINK_API_KEY, which is better: command lines are visible)",
    )
    relay.set_defaults(handler=_relay)


def _relay(args: argparse.Namespace) -> int:
    from .cli_data import _address
    from .errors import QueryError
    from .relay.supervisor import Supervisor, parse_stripes, split_stripes
    from .relay.worker import WorkerConfig
    from .stripes import STRIPES

    try:
        import redis  # noqa: F401
    except ImportError as exc:
        print(f"srmlink relay needs the redis extra: pip install 'srmlink[redis]' ({exc})")
        return 2
    from .errors import UnknownMessageError
    from .messages import registry

    try:
        registry.by_name(args.msgtype)
    except UnknownMessageError as exc:
        print(f"srmlink relay: {exc}", file=sys.stderr)
        return 2
    try:
        stripes = parse_stripes(args.stripes) if args.stripes else STRIPES
        shares = split_stripes(stripes, args.workers)
    except (QueryError, ValueError) as exc:
        print(f"srmlink relay: {exc}", file=sys.stderr)
        return 2
    if args.api_key:
        # The workers read it from their environment: never on a command line or in a log.
        os.environ["SRMLINK_API_KEY"] = args.api_key
    host, scheme = _address(args, websocket=True)
    config = WorkerConfig(
        msgtype=args.msgtype,
        stripes=(),
        redis_url=args.redis,
        host=host,
        scheme="wss" if scheme == "wss" else "ws",
        where=args.where,
        view=args.view,
        encoding=args.encoding,
        maxlen=args.maxlen,
        full_image_every=args.full_image_every,
    )
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return Supervisor(config, shares).run(lambda: bool(stopping))
