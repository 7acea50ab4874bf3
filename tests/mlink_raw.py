"""Read MLink replies the way SpiderRock's own samples do: plain JSON, hand-split frames.

For the server conformance tests, which must not trust srmlink's own client or codecs to
judge the server: json and jsonf bodies are parsed with the standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from srmlink.testing import ServerProcess, start_server

from .conftest import _ISOLATE, snapshot_dir

_FRAME = re.compile(rb"\r\n([JP])(\d{5})(\d{6})")
LAUNCH = _ISOLATE + "from srmlink.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
JWT_SECRET = "jwt-s3cret-for-tests-4f2a"


def frames(body: bytes) -> list[tuple[str, int, bytes]]:
    """(kind, mNum, payload) of every frame, split by the 14-byte header's length."""
    out, pos = [], 0
    while pos < len(body):
        match = _FRAME.match(body, pos)
        assert match is not None, f"no frame header at byte {pos}: {body[pos : pos + 20]!r}"
        start = match.end()
        end = start + int(match[3])
        assert end <= len(body), f"frame at {pos} truncated"
        out.append((match[1].decode(), int(match[2]), body[start:end]))
        pos = end
    return out


def envelopes(body: bytes, encoding: str) -> list[tuple[str, dict[str, Any]]]:
    """(mTyp, message members) of every item of a json or jsonf body."""
    if encoding == "json":
        items = json.loads(body)
    else:
        items = [json.loads(payload) for _, _, payload in frames(body)]
    return [(item["header"]["mTyp"], item["message"]) for item in items]


def serve(
    staged: Callable[[Path], Path], snapshot: str, *, key: str, extra: tuple[str, ...] = ()
) -> ServerProcess:
    """``srmlink serve`` of ``snapshot``'s bindings (in a process importing only them), with
    the tests' JWT secret."""
    env = {**os.environ, "SRMLINK_JWT_SECRET": JWT_SECRET}
    args: dict[str, Any] = {"api_key": key, "extra": ["--tick", "0", *extra], "env": env}
    if snapshot != "2026-07":
        env["PYTHONPATH"] = str(staged(snapshot_dir(snapshot)))
        args["launcher"] = [sys.executable, "-c", LAUNCH]
    return start_server(**args)


@contextlib.contextmanager
def serving(
    staged: Callable[[Path], Path], snapshot: str, *, key: str
) -> Iterator[tuple[str, ServerProcess]]:
    """(snapshot, server) of :func:`serve`, stopped on exit."""
    srv = serve(staged, snapshot, key=key)
    try:
        yield snapshot, srv
    finally:
        srv.stop()
