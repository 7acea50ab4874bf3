"""`srmlink query` and `srmlink stream` against a real local server (`srmlink serve`).

Most tests call ``srmlink.cli.main`` in-process (fast, output through capsys); a few run the
installed module as a subprocess, where a terminal's signals and pipes behave as for a user.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from srmlink.cli import main
from srmlink.cli_output import _float32
from srmlink.testing import ServerProcess, start_server

KEY = "cli-key"
WHERE_AAPL = "okey.tk:eq:AAPL"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """Demo data whose quotes tick every 50 ms; --faults lets a test cut the WebSockets."""
    srv = start_server(api_key=KEY, extra=["--tick", "0.05", "--faults"])
    try:
        yield srv
    finally:
        srv.stop()


def run(
    capsys: pytest.CaptureFixture[str], server: ServerProcess, *args: str, key: str = KEY
) -> tuple[int, str, str]:
    """``srmlink ARGS --host URL --api-key KEY`` in-process: (exit status, stdout, stderr)."""
    code = main([*args, "--host", server.url, "--api-key", key])
    out, err = capsys.readouterr()
    return code, out, err


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


# ---- query ------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["proto", "jsonf", "json"])
def test_query_json_lines(
    capsys: pytest.CaptureFixture[str], server: ServerProcess, encoding: str
) -> None:
    code, out, err = run(
        capsys,
        server,
        *("query", "OptionNbboQuote", "--where", WHERE_AAPL, "--limit", "5"),
        *("--format", "json", "--encoding", encoding),
    )
    assert (code, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 5
    for record in records:
        assert record["pkey"]["okey"]["tk"] == "AAPL"  # wire names, keys in compact JSON
        assert record["updateType"] == "PrcChange"
        # A protobuf float prints as the decimal the server meant (2 places in the demo).
        assert record["bidPrice"] == round(record["bidPrice"], 2)
        assert record["askPrice"] > record["bidPrice"]


def test_query_csv(capsys: pytest.CaptureFixture[str], server: ServerProcess) -> None:
    code, out, err = run(
        capsys,
        server,
        *("query", "OptionNbboQuote", "--where", WHERE_AAPL, "--limit", "5", "--format", "csv"),
    )
    assert (code, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 5
    header = out.splitlines()[0].split(",")
    # The primary key's part flat, then every field by wire name, in schema order.
    assert header[:4] == ["okey", "updateType", "bidPrice", "askPrice"]
    assert "pkey" not in header and "cumBidSize" in header
    for row in rows:
        assert row["okey"].startswith("AAPL-NMS-EQT-")
        assert row["updateType"] == "PrcChange"
        assert float(row["bidPrice"]) < float(row["askPrice"])
        assert int(row["bidSize"]) >= 1
        assert row["cumBidSize"] == ""  # unset


def test_query_csv_view_keeps_the_viewed_columns(
    capsys: pytest.CaptureFixture[str], server: ServerProcess
) -> None:
    code, out, _ = run(
        capsys,
        server,
        *("query", "OptionNbboQuote", "--view", "bidprice|asksize", "--limit", "3"),
        *("--format", "csv"),
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "okey,bidPrice,askSize"
    assert len(lines) == 4 and all(line.count(",") == 2 for line in lines)


def test_query_table(capsys: pytest.CaptureFixture[str], server: ServerProcess) -> None:
    code, out, err = run(
        capsys,
        server,
        *("query", "OptionNbboQuote", "--where", WHERE_AAPL, "--limit", "5"),
        *("--order", "bidsize:DESC"),
    )
    assert (code, err) == (0, "")
    header, rule, *rows, summary = out.splitlines()
    # srcTimestamp: the demo stamps each quote when it is made.
    columns = ["okey", "updateType", "bidPrice", "askPrice", "bidSize", "askSize", "srcTimestamp"]
    assert header.split() == columns
    assert set(rule) == {"-", " "}
    assert len(rows) == 5
    assert all(row.startswith("AAPL-NMS-EQT-") and "PrcChange" in row for row in rows)
    # Aligned: every cell ends where its column's rule ends (numbers are right-aligned).
    ends = [i + 1 for i, (a, b) in enumerate(zip(rule, rule[1:] + " ", strict=True)) if a != b]
    bid_sizes = [int(row.split()[4]) for row in rows]
    assert bid_sizes == sorted(bid_sizes, reverse=True)
    for row in rows:
        assert row[ends[-1] - 1] != " " and len(row) == ends[-1]
    assert summary.startswith("5 records; ")
    assert "numMessagesSent=5" in summary and "result=Ok" in summary
    assert "queryElapsed=" in summary


def test_query_output_file(
    capsys: pytest.CaptureFixture[str], server: ServerProcess, tmp_path: Path
) -> None:
    target = tmp_path / "quotes.csv"
    code, out, err = run(
        capsys,
        server,
        *("query", "OptionNbboQuote", "--where", WHERE_AAPL, "--limit", "5"),
        *("--format", "csv", "--output", str(target)),
    )
    assert code == 0
    assert out == ""  # the records went to the file only
    assert f"wrote 5 records to {target}" in err and "numMessagesSent=5" in err
    with target.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["okey"].split("-")[0] for r in rows] == ["AAPL"] * 5


def test_query_forced_progress_goes_to_stderr(
    capsys: pytest.CaptureFixture[str], server: ServerProcess
) -> None:
    code, out, err = run(
        capsys,
        server,
        *("query", "OptionNbboQuote", "--limit", "7", "--format", "json", "--progress"),
    )
    assert code == 0
    assert len(out.splitlines()) == 7  # stdout stays clean for piping
    assert "7/7" in err


def test_query_bad_where_is_one_readable_line(
    capsys: pytest.CaptureFixture[str], server: ServerProcess
) -> None:
    code, out, err = run(capsys, server, "query", "OptionNbboQuote", "--where", "okey.tk:xx:AAPL")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("srmlink query: ")
    assert "okey.tk:xx:AAPL" in err and "expected an operator" in err


def test_query_unknown_message_type(
    capsys: pytest.CaptureFixture[str], server: ServerProcess
) -> None:
    code, out, err = run(capsys, server, "query", "NoSuchMessage")
    assert (code, out) == (2, "")
    assert "NoSuchMessage" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["query", "stream"])
def test_wrong_api_key_exits_2_without_showing_it(
    capsys: pytest.CaptureFixture[str], server: ServerProcess, command: str
) -> None:
    secret = "not-the-key-8c1f2e"
    extra = ("--count", "1") if command == "stream" else ()
    code, out, err = run(capsys, server, command, "OptionNbboQuote", *extra, key=secret)
    assert (code, out) == (2, "")
    assert "AuthError" in err and err.count("\n") == 1
    assert secret not in err


def test_unreachable_host_hides_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "secret-key-42"
    code = main(["query", "OptionNbboQuote", "--host", "http://127.0.0.1:9", "--api-key", secret])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert "cannot reach" in err and secret not in err


def test_query_subprocess_with_key_from_environment(server: ServerProcess) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "srmlink.cli", "query", "OptionNbboQuote"),
            *("--host", server.host, "--scheme", "http"),
            *("--where", WHERE_AAPL, "--limit", "5", "--format", "json"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(SRMLINK_API_KEY=KEY),
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert [json.loads(line)["pkey"]["okey"]["tk"] for line in done.stdout.splitlines()] == [
        "AAPL"
    ] * 5


# ---- stream -----------------------------------------------------------------------------


def test_stream_count_json(capsys: pytest.CaptureFixture[str], server: ServerProcess) -> None:
    code, out, err = run(
        capsys, server, "stream", "OptionNbboQuote", "--count", "5", "--format", "json"
    )
    assert (code, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 5
    assert all(r["pkey"]["okey"]["tk"] in ("AAPL", "SPY", "QQQ") for r in records)
    assert all(isinstance(r["bidPrice"], float) for r in records)


def test_stream_count_csv(capsys: pytest.CaptureFixture[str], server: ServerProcess) -> None:
    code, out, err = run(
        capsys,
        server,
        *("stream", "OptionNbboQuote", "--count", "5", "--format", "csv"),
        *("--where", WHERE_AAPL, "--encoding", "jsonf"),
    )
    assert (code, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 5
    assert all(r["okey"].startswith("AAPL-") and float(r["askPrice"]) > 0 for r in rows)


def test_stream_table(capsys: pytest.CaptureFixture[str], server: ServerProcess) -> None:
    code, out, _ = run(capsys, server, "stream", "OptionNbboQuote", "--count", "3")
    assert code == 0
    header, rule, *rows = out.splitlines()
    assert header.split()[:3] == ["okey", "updateType", "bidPrice"]
    assert "cumBidSize" not in header  # only what the first record has set
    assert set(rule) == {"-", " "} and len(rows) == 3


def test_stream_seconds_and_output(
    capsys: pytest.CaptureFixture[str], server: ServerProcess, tmp_path: Path
) -> None:
    target = tmp_path / "stream.jsonl"
    code, out, err = run(
        capsys,
        server,
        *("stream", "OptionNbboQuote", "--seconds", "0.5", "--format", "json"),
        *("--output", str(target)),
    )
    assert (code, out) == (0, "")
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 60  # the snapshot at least
    assert f"wrote {len(lines)} records to {target}" in err


def test_stream_refused_subscription(
    capsys: pytest.CaptureFixture[str], server: ServerProcess
) -> None:
    code, out, err = run(
        capsys, server, "stream", "OptionNbboQuote", "--where", "nosuch:eq:1", "--count", "1"
    )
    assert (code, out) == (2, "")
    assert "refused" in err and "nosuch" in err and "Traceback" not in err


def test_stream_notes_a_reconnection(
    capsys: pytest.CaptureFixture[str], server: ServerProcess
) -> None:
    # Cut the connection while the command streams; it resumes and says so on stderr.
    cut = threading.Timer(0.6, server.fault, args=("drop",))
    cut.start()
    try:
        code, out, err = run(
            capsys, server, "stream", "OptionNbboQuote", "--seconds", "2", "--format", "json"
        )
    finally:
        cut.join()
    assert code == 0
    assert "srmlink stream: reconnected after" in err
    assert all(json.loads(line)["pkey"] for line in out.splitlines())


def test_stream_subprocess_stops_cleanly_on_ctrl_c(server: ServerProcess) -> None:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "srmlink.cli", "stream", "OptionNbboQuote"),
            *("--host", server.url, "--format", "csv"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(SRMLINK_API_KEY=KEY),
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]  # header and records, live
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in err and err == ""
    assert lines[0].startswith("okey,updateType,bidPrice")
    assert all(line.endswith("\n") for line in (*lines, *rest.splitlines(keepends=True)))


def test_stream_subprocess_into_a_closed_pipe(server: ServerProcess) -> None:
    # `srmlink stream ... | head -3`: the reader leaves; the command stops without a traceback.
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "srmlink.cli", "stream", "OptionNbboQuote"),
            *("--host", server.url, "--format", "json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(SRMLINK_API_KEY=KEY),
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        for _ in range(3):
            json.loads(process.stdout.readline())
        process.stdout.close()
        process.wait(timeout=20)
        err = process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 141
    assert err == ""


# ---- formatting -------------------------------------------------------------------------


def test_float32_prints_what_the_server_meant() -> None:
    def as_float32(value: float) -> float:
        return float(struct.unpack("<f", struct.pack("<f", value))[0])

    for meant in (11.19, 0.05, 1234.5, 190.01, 1e-7, 3.4e38):
        assert _float32(as_float32(meant)) == meant
    assert _float32(0.1) == 0.1
    assert _float32(1e300) == 1e300  # not a float32: untouched
