"""The conformance scenarios through srmlink's own clients (MLinkClient, AsyncMLinkStream),
against the same servers and with the same expectations as the raw-client modules, so both
sides of srmlink are checked against the spec. Each snapshot's bindings are loaded in this
process (a staged tree under a package name of its own) and given to the clients.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from srmlink import MLinkClient
from srmlink.errors import AuthError, MLinkQueryError
from srmlink.keys import TickerKey
from srmlink.messages import registry as registry_2026
from srmlink.registry import Registry
from srmlink.stream import AsyncMLinkStream, CheckPoint, Heartbeat, Record

from ..conftest import snapshot_registry
from .conftest import (
    API_KEY,
    CHAIN,
    DEMO_TICKERS,
    ENCODINGS,
    HTTP_WAIT,
    PASSWORD,
    SNAPSHOTS,
    WAIT,
    Schema,
    Servers,
    quote_pkey,
    run_bounded,
)

QUOTE = "OptionNbboQuote"


class Side:
    """One snapshot's server, registry, schema numbers and an encoding."""

    def __init__(self, servers: Servers, schema: Schema, registry: Registry, encoding: str):
        self.servers = servers
        self.schema = schema
        self.registry = registry
        self.encoding = encoding

    def client(self, role: str = "main", key: str = API_KEY) -> MLinkClient:
        server = self.servers.get(self.schema.snapshot, role)
        return MLinkClient(
            key,
            host=server.host,
            scheme="http",
            encoding=self.encoding,  # type: ignore[arg-type]
            registry=self.registry,
            timeout=HTTP_WAIT,
        )

    def stream(self, **kwargs: Any) -> AsyncMLinkStream:
        server = self.servers.get(self.schema.snapshot, "main")
        return AsyncMLinkStream(
            API_KEY,
            host=server.host,
            scheme="ws",
            encoding=self.encoding,  # type: ignore[arg-type]
            registry=self.registry,
            open_timeout=HTTP_WAIT,
            reconnect_attempts=0,
            **kwargs,
        )


def _side_fixture(name: str, params: list[tuple[str, str]], doc: str) -> Any:
    """A fixture ``name`` giving a :class:`Side` per (snapshot, encoding) of ``params``."""

    def make(
        request: pytest.FixtureRequest,
        servers: Servers,
        schemas: Callable[[str], Schema],
        staged: Callable[[Path], Path],
    ) -> Side:
        snapshot, encoding = request.param
        registry = registry_2026 if snapshot == "2026-07" else snapshot_registry(staged, snapshot)
        return Side(servers, schemas(snapshot), registry, encoding)

    make.__doc__ = doc
    return pytest.fixture(params=params, ids="-".join, name=name)(make)


side = _side_fixture(
    "side", [(s, e) for s in SNAPSHOTS for e in ENCODINGS], "Every snapshot, every encoding."
)
side26 = _side_fixture(
    "side26", [("2026-07", e) for e in ENCODINGS], "The 2026 schema (MLinkStream, logon)."
)
side23 = _side_fixture(
    "side23", [(s, e) for s in SNAPSHOTS[1:] for e in ENCODINGS], "The 2023 schemas."
)


@pytest.fixture
def client(side: Side) -> Iterator[MLinkClient]:
    with side.client() as c:
        yield c


def names(result: Any) -> list[str]:
    return [m.MSG_NAME for m in result.messages]


def ticker(record: Any) -> str:
    return str(record.pkey.okey.ticker)


# ---- REST ------------------------------------------------------------------------------------


def test_rest_schema_commands(side: Side, client: MLinkClient) -> None:
    types = {m.name: m.m_num for m in client.getmsgtypes().messages}
    assert types[QUOTE] == side.schema.mnum(QUOTE)
    fields = {m.name for m in client.getschema(QUOTE).messages}
    assert {"bidPrice", "askPrice"} <= fields


