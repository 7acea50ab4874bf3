"""Both WebSocket flows of the spec, driven with raw clients (websockets, json, Google
protobuf), for every snapshot each applies to and every encoding.

2026 (``protocol-notes.md``): MLinkStream -> MLinkStreamAck, MLinkStreamCheckPt Begin, cached
records, Complete, live updates paced by MLinkSignalReady; several streams told apart by
queryLabel; stripes; MLinkSubscribe with a View; MLinkHeartbeat. 2023 (``mlink-api.md``):
MLinkQuery with MsgTypes and TKeyFilters -> records and MLinkResponse ending Complete. Both:
logon by bearer header and by MLinkLogon, errors answered with MLinkDataAck on a connection
that stays open, uploads acknowledged with MLinkDataAck. Every protobuf payload is dispatched
by its ``_meta.message_type``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import websockets

from srmlink.testing import ServerProcess

from . import clientmsgs as c
from .conftest import (
    API_KEY,
    CHAIN,
    ENCODINGS,
    HTTP_WAIT,
    JWT_SECRET,
    PASSWORD,
    SNAPSHOTS,
    Msg,
    RawSocket,
    Rest,
    Schema,
    Servers,
    frame,
    named,
    quote,
    quote_pkey,
    run_bounded,
    same_enum,
    user_jwt,
    vendor_frame,
    ws_url,
)

#: The stripe codes SpiderRock's clients open one connection each for (the whole feed).
STRIPES = ("A", "B", "C", "D", "E", "F", "G", "H", "M", "S", "X")
RECORD = "OptionNbboQuote"


@dataclass
class Ctx:
    """One snapshot's server, schema and an encoding."""

    servers: Servers
    schema: Schema
    encoding: str
    role: str = "main"

    @property
    def server(self) -> ServerProcess:
        return self.servers.get(self.schema.snapshot, self.role)

    @property
    def flow(self) -> str:
        return self.schema.flow

    @asynccontextmanager
    async def connect(self, bearer: str | None = API_KEY) -> AsyncIterator[RawSocket]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        async with websockets.connect(
            ws_url(self.server, self.encoding),
            additional_headers=headers,
            open_timeout=HTTP_WAIT,
            close_timeout=2,
            max_size=None,
        ) as ws:
            yield RawSocket(ws, self.schema, self.encoding)

    @asynccontextmanager
    async def logged_on(self) -> AsyncIterator[RawSocket]:
        async with self.connect() as sock:
            (admin,) = await sock.until(named("MLinkAdmin"), HTTP_WAIT)
            assert admin.is_state("LoggedOn"), admin.body
            yield sock

    def rest(self) -> Rest:
        return Rest(self.server, self.schema, self.encoding)


def _ctx_fixture(name: str, params: list[tuple[str, str]], doc: str) -> Any:
    """A fixture ``name`` giving a :class:`Ctx` per (snapshot, encoding) of ``params``."""

    def make(
        request: pytest.FixtureRequest, servers: Servers, schemas: Callable[[str], Schema]
    ) -> Ctx:
        snapshot, encoding = request.param
        return Ctx(servers, schemas(snapshot), encoding)

    make.__doc__ = doc
    return pytest.fixture(params=params, ids="-".join, name=name)(make)


JSONS = ("json", "jsonf")
ctx = _ctx_fixture("ctx", [(s, e) for s in SNAPSHOTS for e in ENCODINGS], "Every snapshot.")
ctx26 = _ctx_fixture("ctx26", [("2026-07", e) for e in ENCODINGS], "The 2026 flow.")
ctx23 = _ctx_fixture("ctx23", [(s, e) for s in SNAPSHOTS[1:] for e in ENCODINGS], "The 2023 flow.")
ctx26_json = _ctx_fixture(
    "ctx26_json",
    [("2026-07", e) for e in JSONS],
    "The 2026 flow in the JSON encodings (members by name, strings where numbers go).",
)
ctx_jsonf = _ctx_fixture("ctx_jsonf", [(s, "jsonf") for s in SNAPSHOTS], "Framed JSON.")
ctx23_json = _ctx_fixture(
    "ctx23_json", [(s, e) for s in SNAPSHOTS[1:] for e in JSONS], "The 2023 flow, JSON."
)


