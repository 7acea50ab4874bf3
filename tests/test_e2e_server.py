"""End to end: srmlink's clients against ``srmlink serve`` in a separate process on loopback.

Every REST command and the WebSocket flow of the main schema, in all three encodings; faults
injected through the server's ``--faults`` endpoints (dropped connection, stall, garbage) and
by killing the process; a slow consumer. After every recovery the client's last-value cache
must equal the server's store for every primary key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from srmlink import AsyncMLinkClient, MLinkClient, OptionKey
from srmlink.codec import Encoding
from srmlink.errors import AuthError, MLinkQueryError
from srmlink.message import Message
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey
from srmlink.stream import (
    AsyncMLinkStream,
    CheckPoint,
    Heartbeat,
    MLinkStream,
    Reconnected,
    Record,
    StreamAck,
)
from srmlink.testing import ServerProcess, start_server

ENCODINGS: tuple[Encoding, ...] = ("json", "jsonf", "proto")
KEY = "e2e-test-key"


@pytest.fixture(scope="module")
def quiet_server() -> Iterator[ServerProcess]:
    """Demo data that does not tick: the store changes only when a test posts."""
    server = start_server(api_key=KEY, extra=["--tick", "0", "--heartbeat", "0.5", "--faults"])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ticking_server() -> Iterator[ServerProcess]:
    server = start_server(api_key=KEY, extra=["--tick", "0.02", "--heartbeat", "0.5"])
    try:
        yield server
    finally:
        server.stop()


def store_of(server: ServerProcess, encoding: Encoding = "proto") -> dict[str, Message]:
    """The server's OptionNbboQuote records by flat primary key, read over REST.

    Compare like with like: protobuf carries Float fields as 32-bit floats, JSON as text.
    """
    with server.client(encoding=encoding) as client:
        result = client.getmsgs(OptionNbboQuote, limit=10_000)
    return {str(m.pkey): m for m in result.messages if isinstance(m, OptionNbboQuote)}


def post_updates(server: ServerProcess, bid: float, count: int = 10) -> None:
    """Re-quote ``count`` of the demo options with a new bid (over REST postmsgs)."""
    keys = sorted(store_of(server))[:count]
    quotes = [
        OptionNbboQuote(
            pkey=OptionNbboQuotePKey(okey=OptionKey.parse(k)), bid_price=bid, bid_size=int(bid)
        )
        for k in keys
    ]
    with server.client() as client:
        client.postmsgs(quotes)


# ---- REST --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_rest_command(quiet_server: ServerProcess, encoding: Encoding) -> None:
    with quiet_server.client(encoding=encoding) as client:
        types = client.getmsgtypes().messages
        numbers = {m.name: m.m_num for m in types}  # type: ignore[union-attr]
        assert numbers["OptionNbboQuote"] == 2785 and numbers["QueryResult"] == 3445

        schema = client.getschema(OptionNbboQuote).messages
        names = [m.name for m in schema]  # type: ignore[union-attr]
        assert "okey" in names and "bidPrice" in names

        # 2026 defines no MsgLayout: the layout comes as JSON objects, which protobuf cannot
        # carry (the QueryResult says which it is).
        if encoding == "proto":
            with pytest.raises(MLinkQueryError, match="MsgLayout"):
                client.getlayout(OptionNbboQuote)
        else:
            layout = client.getlayout(OptionNbboQuote)
            assert "MsgLayout" in layout.query_result.detail  # type: ignore[union-attr]
            # The bindings define no MsgLayout either: the records are kept as UnknownMessage.
            assert layout.messages == ()
            assert [u.name for u in layout.unknown] == ["MsgLayout"] + ["FieldLayout"] * len(schema)

        summary = client.getsummary(OptionNbboQuote, view="bidprice|bidsize").messages
        by_name = {m.name: m for m in summary}  # type: ignore[union-attr]
        assert set(by_name) == {"bidPrice", "bidSize"}
        assert by_name["bidPrice"].cnt == 60  # type: ignore[attr-defined]

        tickers = {str(m.ticker_key) for m in client.gettkeyset(OptionNbboQuote).messages}  # type: ignore[union-attr]
        assert tickers == {"AAPL-NMS-EQT", "SPY-NMS-EQT", "QQQ-NMS-EQT"}
        expiries = client.getekeyset(OptionNbboQuote, "AAPL-NMS-EQT").messages
        assert len(expiries) == 2
        options = client.getokeyset(OptionNbboQuote, "AAPL-NMS-EQT-2026-12-18").messages
        assert len(options) == 10

        where = (OptionNbboQuote.fields.okey.tk == "AAPL") & (OptionNbboQuote.fields.bid_size >= 1)
        result = client.getmsgs(
            OptionNbboQuote, where=where, order="bidprice:DESC", view="bidprice", limit=5
        )
        prices = [m.bid_price for m in result.messages]  # type: ignore[union-attr]
        assert len(prices) == 5 and prices == sorted(prices, reverse=True)
        assert all(m.bid_size is None for m in result.messages)  # type: ignore[union-attr]
        assert result.query_result is not None

        first = OptionNbboQuotePKey(okey=OptionKey.parse("AAPL-NMS-EQT-2026-12-18-190-C"))
        one = client.getmsg(OptionNbboQuote, first).messages
        assert [str(m.pkey) for m in one] == [str(first)]  # type: ignore[union-attr]

        count = client.getcount(OptionNbboQuote, where="okey.tk:eq:SPY").messages
        assert count[0].count == 20  # type: ignore[union-attr]

        groups = client.getaggregate(
            OptionNbboQuote, group=["okey.tk"], measure=["bidsize:sum"]
        ).messages
        assert sorted(m.key1 for m in groups) == ["AAPL", "QQQ", "SPY"]  # type: ignore[union-attr]
        assert all(m.rec_count == 20 for m in groups)  # type: ignore[union-attr]

        key = client.getapikey("secret").messages
        assert key and type(key[0]).__name__ == "UserApiKey"
        session = client.logon("user", "password", "123456").messages
        assert type(session[0]).__name__ == "MLinkLogon"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_postmsgs_creates_and_replaces(quiet_server: ServerProcess, encoding: Encoding) -> None:
    okey = OptionKey.parse(f"ZZZ{encoding.upper()}-NMS-EQT-2027-03-19-42.5-P")
    pkey = OptionNbboQuotePKey(okey=okey)
    with quiet_server.client(encoding=encoding) as client:
        for bid in (1.25, 2.5):
            acks = client.postmsgs([OptionNbboQuote(pkey=pkey, bid_price=bid)]).messages
            assert [str(a.result) for a in acks] == ["OK"]  # type: ignore[union-attr]
            assert [a.pkey for a in acks] == [str(pkey)]  # type: ignore[union-attr]
        got = client.getmsg(OptionNbboQuote, pkey).messages
        assert [m.bid_price for m in got] == [2.5]  # type: ignore[union-attr]


def test_wrong_key_is_refused(quiet_server: ServerProcess) -> None:
    client = MLinkClient("not-the-key", host=quiet_server.host, scheme="http")
    with client, pytest.raises(AuthError):
        client.getmsgtypes()


def test_async_rest_client(quiet_server: ServerProcess) -> None:
    async def run() -> int:
        async with AsyncMLinkClient(KEY, host=quiet_server.host, scheme="http") as client:
            result = await client.getcount(OptionNbboQuote)
            return int(result.messages[0].count)  # type: ignore[union-attr]

    assert asyncio.run(run()) >= 60


# ---- WebSocket ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_stream_snapshot_then_live_updates(
    ticking_server: ServerProcess, encoding: Encoding
) -> None:
    with ticking_server.stream(encoding=encoding, cache=True) as stream:
        query_id = stream.subscribe(
            OptionNbboQuote, where=OptionNbboQuote.fields.okey.tk == "SPY"
        ).query_id
        seen: list[str] = []
        live = 0
        deadline = time.monotonic() + 20
        while live < 3 and time.monotonic() < deadline:
            event = stream.next_event(timeout=10)
            if isinstance(event, StreamAck):
                assert event.ok and event.query_id == query_id
                seen.append("ack")
            elif isinstance(event, CheckPoint):
                seen.append(event.state)
            elif isinstance(event, Record) and "Complete" in seen:
                live += 1
                assert event.message.pkey.okey.ticker == "SPY"  # type: ignore[union-attr]
        assert seen[:4] == ["ack", "Begin", "Active", "Complete"]
        assert live == 3
        assert stream.cache is not None and len(stream.cache) == 20
        snapshot = stream.query("OptionNbboQuote", where="okey.tk:eq:QQQ")
        assert {m.pkey.okey.ticker for m in snapshot} == {"QQQ"}  # type: ignore[attr-defined]
        assert len(snapshot) == 20


def test_heartbeats_arrive(ticking_server: ServerProcess) -> None:
    with ticking_server.stream(encoding="jsonf") as stream:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if isinstance(stream.next_event(timeout=5), Heartbeat):
                return
    pytest.fail("no MLinkHeartbeat within 10 s")


def test_stream_with_a_wrong_key_raises_auth_error(quiet_server: ServerProcess) -> None:
    stream = MLinkStream("wrong-key", host=quiet_server.host, scheme="ws", reconnect_attempts=0)
    try:
        with pytest.raises(AuthError):
            stream.connect()
    finally:
        stream.close()


def consume_until_equal(
    stream: MLinkStream, server: ServerProcess, timeout: float = 30
) -> list[object]:
    """Consume events until the cache equals the server's store (checked at checkpoints)."""
    events: list[object] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = stream.next_event(timeout=timeout)
        events.append(event)
        if isinstance(event, CheckPoint) and event.state in ("Active", "Complete"):
            assert stream.cache is not None
            if stream.cache.table(OptionNbboQuote) == store_of(server, stream.protocol.encoding):
                return events
    assert stream.cache is not None
    cache = stream.cache.table(OptionNbboQuote)
    store = store_of(server, stream.protocol.encoding)
    wrong = [k for k in store if cache.get(k) != store[k]]
    pytest.fail(f"cache differs from the store for {len(wrong)} keys, e.g. {wrong[:3]}")


