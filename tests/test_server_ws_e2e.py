"""``srmlink serve``'s WebSocket end to end, driven by raw ``websockets`` clients sending
frames written by hand from the spec (JSON text, ``\\r\\nJ`` framed JSON, protobuf bytes
built field by field); replies are read with srmlink's decoder, never its stream client.

The 2026 flow: several streams at once, stripes, uploads, errors that keep the connection;
and the server's limits: message size (RSS measured), logon deadline, connection cap, a
client that does not read.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from srmlink import OptionKey
from srmlink.codec import Encoding, FrameDecoder
from srmlink.keys import CallPut
from srmlink.message import Message
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, registry
from srmlink.records import wire_value
from srmlink.server import LocalServer
from srmlink.testing import ServerProcess, start_server

KEY = "ws-e2e-key"
ENCODINGS: tuple[Encoding, ...] = ("json", "jsonf", "proto")
STAMP = "2026-07-12 14:03:07.123456"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    process = start_server(api_key=KEY, extra=["--tick", "0.02", "--heartbeat", "0.5"])
    try:
        yield process
    finally:
        process.stop()


# ---- frames written by hand ----------------------------------------------------------------


def json_frame(encoding: Encoding, name: str, message: dict[str, Any]) -> bytes | str:
    """A JSON request with the headers SpiderRock's clients send; framed as their samples
    frame it (``\\r\\nJ`` + an 11-digit length)."""
    header = {"mTyp": name, "sTim": STAMP, "encT": STAMP}
    text = json.dumps({"header": header, "message": message})
    return text if encoding == "json" else f"\r\nJ{len(text):011d}{text}".encode()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb(number: int, value: int | str | bytes) -> bytes:
    """One protobuf field: a varint, or length-delimited text / bytes."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def proto_frame(mnum: int, payload: bytes) -> bytes:
    return b"\r\nP%05d%06d" % (mnum, len(payload)) + payload


def stream_request(encoding: Encoding, **members: Any) -> bytes | str:
    """An MLinkStream for OptionNbboQuote (MLinkStream.proto: msg_name 100, where 103,
    query_iD 115, query_label 118, active_latency 121, stripe_filter 133)."""
    if encoding != "proto":
        return json_frame(encoding, "MLinkStream", {"msgName": "OptionNbboQuote", **members})
    numbers = {"where": 103, "queryID": 115, "queryLabel": 118, "activeLatency": 121,
               "stripeFilter": 133}  # fmt: skip
    payload = pb(100, "OptionNbboQuote") + b"".join(pb(numbers[k], v) for k, v in members.items())
    return proto_frame(3380, payload)


def signal_ready(encoding: Encoding) -> bytes | str:
    """MLinkSignalReady as SpiderRock's clients send it (empty ids, FullScan)."""
    if encoding == "proto":  # MLinkSignalReady.proto: ready_scan 106 (FullScan = 3)
        return proto_frame(3410, pb(106, 3))
    message = {"signalID": "", "sesionID": "", "sessionID": "", "readyScan": "FullScan"}
    return json_frame(encoding, "MLinkSignalReady", message)


class Reader:
    """Reads a raw connection's frames into messages with srmlink's decoder."""

    def __init__(self, ws: ClientConnection, encoding: Encoding) -> None:
        self.ws = ws
        self.decoder = FrameDecoder(encoding, registry=registry)
        self.pending: list[Message] = []  # decoded, not yet handed out

    async def next(self, timeout: float = 10.0) -> list[Message]:
        """The messages already decoded, else those of the next frame."""
        if not self.pending:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
            chunk = data.encode() if isinstance(data, str) else data
            self.pending = [m for m in self.decoder.feed(chunk) if isinstance(m, Message)]
        out, self.pending = self.pending, []
        return out

    async def until(self, name: str, timeout: float = 10.0) -> tuple[list[Message], Message]:
        """Every message up to the first ``name`` (and that one); later ones stay pending."""
        seen: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            batch = await self.next(max(deadline - time.monotonic(), 0.01))
            for i, message in enumerate(batch):
                seen.append(message)
                if name == message.MSG_NAME:
                    self.pending = batch[i + 1 :]
                    return seen, message