def records(messages: list[Msg]) -> list[Msg]:
    return [m for m in messages if m.name == RECORD]


# ---- logon -----------------------------------------------------------------------------------


def test_logon_by_bearer_header(ctx: Ctx) -> None:
    async def scenario() -> None:
        async with ctx.logged_on():
            pass

    run_bounded(scenario())


def test_logon_by_message(ctx: Ctx) -> None:
    async def scenario() -> None:
        async with ctx.connect(bearer=None) as sock:
            (admin,) = await sock.until(named("MLinkAdmin"), HTTP_WAIT)
            assert admin.is_state("WaitingLogon"), admin.body
            await sock.send(c.logon(ctx.flow, api_key=API_KEY))
            (admin,) = await sock.until(named("MLinkAdmin"))
            assert admin.is_state("LoggedOn"), admin.body

    run_bounded(scenario())


def test_logon_with_password_and_jwt(ctx: Ctx) -> None:
    ctx.role = "auth"

    async def logon_state(bearer: str | None, logon: c.Request | None) -> bool:
        async with ctx.connect(bearer=bearer) as sock:
            (admin,) = await sock.until(named("MLinkAdmin"), HTTP_WAIT)
            if logon is not None:
                await sock.send(logon)
                (admin,) = await sock.until(named("MLinkAdmin"))
            return bool(admin.is_state("LoggedOn"))

    async def scenario() -> None:
        flow = ctx.flow
        assert await logon_state(f"{API_KEY}.{PASSWORD}", None)
        assert await logon_state(user_jwt(), None)
        assert await logon_state(None, c.logon(flow, api_key=API_KEY, password=PASSWORD))
        assert await logon_state(None, c.logon(flow, jwt=user_jwt()))
        assert not await logon_state(None, c.logon(flow, api_key=API_KEY, password="wrong"))
        bad_jwt = user_jwt(secret=JWT_SECRET + "x")
        assert not await logon_state(None, c.logon(flow, jwt=bad_jwt))
        assert not await logon_state(None, c.logon(flow, jwt=user_jwt(expires_in=-60)))

    run_bounded(scenario())


# ---- errors and uploads (both flows) ---------------------------------------------------------


def _bad_inputs(ctx: Ctx) -> list[tuple[bytes, str, int]]:
    """(what to send, the MLinkDataAck result, its msgType) for the connection's encoding."""
    control = "MLinkStream" if ctx.flow == "stream" else "MLinkQuery"
    mnum = ctx.schema.mnum(control)
    unknown_json = b'{"header":{"mTyp":"NoSuchMessage"},"message":{}}'
    if ctx.encoding == "json":
        return [(b"{not json", "JsonError", 0), (unknown_json, "InvldMsgType", 0)]
    if ctx.encoding == "jsonf":
        return [
            (frame("J", mnum, b"{not json"), "JsonError", mnum),
            (frame("J", 9, unknown_json), "InvldMsgType", 9),
            (b"\r\nJ0x3!0000005hello", "FrameError", 0),
        ]
    return [
        (frame("P", mnum, b"\xff\xff\xff\xff"), "ProtoError", mnum),
        (frame("P", 9, b"\x08\x01"), "InvldMsgType", 9),
        (b"\r\nPzzzzz000004abcd", "FrameError", 0),
    ]


