"""The 2023 WebSocket flow (MLinkQuery / MLinkResponse) end to end on the 2023 schemas:
``srmlink serve`` of the 2023-05 or 2023-07 bindings in its own process, driven by a raw
``websockets`` client sending the frames the spec shows (JSON with the spec's repeater names
``MsgTypes`` / ``TKeyFilters``, framed JSON, protobuf built field by field).

2023-07 gives its control messages no message numbers, so only plain JSON can carry them there.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from srmlink.codec import Encoding, FrameDecoder
from srmlink.message import Message
from srmlink.records import wire_value
from srmlink.registry import Registry
from srmlink.testing import ServerProcess, start_server

from .conftest import _ISOLATE, snapshot_dir, snapshot_registry
from .test_server_ws_e2e import connect, pb, proto_frame

KEY = "k23"
AAPL = {"at": "EQT", "ts": "NMS", "tk": "AAPL"}


@pytest.fixture(scope="module", params=["2023-05", "2023-07"])
def old_server(
    request: pytest.FixtureRequest, staged: Callable[[Path], Path]
) -> Iterator[tuple[ServerProcess, Registry, str]]:
    snapshot = request.param
    stage = staged(snapshot_dir(snapshot))
    launch = _ISOLATE + "from srmlink.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    server = start_server(
        api_key=KEY,
        launcher=[sys.executable, "-c", launch],
        env={**os.environ, "PYTHONPATH": str(stage)},
        extra=["--tick", "0.02"],
    )
    try:
        yield server, snapshot_registry(staged, snapshot), snapshot
    finally:
        server.stop()


def encodings(snapshot: str) -> tuple[Encoding, ...]:
    return ("json", "jsonf", "proto") if snapshot == "2023-05" else ("json",)


def query_frame(
    encoding: Encoding, reg: Registry, label: str, query_type: str, ticker: str, **extra: Any
) -> bytes | str:
    """An MLinkQuery for OptionNbboQuote filtered to one ticker, as the spec writes it."""
    number = reg.by_name("OptionNbboQuote").MSG_NUM
    if encoding == "proto":
        # MLinkQuery.proto (2023-05): query_label 100, query_type 103 (FullQuery 1,
        # FullSubscription 3), msg_type 151 {msg_type 154}, tkey_filters 133 {ticker_key 136
        # {asset_type 1 (EQT 1), ticker_src 2 (NMS 2), ticker 3}}.
        kinds = {"FullQuery": 1, "FullSubscription": 3}
        tkey = pb(1, 1) + pb(2, 2) + pb(3, ticker)
        payload = (
            pb(100, label)
            + pb(103, kinds[query_type])
            + pb(151, pb(154, number or 0))
            + pb(133, pb(136, tkey))
        )
        return proto_frame(reg.by_name("MLinkQuery").MSG_NUM or 0, payload)
    item = {"msgType": number} if number else {"msgName": "OptionNbboQuote"}
    message = {
        "queryLabel": label,
        "queryType": query_type,
        "MsgTypes": [item],
        "TKeyFilters": [{"tickerKey": {**AAPL, "tk": ticker}}],
        **extra,
    }
    stamp = "2023-11-09 15:26:23.464116"
    text = json.dumps({"header": {"mTyp": "MLinkQuery", "sTim": stamp, "encT": stamp},
                       "message": message})  # fmt: skip
    return text if encoding == "json" else f"\r\nJ{len(text):011d}{text}".encode()


async def responses(
    ws: Any, decoder: FrameDecoder, until: Callable[[list[Message]], bool]
) -> list[Message]:
    seen: list[Message] = []
    deadline = time.monotonic() + 20
    while not until(seen):
        data = await asyncio.wait_for(ws.recv(), max(deadline - time.monotonic(), 0.01))
        chunk = data.encode() if isinstance(data, str) else data
        seen += [m for m in decoder.feed(chunk) if isinstance(m, Message)]
    return seen


def states(seen: list[Message]) -> list[str]:
    return [str(wire_value(m, "state")) for m in seen if m.MSG_NAME == "MLinkResponse"]


def tickers(seen: list[Message]) -> set[str]:
    return {m.pkey.okey.ticker for m in seen if m.MSG_NAME == "OptionNbboQuote"}  # type: ignore[attr-defined]


def test_mlinkquery_then_subscription(old_server: tuple[ServerProcess, Registry, str]) -> None:
    server, reg, snapshot = old_server

    async def run(encoding: Encoding) -> None:
        async with connect(server, encoding, key=KEY) as ws:
            decoder = FrameDecoder(encoding, registry=reg)
            await responses(ws, decoder, bool)  # MLinkAdmin
            await ws.send(query_frame(encoding, reg, "q1", "FullQuery", "AAPL"))
            seen = await responses(ws, decoder, lambda seen: "Complete" in states(seen))
            assert states(seen) == ["Begin", "Complete"]
            assert tickers(seen) == {"AAPL"} and len(seen) == 22
            await ws.send(query_frame(encoding, reg, "q2", "FullSubscription", "SPY"))
            seen = await responses(ws, decoder, lambda seen: "Complete" in states(seen))
            assert tickers(seen) == {"SPY"}
            # activeLatency -1 (the default): live updates wait for MLinkSignalReady.
            await ws.send(signal_ready(encoding, reg))
            live = await responses(ws, decoder, lambda seen: "Active" in states(seen))
            assert tickers(live) == {"SPY"}

    for encoding in encodings(snapshot):
        asyncio.run(run(encoding))


def signal_ready(encoding: Encoding, reg: Registry) -> bytes | str:
    """MLinkSignalReady for the query labelled q2 (query_label 100)."""
    if encoding == "proto":
        return proto_frame(reg.by_name("MLinkSignalReady").MSG_NUM or 0, pb(100, "q2"))
    text = json.dumps({"header": {"mTyp": "MLinkSignalReady"}, "message": {"queryLabel": "q2"}})
    return text if encoding == "json" else f"\r\nJ{len(text):011d}{text}".encode()


def test_mlinkquery_with_an_unknown_member_is_refused_naming_it(
    old_server: tuple[ServerProcess, Registry, str],
) -> None:
    server, reg, snapshot = old_server

    async def run(encoding: Encoding) -> Message:
        async with connect(server, encoding, key=KEY) as ws:
            decoder = FrameDecoder(encoding, registry=reg)
            await responses(ws, decoder, bool)
            extra = {"OKeyFilter": [{"optionKey": {}}]}
            await ws.send(query_frame(encoding, reg, "q3", "FullQuery", "AAPL", **extra))
            seen = await responses(ws, decoder, lambda seen: bool(states(seen)))
            return seen[-1]

    for encoding in encodings(snapshot)[:2]:  # JSON members: json and jsonf
        response = asyncio.run(run(encoding))
        assert str(wire_value(response, "state")) == "Error"
        assert "'OKeyFilter'" in wire_value(response, "detail")
