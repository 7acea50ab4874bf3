"""`srmlink query --format parquet|arrow` and `srmlink record` against a real local server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from srmlink.cli import main
from srmlink.frames import arrow_schema, from_arrow
from srmlink.messages import OptionNbboQuote
from srmlink.testing import ServerProcess, start_server

KEY = "frames-key"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    srv = start_server(api_key=KEY, extra=["--tick", "0.02"])
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_query_writes_a_typed_columnar_file(
    tmp_path: Path, server: ServerProcess, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    path = tmp_path / f"quotes.{fmt}"
    code = main(
        [
            *("query", "OptionNbboQuote", "--where", "okey.tk:eq:AAPL", "--format", fmt),
            *("--output", str(path), "--host", server.url, "--api-key", KEY),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    table = pq.read_table(path) if fmt == "parquet" else ipc.open_file(path).read_all()
    assert table.schema.equals(arrow_schema(OptionNbboQuote), check_metadata=False)
    assert table.num_rows > 0
    assert f"wrote {table.num_rows} record" in err
    tickers = {row["ticker"] for row in table.column("okey").to_pylist()}
    assert tickers == {"AAPL"}
    assert all(q.pkey is not None for q in from_arrow(table, OptionNbboQuote))


def test_query_columnar_formats_need_an_output_file(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["query", "OptionNbboQuote", "--format", "parquet", "--host", server.url, "--api-key", KEY]
    )
    assert code == 2
    assert "--output FILE" in capsys.readouterr().err


def test_record_interrupted_keeps_every_received_record_in_complete_files(
    tmp_path: Path, server: ServerProcess
) -> None:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "srmlink.cli", "record", "OptionNbboQuote"),
            *("--output", str(tmp_path), "--rotate-records", "40", "--host", server.url),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SRMLINK_API_KEY": KEY, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("*.parquet"))) < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no rotated files within 60 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err and out == ""
    assert not list(tmp_path.glob("*.partial"))
    files = sorted(tmp_path.glob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    total = sum(t.num_rows for t in tables)
    match = re.search(r"wrote (\d+) records? to (\d+) file", err)
    assert match is not None, err
    assert (int(match.group(1)), int(match.group(2))) == (total, len(files))
    assert all(t.num_rows == 40 for t in tables[:-1])
    quotes = from_arrow(pa.concat_tables(tables), OptionNbboQuote)
    assert all(q.pkey is not None and q.bid_price is not None for q in quotes)


def test_rest_results_and_the_last_value_cache_convert(server: ServerProcess) -> None:
    with server.client(encoding="jsonf") as client:
        result = client.getmsgs(OptionNbboQuote, where="okey.tk:eq:SPY")
    table = result.to_arrow()
    assert table.schema.equals(arrow_schema(OptionNbboQuote), check_metadata=False)
    assert table.num_rows == len(result.messages) > 0
    assert result.to_polars().height == table.num_rows
    assert len(result.to_pandas()) == table.num_rows
    with server.stream(cache=True) as stream:
        spy = stream.subscribe(OptionNbboQuote, where="okey.tk:eq:SPY")
        for _ in zip(range(table.num_rows), spy, strict=False):
            pass
        assert stream.cache is not None
        cached = stream.cache.to_arrow(OptionNbboQuote)
    assert cached.num_rows == len(stream.cache.of(OptionNbboQuote)) > 0
    assert {row["ticker"] for row in cached.column("okey").to_pylist()} == {"SPY"}