def test_undecodable_and_unknown_messages_get_a_data_ack_and_the_connection_stays(
    ctx: Ctx,
) -> None:
    async def scenario() -> None:
        async with ctx.logged_on() as sock:
            for data, result, msg_type in _bad_inputs(ctx):
                await sock.send_raw(data)
                (*_, ack) = await sock.until(named("MLinkDataAck"))
                assert same_enum(ack.get("result"), result), (data, ack.body)
                assert ack.get("msgType", "msg_type") == msg_type, (data, ack.body)
                assert ack.get("detail"), ack.body
                # Still open and listening: a logon at any time is answered by MLinkAdmin.
                await sock.send(c.logon(ctx.flow, api_key=API_KEY))
                (*_, admin) = await sock.until(named("MLinkAdmin"))
                assert admin.is_state("LoggedOn")

    run_bounded(scenario())


def test_upload_is_stored_and_acknowledged(ctx: Ctx) -> None:
    strike = 300 + ENCODINGS.index(ctx.encoding)

    async def scenario() -> None:
        async with ctx.logged_on() as sock:
            await sock.send(quote("CONFWS", strike))
            (*_, ack) = await sock.until(named("MLinkDataAck"))
            assert same_enum(ack.get("result"), "OK"), ack.body
            assert ack.get("msgType", "msg_type") == ctx.schema.mnum(RECORD)
            if ctx.encoding != "proto":
                assert ack.get("sendTs", "send_ts"), ack.body  # from the header's sTim

    run_bounded(scenario())
    stored = ctx.rest().call("getmsg", msgtype=RECORD, pkey=quote_pkey("CONFWS", strike))
    assert [r.pkey for r in stored.records] == [quote_pkey("CONFWS", strike)]


# ---- 2026: MLinkStream -----------------------------------------------------------------------


async def _snapshot(sock: RawSocket, ticker: str | None = None) -> tuple[list[Msg], list[Msg]]:
    """(everything up to CheckPt Complete, the records among it) after an MLinkStream."""
    got = await sock.until(named("MLinkStreamCheckPt", "Complete"))
    names = [m.name for m in got]
    begin = next(i for i, m in enumerate(got) if m.is_state("Begin") and m.name != RECORD)
    assert all(i > begin for i, n in enumerate(names) if n == RECORD), names
    found = records(got)
    if ticker is not None:
        assert {r.ticker for r in found} == {ticker}
    return got, found


def test_stream_ack_checkpoints_snapshot_then_paced_live(ctx26: Ctx) -> None:
    async def scenario() -> None:
        async with ctx26.logged_on() as sock:
            await sock.send(
                c.stream(RECORD, where="okey.tk:eq:AAPL", query_id=11, label="conf", latency=0)
            )
            (ack,) = [m for m in await sock.until(named("MLinkStreamAck"))][-1:]
            assert same_enum(ack.get("result"), "OK") and ack.get("queryID", "query_iD") == 11
            got, found = await _snapshot(sock, "AAPL")
            assert len({r.pkey for r in found}) == CHAIN
            complete = got[-1]
            assert complete.get("queryID", "query_iD") == 11
            assert complete.get("highwaterTs", "highwater_ts")
            # Paced (activeLatency 0): nothing live until the client signals ready.
            assert not records(await sock.quiet(0.4))
            await sock.send(c.signal_ready(5))
            live = await sock.until(lambda m: m.name == "MLinkStreamCheckPt" and
                                    m.get("signalID", "signal_iD") == 5)  # fmt: skip
            assert {r.ticker for r in records(live)} <= {"AAPL"}

    run_bounded(scenario())


def test_signal_ready_with_empty_ids_as_spiderrock_clients_send_it(ctx26_json: Ctx) -> None:
    ctx26 = ctx26_json

    async def scenario() -> None:
        async with ctx26.logged_on() as sock:
            await sock.send(c.stream(RECORD, where="okey.tk:eq:SPY", label="empty-ids", latency=0))
            await _snapshot(sock, "SPY")
            await sock.send(c.signal_ready("", full_scan=True))
            # FullScan: every record of the stream again, then a checkpoint; still open.
            got = await sock.until(named("MLinkStreamCheckPt"))
            assert {r.ticker for r in records(got)} <= {"SPY"}
            await sock.send(c.logon("stream", api_key=API_KEY))
            await sock.until(named("MLinkAdmin", "LoggedOn"))

    run_bounded(scenario())


