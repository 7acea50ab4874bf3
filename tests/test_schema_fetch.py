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
from srmlink.codegen.lock import load_lock
from srmlink.codegen.refresh import RefreshError, RefreshResult, refresh_schema
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


@pytest.fixture(scope="module")
def old_server(staged: Callable[[Path], Path]) -> Iterator[ServerProcess]:
    """``srmlink serve`` on the 2023-05 snapshot (before OptionNbboQuote became 2785)."""
    stage = staged(snapshot_dir("2023-05"))
    launch = _ISOLATE + "from srmlink.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    srv = start_server(
        api_key=KEY,
        demo=False,
        launcher=[sys.executable, "-c", launch],
        env={**os.environ, "PYTHONPATH": str(stage)},
    )
    try:
        yield srv
    finally:
        srv.stop()


def test_check_live_against_an_older_server_prints_the_changelog(
    old_server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 2023-05 server checked against the 2026-07 lock: OptionNbboQuote 2745 -> 2785."""
    code = main(
        [
            *("schema", "check", "--live", "--host", old_server.url, "--api-key", KEY),
            *("--lock", str(ROOT / DEFAULT_LOCK), "--no-progress"),
        ]
    )
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


def _refresh(
    server: ServerProcess, tmp_path: Path, lock: Path, *, verify: bool = False
) -> tuple[RefreshResult, Path]:
    schema, changelog = tmp_path / "proto_files", tmp_path / "schema-changelog.md"
    result = refresh_schema(
        schema,
        lock,
        changelog,
        bindings=tmp_path / "generated",
        project=tmp_path,
        verify=verify,
        host=server.url,
        credentials=Credentials.from_token(KEY),
        concurrency=4,
    )
    return result, schema


def test_refresh_of_an_older_server_writes_schema_bindings_lock_and_changelog(
    tmp_path: Path, old_server: ServerProcess
) -> None:
    """The scheduled job's steps against a 2023-05 server with the 2026-07 lock."""
    lock = tmp_path / DEFAULT_LOCK
    lock.write_bytes((ROOT / DEFAULT_LOCK).read_bytes())
    schema = tmp_path / "proto_files"
    schema.mkdir()
    # A stale dictionary would shadow the fetched getschema/: the refresh removes it.
    (schema / "DataDictionaryMLink.csv").write_text("stale")
    result, _ = _refresh(old_server, tmp_path, lock)

    assert result.changed and result.changelog == tmp_path / "schema-changelog.md"
    text = result.changelog.read_text()
    (line,) = [row for row in text.splitlines() if "`OptionNbboQuote`" in row and "2785" in row]
    assert line.index("2785") < line.index("2745"), line  # lock (2026-07) -> server (2023-05)
    assert "## Accepting this change" in text
    assert text.startswith("# Schema changes: 2026-07 (lock) -> live-"), text[:80]
    assert not (schema / "DataDictionaryMLink.csv").exists()
    assert (schema / "getschema" / "OptionNbboQuote.json").is_file()
    # The server sends the schemaHash its 2023-05 getmsgtypes gave; the bindings keep it.
    served = orjson.loads((snapshot_dir("2023-05") / "getmsgtypes.json").read_bytes())
    fetched = orjson.loads((schema / "getmsgtypes.json").read_bytes())
    (source_hash,) = [
        e["message"]["schemaHash"] for e in served if e["message"]["name"] == "OptionNbboQuote"
    ]
    hashes = {e["message"]["name"]: e["message"].get("schemaHash") for e in fetched}
    assert hashes["OptionNbboQuote"] == source_hash
    index = (tmp_path / "generated" / "_index.py").read_text()
    assert f'"OptionNbboQuote", 2745, "OptMktData", "opt_mkt_data", "{source_hash}"' in index
    relocked = {m.name: m.mnum for m in load_lock(lock).messages}
    assert relocked["OptionNbboQuote"] == 2745

    again, _ = _refresh(old_server, tmp_path, lock)
    assert not again.changed and again.changelog is None
    assert not (tmp_path / "schema-changelog.md").exists()


def test_refresh_command_without_a_change_writes_nothing(
    tmp_path: Path, server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    lock, schema = tmp_path / DEFAULT_LOCK, tmp_path / "proto_files"
    lock.write_bytes((ROOT / DEFAULT_LOCK).read_bytes())
    changelog = tmp_path / "schema-changelog.md"
    changelog.write_text("stale, from an earlier run")
    code = main(
        [
            *("schema", "refresh", "--schema", str(schema), "--lock", str(lock)),
            *("--changelog", str(changelog), "--host", server.url, "--api-key", KEY),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured
    assert "nothing to do" in captured.out
    assert KEY not in captured.out + captured.err
    assert lock.read_bytes() == (ROOT / DEFAULT_LOCK).read_bytes()
    # The changelog exists exactly when the schema changed (the workflow tests for it).
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEFAULT_LOCK]


def test_refresh_that_cannot_verify_writes_no_lock(
    tmp_path: Path, old_server: ServerProcess
) -> None:
    lock = tmp_path / DEFAULT_LOCK
    lock.write_bytes((ROOT / DEFAULT_LOCK).read_bytes())
    with pytest.raises(RefreshError, match=r"roundtrip\.py"):
        _refresh(old_server, tmp_path, lock, verify=True)  # tmp_path is no checkout
    assert lock.read_bytes() == (ROOT / DEFAULT_LOCK).read_bytes()
    assert not (tmp_path / "schema-changelog.md").exists()
