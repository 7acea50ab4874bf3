"""``srmlink schema fetch | diff | lock | check``: get the schema, what changed, does it break us.

- ``fetch --out DIR``: getmsgtypes, getschema of every message type and getlayout from a live
  server, written where the generator reads them (see :mod:`srmlink.codegen.fetch`).

- ``diff OLD NEW``: the changelog between two schema directories (either may be a
  ``schema.lock`` file instead, which reports less: see :mod:`srmlink.codegen.lock`).
- ``lock``: write ``schema.lock`` for the configured schema.
- ``check``: compare the configured schema with ``schema.lock``; exit 1 and print the
  changelog if they differ. ``check --live`` fetches the server's schema into a temporary
  folder first and compares that.
- ``refresh``: what the scheduled job does short of opening the pull request (see
  :mod:`srmlink.codegen.refresh`): fetch, check; on a change write the schema, regenerate,
  verify, re-lock and write the changelog.

The configured schema is found as ``srmlink generate`` finds it (``--schema``,
``$SRMLINK_SCHEMA``, ``proto_files/``, ``../shared/spiderrock-schema/2026-07``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SRMLinkError
from . import GENERATOR_VERSION
from .diff import SchemaDiff, diff_schemas
from .errors import SchemaError
from .ir import Schema
from .lock import Lock, diff_lock, diff_locks, load_lock, make_lock

if TYPE_CHECKING:
    from ..auth import Credentials
    from .fetch import Progress

__all__ = ["add_schema_commands"]

DEFAULT_LOCK = "schema.lock"
_SCHEMA_HELP = (
    "schema directory (default: $SRMLINK_SCHEMA, ./proto_files, "
    "../shared/spiderrock-schema/2026-07)"
)


def add_schema_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``schema fetch | diff | lock | check`` under ``subparsers``."""
    schema = subparsers.add_parser(
        "schema", help="fetch the schema, changelogs and the schema.lock check"
    )
    commands = schema.add_subparsers(dest="schema_command", required=True)

    fetch = commands.add_parser(
        "fetch", help="fetch getmsgtypes / getschema / getlayout from a server into DIR"
    )
    fetch.add_argument("--out", metavar="DIR", type=Path, required=True, help="schema folder")
    _server_options(fetch)
    fetch.set_defaults(handler=_fetch)

    diff = commands.add_parser("diff", help="the changelog from OLD to NEW")
    diff.add_argument("old", type=Path, help="schema directory or schema.lock file")
    diff.add_argument("new", type=Path, help="schema directory (or schema.lock file)")
    diff.add_argument("--format", choices=("markdown", "json"), default="markdown")
    diff.add_argument("--output", metavar="FILE", type=Path, help="write here, not to stdout")
    diff.set_defaults(handler=_diff)

    lock = commands.add_parser("lock", help="write schema.lock for the configured schema")
    lock.add_argument("--schema", metavar="DIR", help=_SCHEMA_HELP)
    lock.add_argument("--output", metavar="FILE", type=Path, default=Path(DEFAULT_LOCK))
    lock.set_defaults(handler=_lock)

    check = commands.add_parser(
        "check", help="exit 1 and print the changelog if the schema differs from schema.lock"
    )
    check.add_argument("--schema", metavar="DIR", help=_SCHEMA_HELP)
    check.add_argument("--lock", metavar="FILE", type=Path, default=Path(DEFAULT_LOCK))
    check.add_argument(
        "--live", action="store_true", help="fetch the server's schema and check that instead"
    )
    _server_options(check)
    check.set_defaults(handler=_check)

    refresh = commands.add_parser(
        "refresh",
        help="fetch and check; on a change write the schema, regenerate, verify, re-lock "
        "and write the changelog",
    )
    refresh.add_argument(
        "--schema",
        metavar="DIR",
        type=Path,
        help="the schema folder to write (default: $SRMLINK_SCHEMA, else ./proto_files)",
    )
    refresh.add_argument("--lock", metavar="FILE", type=Path, default=Path(DEFAULT_LOCK))
    refresh.add_argument(
        "--changelog",
        metavar="FILE",
        type=Path,
        default=Path("schema-changelog.md"),
        help="markdown changelog, written only on a change",
    )
    refresh.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mypy --strict and the round trips on the new bindings (default: on)",
    )
    _server_options(refresh)
    refresh.set_defaults(handler=_refresh)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", metavar="H", help="HOST[:PORT] or URL (default: $SRMLINK_HOST, else --endpoint)"
    )
    parser.add_argument("--endpoint", choices=("live", "delayed"), default="live")
    parser.add_argument(
        "--api-key", metavar="K", help="KEY or KEY.PASSWORD (default: $SRMLINK_API_KEY)"
    )
    parser.add_argument(
        "--concurrency", metavar="N", type=int, default=8, help="getschema calls at once"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )


def _credentials(args: argparse.Namespace) -> Credentials | None:
    from ..auth import Credentials  # noqa: PLC0415

    return Credentials.from_token(args.api_key) if args.api_key else Credentials.from_env()


@contextmanager
def _progress(args: argparse.Namespace) -> Iterator[Progress]:
    """A fetch's progress callback: on stderr where the command line wants it."""
    from ..cli_output import ProgressDisplay  # noqa: PLC0415

    show = args.progress if args.progress is not None else sys.stderr.isatty()
    with ProgressDisplay(show, "getschema", None) as display:

        def progress(done: int, total: int) -> None:
            display.advance()

        yield progress