def test_several_streams_by_query_label_run_at_once(ctx26: Ctx) -> None:
    tickers = ("AAPL", "SPY", "QQQ")

    async def scenario() -> None:
        async with ctx26.logged_on() as sock:
            for symbol in tickers:
                await sock.send(
                    c.stream(
                        RECORD, where=f"okey.tk:eq:{symbol}", label=f"conf-{symbol}", latency=1
                    )
                )
            live: set[str] = set()

            def all_live(m: Msg) -> bool:
                assert not (m.name == "MLinkStreamCheckPt" and m.is_state("Replaced")), m.body
                if m.name == RECORD and sum(1 for x in sock.seen if x.is_state("Complete")) == 3:
                    live.add(m.ticker)
                return live == set(tickers)

            await sock.until(all_live)

    run_bounded(scenario())


def test_stripes_cover_every_record_exactly_once(ctx26: Ctx) -> None:
    async def stripe(code: str | None) -> list[str]:
        async with ctx26.logged_on() as sock:
            await sock.send(c.stream(RECORD, label=f"stripe-{code}", latency=0, stripe=code))
            _, found = await _snapshot(sock)
            return [r.pkey for r in found]

    async def scenario() -> None:
        everything = await stripe(None)
        parts = await asyncio.gather(*(stripe(code) for code in STRIPES))
        owners: dict[str, list[str]] = {}
        for code, keys in zip(STRIPES, parts, strict=True):
            for key in keys:
                owners.setdefault(key, []).append(code)
        assert sorted(owners) == sorted(everything)
        assert {k: v for k, v in owners.items() if len(v) != 1} == {}
        assert sum(1 for keys in parts if keys) >= 2, "every record in one stripe"

    run_bounded(scenario())


def test_subscribe_applies_the_view_and_reports_unknown_keys(ctx26: Ctx) -> None:
    known = "QQQ-NMS-EQT-2026-12-18-440-C"
    unknown = "QQQ-NMS-EQT-2026-12-18-9999-C"

    async def scenario() -> None:
        async with ctx26.logged_on() as sock:
            await sock.send(c.subscribe(21, RECORD, [known, unknown], view="bidprice|askprice"))
            (*_, ack) = await sock.until(named("MLinkSubscribeAck"))
            if ack.encoding == "proto":
                items = {s.msg_pKey: s for s in ack.body.subscribe}
                results = {
                    k: ack.body.DESCRIPTOR.fields_by_name["subscribe"].message_type
                    .fields_by_name["result"].enum_type.values_by_number[v.result].name
                    for k, v in items.items()
                }  # fmt: skip
            else:
                results = {s["msgPKey"]: s.get("result") for s in ack.body["Subscribe"]}
            assert same_enum(results[known], "OK"), results
            assert same_enum(results[unknown], "UnkwnPKey"), results
            (*_, record) = await sock.until(named(RECORD))
            assert record.pkey == known
            assert record.get("bidPrice", "bid_price") and record.get("askPrice", "ask_price")
            assert record.get("bidSize", "bid_size") in (None, 0), record.body
            assert record.get("updateType", "update_type") in (None, 0, "UPDATETYPE_UNSPECIFIED")

    run_bounded(scenario())


def test_heartbeats(ctx26: Ctx) -> None:
    async def scenario() -> None:
        async with ctx26.logged_on() as sock:
            first, second = [(await sock.until(named("MLinkHeartbeat")))[-1] for _ in range(2)]
            assert second.get("seqNum", "seq_num") > first.get("seqNum", "seq_num")

    run_bounded(scenario())


