"""The ``srmlink`` command line."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _generate(args: argparse.Namespace) -> int:
    from .codegen.build import generate
    from .codegen.errors import SchemaError
    from .codegen.locate import locate_schema, messages_dir
    from .codegen.report import report_json, summary

    try:
        root = locate_schema(args.schema)
        out = Path(args.out) if args.out else messages_dir()
        result = generate(root, out, label=args.label, check=args.check)
    except SchemaError as exc:
        print(f"srmlink generate: {exc}", file=sys.stderr)
        return 2
    print(summary(result.schema))
    if args.report:
        Path(args.report).write_text(report_json(result.schema), encoding="utf-8")
        print(f"  report written to {args.report}")
    assert result.written is not None
    w = result.written
    verb = "would change" if args.check else "wrote"
    print(
        f"{verb} {len(w.written)} files, {len(w.unchanged)} unchanged, "
        f"{len(w.removed)} {'to remove' if args.check else 'removed'} in {out} "
        f"({result.seconds:.2f} s)"
    )
    return 1 if args.check and (w.written or w.removed) else 0


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    try:
        from .server import LocalServer
        from .server.app import is_loopback
    except ImportError as exc:
        print(f"srmlink serve needs the server extra: pip install 'srmlink[server]' ({exc})")
        return 2
    from .messages import registry
    from .server.app import StreamLimits

    given = {dest: getattr(args, dest) for _, dest, _, _ in _LIMIT_FLAGS}
    limits = StreamLimits(**{dest: value for dest, value in given.items() if value is not None})
    server = LocalServer(
        registry,
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        jwt_secret=args.jwt_secret or os.environ.get("SRMLINK_JWT_SECRET") or None,
        demo=args.demo,
        tick=args.tick,
        heartbeat=args.heartbeat,
        faults=args.faults,
        limits=limits,
    )

    if args.faults and not is_loopback(args.host):
        print(
            f"WARNING: --faults on {args.host}, which is not loopback: anyone who can reach it "
            "(with the API key) can drop, stall or corrupt every stream. Use it on 127.0.0.1.",
            file=sys.stderr,
            flush=True,
        )

    def ready(srv: LocalServer) -> None:
        auth = "API key required" if args.api_key else "any API key accepted"
        if srv.handler.keys.jwt_enabled:
            auth += ", JWTs accepted"
        ws_url = srv.url.replace("http://", "ws://", 1)
        print(
            f"srmlink serve: REST on {srv.url}/rest/{{json,jsonf,proto}}, "
            f"WebSocket on {ws_url}/mlink/{{json,jsonf,proto}} ({auth}"
            f"{', demo data' if args.demo else ''}{', fault injection on' if args.faults else ''})",
            flush=True,
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve_forever(ready))
    return 0


# srmlink serve's WebSocket limits: flag, StreamLimits attribute, type, help.
_LIMIT_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--max-message-bytes", "max_message_bytes", int,
     "largest incoming WebSocket message, also before logon (default 1 MiB)"),
    ("--logon-timeout", "logon_timeout", float,
     "seconds a WebSocket may stay without logging on (default 10)"),
    ("--max-connections", "max_connections", int,
     "open WebSocket connections at once (default 256)"),
    ("--max-queued-bytes", "max_queued_bytes", int,
     "bytes queued for a slow WebSocket client before it is disconnected (default 16 MiB)"),
)  # fmt: skip


def _add_limit_flags(serve: argparse.ArgumentParser) -> None:
    for flag, dest, kind, text in _LIMIT_FLAGS:
        serve.add_argument(flag, dest=dest, type=kind, help=text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srmlink", description="SpiderRock MLink for Python")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="generate srmlink.messages from an MLink schema")
    gen.add_argument(
        "--schema",
        metavar="DIR",
        help="schema directory (default: $SRMLINK_SCHEMA, ./proto_files, "
        "../shared/spiderrock-schema/2026-07)",
    )
    gen.add_argument("--report", metavar="FILE", help="write the full reconciliation report (JSON)")
    gen.add_argument("--out", metavar="DIR", help="output folder (default: the installed package)")
    gen.add_argument("--label", help="schema label for headers (default: the folder name)")
    gen.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if files would change"
    )
    gen.set_defaults(handler=_generate)
    serve = commands.add_parser("serve", help="run a local MLink-compatible server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8642, help="port (0 picks a free one)")
    serve.add_argument(
        "--api-key", help="require this API key, KEY or KEY.PASSWORD (default: accept any)"
    )
    serve.add_argument(
        "--jwt-secret",
        help="accept HS256 JWTs signed with this secret (default: $SRMLINK_JWT_SECRET; "
        "the variable keeps it out of the process list)",
    )
    serve.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="seed demo option chains whose quotes tick (default on)",
    )
    serve.add_argument(
        "--tick", type=float, default=0.2, help="seconds between demo quote updates (0: none)"
    )
    serve.add_argument(
        "--heartbeat", type=float, default=10.0, help="seconds between MLinkHeartbeat messages"
    )
    serve.add_argument(
        "--faults",
        action="store_true",
        help="enable POST /srmlink/fault/{drop,stall,garbage} (resilience tests)",
    )
    _add_limit_flags(serve)
    serve.set_defaults(handler=_serve)
    from .codegen.schema_cli import add_schema_commands

    add_schema_commands(commands)
    from .cli_data import add_data_commands

    add_data_commands(commands)
    from .cli_record import add_record_command

    add_record_command(commands)
    from .cli_relay import add_relay_command

    add_relay_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``srmlink`` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