def connect(server: ServerProcess, encoding: Encoding, *, key: str | None = KEY) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return websockets.connect(
        f"ws://{server.host}/mlink/{encoding}", additional_headers=headers, max_size=None
    )


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ---- the 2026 flow -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_three_streams_on_one_connection_each_get_live_updates(
    server: ServerProcess, encoding: Encoding
) -> None:
    async def run() -> dict[str, int]:
        async with connect(server, encoding) as ws:
            reader = Reader(ws, encoding)
            _, admin = await reader.until("MLinkAdmin")
            assert str(wire_value(admin, "state")) == "LoggedOn"
            for label, ticker in (("a", "AAPL"), ("b", "SPY"), ("c", "QQQ")):
                await ws.send(
                    stream_request(
                        encoding, where=f"okey.tk:eq:{ticker}", queryLabel=label, activeLatency=1
                    )
                )
                _, ack = await reader.until("MLinkStreamAck")
                assert str(wire_value(ack, "result")) == "OK"
                await reader.until("MLinkStreamCheckPt")  # Begin
                snapshot, _ = await reader.until("MLinkStreamCheckPt")  # Active
                assert {m.pkey.okey.ticker for m in snapshot[:-1]} == {ticker}
            await ws.send(signal_ready(encoding))
            await ws.send(b"\r\nJ0x!?not-a-frame" if encoding != "json" else "{oops")
            live: dict[str, int] = {}
            errors = 0
            deadline = time.monotonic() + 20
            while (len(live) < 3 or not errors) and time.monotonic() < deadline:
                for message in await reader.next():
                    if isinstance(message, OptionNbboQuote):
                        ticker = message.pkey.okey.ticker
                        live[ticker] = live.get(ticker, 0) + 1
                    errors += message.MSG_NAME == "MLinkDataAck"
            assert errors == 1
            return live

    live = asyncio.run(run())
    assert set(live) == {"AAPL", "SPY", "QQQ"}, live


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_stripe_gets_only_its_records_and_an_unknown_one_is_refused(
    server: ServerProcess, encoding: Encoding
) -> None:
    async def run() -> None:
        async with connect(server, encoding) as ws:
            reader = Reader(ws, encoding)
            await reader.until("MLinkAdmin")
            await ws.send(stream_request(encoding, queryID=1, stripeFilter="G", activeLatency=1))
            seen, _ = await reader.until("MLinkStreamCheckPt")
            seen += (await reader.until("MLinkStreamCheckPt"))[0]
            for _ in range(5):  # live updates too
                seen += await reader.next()
            quotes = {m.pkey.okey.ticker for m in seen if isinstance(m, OptionNbboQuote)}
            assert quotes == {"SPY"}
            await ws.send(stream_request(encoding, queryID=2, stripeFilter="Z9"))
            _, ack = await reader.until("MLinkStreamAck")
            assert str(wire_value(ack, "result")) == "Error"
            assert "'Z9'" in wire_value(ack, "detail")

    asyncio.run(run())


@pytest.mark.parametrize("encoding", ["json", "jsonf"])
def test_uploads_are_stored_like_rest_posts_and_acked(
    server: ServerProcess, encoding: Encoding
) -> None:
    okey = {"at": "EQT", "ts": "NMS", "tk": "UPLD", "dt": "2026-12-18", "xx": 10, "cp": "Call"}
    good = {"pkey": {"okey": okey}, "bidPrice": 1.25, "bidSize": 4}
    poison = {"pkey": {"okey": {**okey, "xx": 11}}, "bidSize": 2**64}

    async def run() -> list[Message]:
        async with connect(server, encoding) as ws:
            reader = Reader(ws, encoding)
            await reader.until("MLinkAdmin")
            acks = []
            for record in (good, poison):
                await ws.send(json_frame(encoding, "OptionNbboQuote", record))
                acks.append((await reader.until("MLinkDataAck"))[1])
            return acks

    ok, refused = asyncio.run(run())
    assert str(wire_value(ok, "result")) == "OK"
    assert wire_value(ok, "msgType") == OptionNbboQuote.MSG_NUM
    assert str(wire_value(refused, "result")) != "OK"
    rows = httpx.get(
        f"{server.url}/rest/json",
        params={
            "apikey": KEY,
            "cmd": "getmsgs",
            "msgtype": "OptionNbboQuote",
            "where": "okey.tk:eq:UPLD",
        },
        timeout=10,
    ).json()
    assert [r["message"].get("bidPrice") for r in rows[:-1]] == [1.25]  # the poison is not stored
    assert rows[-1]["message"]["result"] == "Ok"