def test_vendor_framed_json_quirk_is_accepted(ctx_jsonf: Ctx) -> None:
    """SpiderRock's samples frame JSON as ``\\r\\nJ`` + an 11-digit length (mNum 00000)."""
    ctx = ctx_jsonf

    async def scenario() -> None:
        async with ctx.logged_on() as sock:
            if ctx.flow == "stream":
                request = c.stream(RECORD, where="okey.tk:eq:AAPL", label="vendor", latency=1)
                done = named("MLinkStreamCheckPt", "Complete")
            else:
                request = c.query(ctx.schema, RECORD, label="vendor", tickers=("AAPL",))
                done = named("MLinkResponse", "Complete")
            await sock.send_raw(vendor_frame(request.encode(ctx.schema, "json")))
            got = await sock.until(done)
            assert {r.ticker for r in records(got)} == {"AAPL"}

    run_bounded(scenario())


# ---- 2023: MLinkQuery ------------------------------------------------------------------------


def test_query_msgtypes_and_tkeyfilters_filter_to_aapl(ctx23: Ctx) -> None:
    async def scenario() -> None:
        async with ctx23.logged_on() as sock:
            await sock.send(c.query(ctx23.schema, RECORD, label="conf-q", tickers=("AAPL",)))
            got = await sock.until(named("MLinkResponse", "Complete"))
            found = records(got)
            assert {r.ticker for r in found} == {"AAPL"}
            assert len({r.pkey for r in found}) == CHAIN
            assert got[-1].get("queryLabel", "query_label") == "conf-q"
            # FullQuery: nothing more after Complete.
            assert not records(await sock.quiet(0.3))

    run_bounded(scenario())


def test_full_subscription_is_paced_by_signal_ready(ctx23: Ctx) -> None:
    async def scenario() -> None:
        async with ctx23.logged_on() as sock:
            request = c.query(
                ctx23.schema, RECORD, label="conf-sub", kind="FullSubscription", tickers=("SPY",)
            )
            await sock.send(request)
            got = await sock.until(named("MLinkResponse", "Complete"))
            assert {r.ticker for r in records(got)} == {"SPY"}
            assert not records(await sock.quiet(0.4)), "activeLatency -1 waits for SignalReady"
            await sock.send(c.query_signal_ready("conf-sub"))
            live = await sock.until(named(RECORD))
            assert {r.ticker for r in live if r.name == RECORD} == {"SPY"}

    run_bounded(scenario())


def test_query_with_a_misspelt_member_is_rejected_naming_it(ctx23_json: Ctx) -> None:
    ctx23 = ctx23_json

    async def scenario() -> None:
        async with ctx23.logged_on() as sock:
            request = c.query(
                ctx23.schema, RECORD, label="typo", tickers=("AAPL",), filters_name="TkeyFilters"
            )
            await sock.send(request)

            def refused(m: Msg) -> bool:
                return "TkeyFilters" in str(m.get("detail") or "") and not (
                    m.is_state("Complete") or same_enum(m.get("result"), "OK")
                )

            got = await sock.until(lambda m: refused(m) or m.is_state("Complete"))
            assert refused(got[-1]), [(m.name, m.body) for m in got if m.name != RECORD]
            assert not records(got)

    run_bounded(scenario())


def test_query_accepts_the_older_singular_msgtype(ctx23_json: Ctx) -> None:
    ctx23 = ctx23_json

    async def scenario() -> None:
        async with ctx23.logged_on() as sock:
            request = c.query(ctx23.schema, RECORD, label="singular", tickers=("QQQ",))
            request.json["MsgType"] = [{"msgType": ctx23.schema.mnum(RECORD)}]
            request.json["msgNameFilter"] = RECORD
            del request.json["MsgTypes"]
            await sock.send(request)
            got = await sock.until(named("MLinkResponse", "Complete"))
            assert {r.ticker for r in records(got)} == {"QQQ"}

    run_bounded(scenario())