def _fetch_into(out: Path, args: argparse.Namespace) -> None:
    """Run a fetch as the command line asked (progress on stderr where wanted)."""
    from .fetch import fetch_schema  # noqa: PLC0415

    with _progress(args) as progress:
        result = asyncio.run(
            fetch_schema(
                out,
                host=args.host,
                endpoint=args.endpoint,
                credentials=_credentials(args),
                concurrency=args.concurrency,
                progress=progress,
            )
        )
    layout = "getlayout" if result.layout else "no getlayout (not served)"
    print(
        f"fetched {len(result.message_types)} message types into {out} "
        f"(getmsgtypes, getschema, {layout})",
        file=sys.stderr,
    )
    if result.undescribed:
        print(
            f"{len(result.undescribed)} listed message type(s) without a schema (kept by name "
            f"and number): {', '.join(sorted(result.undescribed))}",
            file=sys.stderr,
        )


def _fetch(args: argparse.Namespace) -> int:
    try:
        _fetch_into(args.out, args)
    except (SchemaError, SRMLinkError, ValueError) as exc:
        print(f"srmlink schema fetch: {exc}", file=sys.stderr)
        return 2
    return 0


def _build(root: Path) -> Schema:
    # Imported here: the loaders pull in protoc (~0.1 s), which other commands never need.
    from .build import build_schema  # noqa: PLC0415

    return build_schema(root)


def _configured(explicit: str | None) -> Path:
    from .locate import locate_schema  # noqa: PLC0415

    return locate_schema(explicit)


def _side(path: Path) -> Schema | Lock:
    return load_lock(path) if path.is_file() else _build(path)


def _compare(old: Schema | Lock, new: Schema | Lock) -> SchemaDiff:
    if isinstance(old, Schema) and isinstance(new, Schema):
        return diff_schemas(old, new)
    # With a lock on either side, only what a lock records can be compared.
    old_lock = make_lock(old) if isinstance(old, Schema) else old
    return diff_lock(old_lock, new) if isinstance(new, Schema) else diff_locks(old_lock, new)


def _fail(command: str, exc: SchemaError) -> int:
    print(f"srmlink schema {command}: {exc}", file=sys.stderr)
    return 2


def _diff(args: argparse.Namespace) -> int:
    try:
        result = _compare(_side(args.old), _side(args.new))
    except SchemaError as exc:
        return _fail("diff", exc)
    text = result.to_json() if args.format == "json" else result.to_markdown()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"{len(result.changes)} changes ({len(result.breaking)} breaking) -> {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _lock(args: argparse.Namespace) -> int:
    try:
        root = _configured(args.schema)
        lock = make_lock(_build(root))
    except SchemaError as exc:
        return _fail("lock", exc)
    args.output.write_text(lock.dumps(), encoding="utf-8")
    print(
        f"wrote {args.output}: schema {lock.label} ({root}), {len(lock.messages)} message types, "
        f"{len(lock.enums)} enums"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    if not args.live:
        return _check_against(args, None)
    with tempfile.TemporaryDirectory(prefix="srmlink-live-schema-") as tmp:
        root = Path(tmp) / "schema"
        try:
            _fetch_into(root, args)
        except (SchemaError, SRMLinkError, ValueError) as exc:
            print(f"srmlink schema check: {exc}", file=sys.stderr)
            return 2
        return _check_against(args, root)


def _check_against(args: argparse.Namespace, root: Path | None) -> int:
    if not args.lock.is_file():
        print(
            f"srmlink schema check: {args.lock} does not exist; "
            "write it with `srmlink schema lock`",
            file=sys.stderr,
        )
        return 2
    try:
        lock = load_lock(args.lock)
        root = root if root is not None else _configured(args.schema)
        result = diff_lock(lock, _build(root), wire_only=args.live)
    except SchemaError as exc:
        return _fail("check", exc)
    where = "the live server" if args.live else str(root)
    if not result.changes:
        print(f"OK: schema of {where} matches {args.lock} ({len(lock.messages)} message types)")
        return 0
    if lock.generator_version != GENERATOR_VERSION:
        # Fingerprints cover reconciled fields: a newer generator may reconcile differently.
        print(
            f"note: {args.lock} was written by generator version {lock.generator_version}, "
            f"this is {GENERATOR_VERSION}; some differences may come from the generator.\n"
        )
    sys.stdout.write(result.to_markdown())
    print(
        f"\n{args.lock} does not match the schema of {where}: {len(result.changes)} changes, "
        f"{len(result.breaking)} breaking. Regenerate (`srmlink generate`), review, then "
        "`srmlink schema lock`."
    )
    return 1


def _refresh(args: argparse.Namespace) -> int:
    from .locate import ENV_VAR, messages_dir  # noqa: PLC0415
    from .refresh import refresh_schema  # noqa: PLC0415

    # Never ../shared, where locate_schema would fall back: the refresh writes this folder.
    schema_dir = args.schema or Path(os.environ.get(ENV_VAR) or "proto_files")
    try:
        with _progress(args) as progress:
            result = refresh_schema(
                schema_dir,
                args.lock,
                args.changelog,
                bindings=messages_dir(),
                project=Path.cwd(),
                verify=args.verify,
                host=args.host,
                endpoint=args.endpoint,
                credentials=_credentials(args),
                concurrency=args.concurrency,
                progress=progress,
            )
    except (SchemaError, SRMLinkError, ValueError) as exc:
        print(f"srmlink schema refresh: {exc}", file=sys.stderr)
        return 2
    if not result.changed:
        print(f"OK: the live schema matches {args.lock}; nothing to do")
        return 0
    print(
        f"the live schema differs from the lock: {len(result.diff.changes)} changes, "
        f"{len(result.diff.breaking)} breaking. Wrote {schema_dir}, the bindings, {args.lock} "
        f"and {args.changelog}."
    )
    return 0