# ---- limits --------------------------------------------------------------------------------


def test_an_oversize_frame_before_logon_is_refused_without_buffering_it(
    server: ServerProcess,
) -> None:
    pid = server.process.pid
    before = rss_kib(pid)

    async def run() -> Any:
        async with connect(server, "jsonf", key=None) as ws:
            reader = Reader(ws, "jsonf")
            _, admin = await reader.until("MLinkAdmin")
            assert str(wire_value(admin, "state")) == "WaitingLogon"
            try:
                await ws.send(b"\r\nJ" + b"9" * (50 << 20))
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd

    rcvd = asyncio.run(run())
    assert rcvd is not None and rcvd.code == 1009, rcvd
    grown = rss_kib(pid) - before
    assert grown < 8 * 1024, f"server RSS grew by {grown} KiB for a 50 MB frame"


def test_requests_before_logon_wait_for_it_then_logon_works(server: ServerProcess) -> None:
    async def run() -> list[str]:
        async with connect(server, "json", key=None) as ws:
            reader = Reader(ws, "json")
            states = [str(wire_value((await reader.until("MLinkAdmin"))[1], "state"))]
            await ws.send(stream_request("json", queryID=1))
            await ws.send("{not json")
            for _ in range(2):
                states.append(str(wire_value((await reader.until("MLinkAdmin"))[1], "state")))
            await ws.send(json_frame("json", "MLinkLogon", {"apiKey": KEY}))
            states.append(str(wire_value((await reader.until("MLinkAdmin"))[1], "state")))
            await ws.send(stream_request("json", queryID=1))
            _, ack = await reader.until("MLinkStreamAck")
            states.append(str(wire_value(ack, "result")))
            return states

    assert asyncio.run(run()) == ["WaitingLogon"] * 3 + ["LoggedOn", "OK"]


def test_a_connection_that_never_logs_on_is_closed_at_the_deadline() -> None:
    limited = start_server(api_key=KEY, extra=["--tick", "0", "--logon-timeout", "0.5"])

    async def run() -> tuple[Any, float]:
        started = time.monotonic()
        async with connect(limited, "json", key=None) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd, time.monotonic() - started

    try:
        rcvd, elapsed = asyncio.run(run())
    finally:
        limited.stop()
    assert rcvd.code == 1008 and "no logon within 0.5 s" in rcvd.reason
    assert 0.4 < elapsed < 5


def test_the_connection_cap_refuses_more_and_frees_a_slot_on_close() -> None:
    limited = start_server(api_key=KEY, extra=["--tick", "0", "--max-connections", "2"])

    async def run() -> None:
        first = await connect(limited, "json")
        second = await connect(limited, "json")
        with pytest.raises(websockets.InvalidStatus) as refused:
            await connect(limited, "json")
        assert refused.value.response.status_code == 503
        assert b"connection limit" in refused.value.response.body
        await first.close()
        deadline = time.monotonic() + 10
        while True:  # the server frees the slot once it has seen the close
            try:
                third = await connect(limited, "json")
                break
            except websockets.InvalidStatus:
                assert time.monotonic() < deadline, "the slot was never freed"
                await asyncio.sleep(0.05)
        await third.close()
        await second.close()

    try:
        asyncio.run(run())
    finally:
        limited.stop()