@pytest.mark.parametrize(("fault", "encoding"), [("drop", "proto"), ("stall", "jsonf"),
                                                 ("garbage", "proto")])  # fmt: skip
def test_recovers_from_faults_and_loses_nothing(
    quiet_server: ServerProcess, fault: str, encoding: Encoding
) -> None:
    stream = quiet_server.stream(encoding=encoding, cache=True, heartbeat_timeout=2.0, backoff=0.05)
    with stream:
        stream.subscribe(OptionNbboQuote)
        consume_until_equal(stream, quiet_server)
        assert quiet_server.fault(fault) >= 1
        bid = float(len(fault)) + 0.5
        post_updates(quiet_server, bid=bid)  # changes while it is broken
        events = consume_until_equal(stream, quiet_server)
        seams = [i for i, e in enumerate(events) if isinstance(e, Reconnected)]
        assert seams, "recovered without a Reconnected event"
        # The broken connection never carried the new quotes: they come after the seam.
        updated = [
            i
            for i, e in enumerate(events)
            if isinstance(e, Record)
            and isinstance(e.message, OptionNbboQuote)
            and e.message.bid_price == bid
        ]
        assert updated and min(updated) > seams[0]


def test_server_killed_mid_stream() -> None:
    server = start_server(api_key=KEY, extra=["--tick", "0", "--heartbeat", "0.5"])
    port = server.port
    stream = server.stream(encoding="proto", cache=True, heartbeat_timeout=2.0, backoff=0.2)
    try:
        with stream:
            stream.subscribe(OptionNbboQuote)
            consume_until_equal(stream, server)
            server.process.kill()
            server.process.wait()
            server = start_server(
                api_key=KEY, port=port, extra=["--tick", "0", "--heartbeat", "0.5"]
            )
            post_updates(server, bid=77.0)
            events = consume_until_equal(stream, server)
            assert any(isinstance(e, Reconnected) for e in events)
    finally:
        server.stop()