def _unframeable(side: Side, *names: str) -> str | None:
    """On protobuf, the first of ``names`` the snapshot cannot carry (not defined, or no mNum
    in its own sources): the server must refuse, naming it."""
    if side.encoding != "proto":
        return None
    return next((n for n in names if not side.schema.has(n) or n not in side.schema.numbers), None)


def test_rest_getlayout(side: Side, client: MLinkClient) -> None:
    missing = _unframeable(side, "MsgLayout", "FieldLayout")
    if missing is not None:
        with pytest.raises(MLinkQueryError, match=missing):
            client.getlayout(QUOTE)
        return
    result = client.getlayout(QUOTE)
    # Where the bindings define no MsgLayout, the records are kept as UnknownMessage.
    assert result.messages or result.unknown


def test_rest_getsummary(side: Side, client: MLinkClient) -> None:
    numeric = "SummaryNumeric" if side.schema.has("SummaryNumeric") else "AggregateNumeric"
    missing = _unframeable(side, numeric)
    if missing is not None:
        with pytest.raises(MLinkQueryError, match=missing):
            client.getsummary(QUOTE, view="bidprice|askprice")
        return
    summary = client.getsummary(QUOTE, view="bidprice|askprice").messages
    assert {str(m.name).lower() for m in summary} == {"bidprice", "askprice"}


def test_rest_key_sets_and_records(client: MLinkClient) -> None:
    symbols = {m.ticker_key.ticker for m in client.gettkeyset(QUOTE).messages}
    assert set(DEMO_TICKERS) <= symbols
    assert len(client.getekeyset(QUOTE, "AAPL-NMS-EQT").messages) == 2
    assert len(client.getokeyset(QUOTE, "AAPL-NMS-EQT-2026-12-18").messages) == CHAIN // 2
    pkey = "AAPL-NMS-EQT-2026-12-18-190-C"
    assert [str(m.pkey) for m in client.getmsg(QUOTE, pkey).messages] == [pkey]
    result = client.getmsgs(
        QUOTE, where="okey.tk:eq:AAPL", view="okey|bidprice|askprice", order="bidprice:DESC",
        limit=7,
    )  # fmt: skip
    bids = [m.bid_price for m in result.messages]
    assert len(bids) == 7 and bids == sorted(bids, reverse=True)
    assert {ticker(m) for m in result.messages} == {"AAPL"}
    assert all(m.bid_size is None for m in result.messages)
    assert client.getcount(QUOTE, where="okey.tk:eq:AAPL").messages[0].count == CHAIN


def test_rest_vendor_limit_is_clamped(client: MLinkClient) -> None:
    everything = client.getmsgs(QUOTE, where="okey.tk:eq:QQQ", limit=999999)
    assert len(everything.messages) == CHAIN


def test_rest_getaggregate(side26: Side) -> None:
    with side26.client() as client:
        result = client.getaggregate(
            QUOTE, group="okey.tk", measure="bidsize:sum", where="okey.tk:eq:AAPL | okey.tk:eq:SPY"
        )
    assert [m.rec_count for m in result.messages] == [CHAIN, CHAIN]


def test_rest_postmsgs(side: Side, client: MLinkClient) -> None:
    cls = side.registry.by_name(QUOTE)
    strike = 400 + ENCODINGS.index(side.encoding)
    pkey = quote_pkey("CONFCL", strike)
    pkey_type = cls.SPEC.field("pkey").type
    assert pkey_type is not None
    from srmlink.keys import OptionKey  # noqa: PLC0415

    record = cls(pkey=pkey_type(okey=OptionKey.parse(pkey)), bid_price=2.5)
    (ack,) = client.postmsgs([record]).messages
    assert ack.MSG_NAME == "PostAck" and str(ack.result.wire_name).lower() == "ok"
    assert [str(m.pkey) for m in client.getmsg(QUOTE, pkey).messages] == [pkey]


