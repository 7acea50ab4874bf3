"""`srmlink schema fetch` / `schema check --live` against real local servers (`srmlink serve`)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from srmlink.auth import Credentials
from srmlink.cli import main
from srmlink.codegen.build import build_schema
from srmlink.codegen.fetch import FetchError, fetch_schema
from srmlink.codegen.schema_cli import DEFAULT_LOCK
from srmlink.testing import ServerProcess, start_server

from .conftest import _ISOLATE, ROOT, snapshot_dir

KEY = "fetch-key"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    srv = start_server(api_key=KEY, demo=False)
    try:
        yield srv
    finally:
        srv.stop()


def _fetch(server: ServerProcess, out: Path, key: str = KEY) -> None:
    asyncio.run(
        fetch_schema(out, host=server.url, credentials=Credentials.from_token(key), concurrency=4)
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_two_fetches_of_one_schema_are_byte_identical(
    tmp_path: Path, server: ServerProcess
) -> None:
    _fetch(server, tmp_path / "a")
    _fetch(server, tmp_path / "b")
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert first == second
    assert "getmsgtypes.json" in first and "getschema/OptionNbboQuote.json" in first
    quote = orjson.loads(first["getschema/OptionNbboQuote.json"])
    names = {e["message"]["name"] for e in quote if e["header"]["mTyp"] == "FieldDesc"}
    assert {"bidPrice", "askPrice", "okey"} <= names
    listed = orjson.loads(first["getmsgtypes.json"])
    assert [e["message"]["name"] for e in listed] == sorted(e["message"]["name"] for e in listed)
    assert all(e["header"] == {"mTyp": "MsgDesc"} for e in listed)


def test_fetched_snapshot_generates_the_same_message_types_and_numbers(
    tmp_path: Path, server: ServerProcess
) -> None:
    out = tmp_path / "schema"
    _fetch(server, out)
    fetched = build_schema(out)
    source = build_schema(snapshot_dir("2026-07"))
    served = {m.name: m.mnum for m in source.messages if m.mnum is not None}
    got = {m.name: m.mnum for m in fetched.messages}
    # Every numbered message type the server's bindings define comes back with its number.
    missing = {name for name in served if name not in got}
    assert not missing, sorted(missing)[:10]
    assert {n: got[n] for n in served} == served


def test_a_refused_fetch_leaves_the_previous_snapshot(
    tmp_path: Path, server: ServerProcess
) -> None:
    out = tmp_path / "schema"
    out.mkdir()
    (out / "marker").write_text("previous")
    with pytest.raises(FetchError) as caught:
        _fetch(server, out, key="wrong-key")
    assert "wrong-key" not in str(caught.value)
    assert (out / "marker").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["schema"]  # no staging folder left


def test_check_live_against_an_older_server_prints_the_changelog(
    staged: Callable[[Path], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A 2023-05 server checked against the 2026-07 lock: OptionNbboQuote 2745 -> 2785."""
    stage = staged(snapshot_dir("2023-05"))
    launch = _ISOLATE + "from srmlink.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    old = start_server(
        api_key=KEY,
        demo=False,
        launcher=[sys.executable, "-c", launch],
        env={**os.environ, "PYTHONPATH": str(stage)},
    )
    try:
        code = main(
            [
                *("schema", "check", "--live", "--host", old.url, "--api-key", KEY),
                *("--lock", str(ROOT / DEFAULT_LOCK), "--no-progress"),
            ]
        )
    finally:
        old.stop()
    out = capsys.readouterr().out
    assert code == 1, out
    line = next(line for line in out.splitlines() if "OptionNbboQuote" in line and "2785" in line)
    assert "2745" in line


def test_check_live_matches_a_server_of_the_locked_schema(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            *("schema", "check", "--live", "--host", server.url, "--api-key", KEY),
            *("--lock", str(ROOT / DEFAULT_LOCK), "--no-progress"),
        ]
    )
    out = capsys.readouterr().out
    # Proto numbers are not on the wire: the live check compares what is.
    assert code == 0, out
    assert "matches" in out
