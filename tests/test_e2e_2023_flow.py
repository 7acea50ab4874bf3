"""The 2023 WebSocket flow (MLinkQuery / MLinkResponse) end to end, on the 2023-05 schema.

Bindings for 2023-05 live in a staged tree of their own; the server (``srmlink serve``) and
the client each run in a separate process importing only that tree.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from srmlink.errors import SchemaDriftWarning
from srmlink.stream import AsyncMLinkStream
from srmlink.testing import start_server

from .conftest import _ISOLATE, run_python, snapshot_dir

CLIENT = """
import asyncio, os, sys, time
from srmlink import TickerKey
from srmlink.messages import registry
from srmlink.stream import AsyncMLinkStream, CheckPoint, Record
from srmlink.testing import start_server

assert registry.by_name("MLinkQuery").MSG_NUM == 3310
launcher = [sys.executable, "-c", os.environ["SRMLINK_LAUNCH"]]
server = start_server(api_key="k23", launcher=launcher, extra=["--tick", "0.05"])

async def run(encoding):
    stream = AsyncMLinkStream("k23", host=server.host, scheme="ws", encoding=encoding,
                              cache=True)
    assert stream.protocol.flow == "query"
    async with stream:
        rows = await stream.query("OptionNbboQuote", keys=[TickerKey.parse("SPY-NMS-EQT")])
        tickers = {r.pkey.okey.ticker for r in rows}
        await stream.subscribe("OptionNbboQuote", where="okey.tk:eq:AAPL")
        states, live = [], 0
        deadline = time.monotonic() + 20
        async for event in stream:
            if isinstance(event, CheckPoint):
                states.append(event.state)
            elif isinstance(event, Record) and "Complete" in states:
                live += 1
                assert event.message.pkey.okey.ticker == "AAPL"
            if live >= 3 or time.monotonic() > deadline:
                break
        print(encoding, len(rows), sorted(tickers), states[:2], live, len(stream.cache))

try:
    for encoding in ("json", "jsonf", "proto"):
        asyncio.run(run(encoding))
finally:
    server.stop()
"""


def test_mlinkquery_flow_all_encodings(staged: Callable[[Path], Path]) -> None:
    stage = staged(snapshot_dir("2023-05"))
    launch = _ISOLATE + "from srmlink.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    out = run_python(stage, f"import os\nos.environ['SRMLINK_LAUNCH'] = {launch!r}\n" + CLIENT)
    lines = out.strip().splitlines()
    assert len(lines) == 3, out
    for line, encoding in zip(lines, ("json", "jsonf", "proto"), strict=True):
        # a 20-record SPY snapshot (FullQuery, TkeyFilters), then the AAPL subscription:
        # MLinkResponse Begin, Complete, then live updates.
        assert line.startswith(f"{encoding} 20 ['SPY'] ['Begin', 'Complete'] 3 "), out


def test_connecting_to_an_older_server_warns_about_schema_drift(
    staged: Callable[[Path], Path],
) -> None:
    """The 2026 bindings against a server of the 2023-05 schema: check_drift on connect
    names the renumbered types, and the connection still works."""
    stage = staged(snapshot_dir("2023-05"))
    launch = _ISOLATE + "from srmlink.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    server = start_server(
        api_key="k23",
        launcher=[sys.executable, "-c", launch],
        env={**os.environ, "PYTHONPATH": str(stage)},
        extra=["--tick", "0"],
    )

    async def run() -> bool:
        stream = AsyncMLinkStream(
            "k23", host=server.host, scheme="ws", encoding="json", check_drift=True
        )
        async with stream:
            return stream.protocol.logged_on

    try:
        with pytest.warns(SchemaDriftWarning) as caught:
            assert asyncio.run(run())
    finally:
        server.stop()
    text = str(caught[0].message)
    assert "OptionNbboQuote" in text or "mNum differs" in text