def test_a_client_that_does_not_read_is_disconnected_saying_why() -> None:
    limited = start_server(api_key=KEY, extra=["--tick", "0", "--max-queued-bytes", "1000000"])

    async def run() -> Any:
        # A small client queue: it stops reading the socket almost at once.
        async with websockets.connect(
            f"ws://{limited.host}/mlink/json",
            additional_headers={"Authorization": f"Bearer {KEY}"},
            max_queue=1,
        ) as ws:
            deadline = time.monotonic() + 30
            try:
                while time.monotonic() < deadline:  # snapshots of 60 quotes each, never read
                    await ws.send(stream_request("json", queryLabel="same"))
                    await asyncio.sleep(0)
            except websockets.ConnectionClosed:
                pass
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 30)
            return closed.value.rcvd

    try:
        rcvd = asyncio.run(run())
    finally:
        limited.stop()
    assert rcvd is not None and rcvd.code == 1008, rcvd
    assert "too slow" in rcvd.reason


# ---- a record no encoding can carry ---------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_record_that_cannot_be_encoded_is_skipped_and_the_stream_goes_on(
    encoding: Encoding,
) -> None:
    """Put straight into the store of an in-process server (both upload paths refuse it):
    a quote whose bidSize is out of every encoding's range."""

    def quote(strike: int, bid: float, size: int = 1) -> OptionNbboQuote:
        okey = OptionKey("EQT", "NMS", "AAPL", date(2026, 12, 18), strike, CallPut.CALL)
        return OptionNbboQuote(pkey=OptionNbboQuotePKey(okey=okey), bid_price=bid, bid_size=size)

    async def run() -> tuple[list[float], list[float]]:
        server = LocalServer(registry, demo=False, heartbeat=0.5)
        await server.start()
        store = server.handler.store
        try:
            store.put(quote(100, 1.0))
            store.put(quote(110, 1.5, size=2**64))
            url = server.url.replace("http://", "ws://") + f"/mlink/{encoding}"
            async with websockets.connect(url) as ws:
                reader = Reader(ws, encoding)
                await reader.until("MLinkAdmin")
                await ws.send(stream_request(encoding, queryID=1, activeLatency=1))
                await reader.until("MLinkStreamCheckPt")  # Begin
                snapshot, _ = await reader.until("MLinkStreamCheckPt")  # Active
                await reader.until("MLinkStreamCheckPt")  # Complete
                store.put(quote(110, 2.5, size=2**64))
                store.put(quote(100, 2.0))
                live, _ = await reader.until("MLinkStreamCheckPt")
            return [m.bid_price for m in snapshot[:-1]], [m.bid_price for m in live[:-1]]
        finally:
            await server.stop()

    snapshot, live = asyncio.run(run())
    assert snapshot == [1.0] and live == [2.0]


@pytest.mark.parametrize("encoding", ["json", "jsonf"])
def test_subscribe_by_key_with_a_view_and_an_unknown_key(
    server: ServerProcess, encoding: Encoding
) -> None:
    known = "AAPL-NMS-EQT-2026-12-18-190-C"

    async def run() -> list[Message]:
        async with connect(server, encoding) as ws:
            reader = Reader(ws, encoding)
            await reader.until("MLinkAdmin")
            request = {
                "subscribeID": 5,
                "Subscribe": [
                    {"msgName": "OptionNbboQuote", "msgPKey": known},
                    {"msgName": "OptionNbboQuote", "msgPKey": "NOPE-NMS-EQT-2026-12-18-1-C"},
                ],
                "View": [{"msgName": "OptionNbboQuote", "view": "bidprice|askprice"}],
            }
            await ws.send(json_frame(encoding, "MLinkSubscribe", request))
            begun, _ = await reader.until("MLinkSubscribeCheckPt")  # Begin
            seen, _ = await reader.until("MLinkSubscribeCheckPt")  # Active
            return begun + seen

    seen = asyncio.run(run())
    ack = next(m for m in seen if m.MSG_NAME == "MLinkSubscribeAck")
    results = [str(wire_value(item, "result")) for item in wire_value(ack, "Subscribe")]
    assert results == ["OK", "UnkwnPKey"]
    records = [m for m in seen if isinstance(m, OptionNbboQuote)]
    assert [str(r.pkey) for r in records] == [known]
    assert records[0].bid_price is not None and records[0].bid_size is None  # the View