def test_rest_getapikey(client: MLinkClient) -> None:
    (key,) = client.getapikey("s3cret").messages
    assert key.MSG_NAME in ("UserApiKey", "MLinkApiKey")


def test_rest_logon(side26: Side) -> None:
    with side26.client("auth", f"{API_KEY}.{PASSWORD}") as auth:
        assert auth.logon("conf-user", PASSWORD, "123456").messages


def test_rest_auth_with_password(side: Side) -> None:
    with side.client("auth", f"{API_KEY}.{PASSWORD}") as good:
        assert good.getcount("MsgDesc").messages
    with side.client("auth", f"{API_KEY}.wrong") as bad, pytest.raises(AuthError):
        bad.getcount("MsgDesc")


# ---- WebSocket -------------------------------------------------------------------------------


async def _until(stream: AsyncMLinkStream, done: Callable[[Any], bool]) -> list[Any]:
    got: list[Any] = []
    async with asyncio.timeout(WAIT):
        while not got or not done(got[-1]):
            got.append(await stream.next_event())
    return got


def test_stream_snapshot_and_paced_live(side: Side) -> None:
    async def scenario() -> None:
        async with side.stream() as stream:
            snapshot = await stream.query(QUOTE, where="okey.tk:eq:AAPL")
            assert {ticker(r) for r in snapshot} == {"AAPL"}
            assert len({str(r.pkey) for r in snapshot}) == CHAIN
            await stream.subscribe(QUOTE, where="okey.tk:eq:SPY")
            complete: list[CheckPoint] = []

            def live(event: Any) -> bool:
                if isinstance(event, CheckPoint) and event.state == "Complete":
                    complete.append(event)
                return bool(complete) and isinstance(event, Record)

            await _until(stream, live)
            # Records of the finished AAPL query may still be in flight: wait for SPY's.
            await _until(stream, lambda e: isinstance(e, Record) and ticker(e.message) == "SPY")

    run_bounded(scenario())


def test_stream_2023_query_filters_by_ticker_key(side23: Side) -> None:
    side = side23

    async def scenario() -> None:
        async with side.stream() as stream:
            rows = await stream.query(QUOTE, keys=[TickerKey.parse("AAPL-NMS-EQT")])
            assert {ticker(r) for r in rows} == {"AAPL"} and len(rows) == CHAIN

    run_bounded(scenario())


def test_stream_several_subscriptions_at_once(side26: Side) -> None:
    side = side26

    async def scenario() -> None:
        async with side.stream() as stream:
            for symbol in DEMO_TICKERS:
                await stream.subscribe(QUOTE, where=f"okey.tk:eq:{symbol}", active_latency=1)
            completes: set[int | None] = set()
            live: set[str] = set()

            def done(event: Any) -> bool:
                if isinstance(event, CheckPoint):
                    assert event.state != "Replaced", event
                    if event.state == "Complete":
                        completes.add(event.query_id)
                elif isinstance(event, Record) and len(completes) == len(DEMO_TICKERS):
                    live.add(ticker(event.message))
                return live == set(DEMO_TICKERS)

            await _until(stream, done)

    run_bounded(scenario())


def test_stream_subscribe_by_key_with_a_view(side26: Side) -> None:
    side = side26
    pkey = "QQQ-NMS-EQT-2026-12-18-440-C"

    async def scenario() -> None:
        async with side.stream() as stream:
            await stream.subscribe(QUOTE, pkeys=[pkey], view="bidprice|askprice", active_latency=1)
            (*_, event) = await _until(stream, lambda e: isinstance(e, Record))
            assert str(event.message.pkey) == pkey
            assert event.message.bid_price is not None and event.message.bid_size is None

    run_bounded(scenario())


def test_stream_heartbeats(side26: Side) -> None:
    side = side26

    async def scenario() -> None:
        async with side.stream() as stream:
            await _until(stream, lambda e: isinstance(e, Heartbeat))

    run_bounded(scenario())