def test_slow_consumer_gets_coalesced_updates(ticking_server: ServerProcess) -> None:
    async def run() -> tuple[int, int]:
        stream = AsyncMLinkStream(
            KEY, host=ticking_server.host, scheme="ws", encoding="proto", cache=True
        )
        async with stream:
            await stream.subscribe(OptionNbboQuote)
            records = batches = 0
            started = time.monotonic()
            async for event in stream:
                if isinstance(event, Record):
                    records += 1
                elif isinstance(event, CheckPoint) and event.signal_id is not None:
                    batches += 1
                    await asyncio.sleep(0.3)  # a slow consumer: the server keeps ticking
                if time.monotonic() - started > 3:
                    break
            return records, batches

    records, batches = asyncio.run(run())
    # The demo re-quotes 5 options every 20 ms (about 750 updates in 3 s); paced by
    # SignalReady, each batch holds at most one record per option (60 in all).
    assert batches >= 3
    assert records <= 60 + 60 * batches


@pytest.mark.parametrize("encoding", ["json", "proto"])
def test_no_schema_drift_against_a_server_of_the_same_schema(
    quiet_server: ServerProcess, encoding: Encoding
) -> None:
    with quiet_server.client(encoding=encoding) as client:
        assert client.check_drift(warn=False) == ()


def test_short_timeouts_lose_no_event(quiet_server: ServerProcess) -> None:
    """next_event(timeout) that times out constantly still delivers every record once."""
    with quiet_server.stream(encoding="jsonf") as stream:
        records: list[str] = []
        timeouts = 0
        deadline = time.monotonic() + 20
        # The first wait times out before the subscription exists and is still pending when
        # its answer arrives (the snapshot can come as one frame, all queued before the next
        # call, so waiting for a timeout after subscribing could find none).
        while not timeouts and time.monotonic() < deadline:
            try:
                stream.next_event(timeout=0)  # a heartbeat at most
            except TimeoutError:
                timeouts += 1
        stream.subscribe(OptionNbboQuote)
        while time.monotonic() < deadline:
            try:
                event = stream.next_event(timeout=0)  # always times out first: a new wait
            except TimeoutError:
                timeouts += 1
                continue
            if isinstance(event, Record):
                records.append(str(event.message.pkey))  # type: ignore[union-attr]
            elif isinstance(event, CheckPoint) and event.state == "Complete":
                break
        assert len(records) == len(set(records)) == len(store_of(quiet_server, "jsonf"))
        assert timeouts > 0
