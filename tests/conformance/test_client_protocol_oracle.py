"""Issue 16: the client side of the WebSocket protocol against oracles written by hand.

What srmlink's sans-I/O :class:`~srmlink.stream.ClientProtocol` sends is compared with
frames written from ``mlink-api.md`` and ``protocol-notes.md`` (JSON: the parsed document
equals the hand-written object and the header names the type; framed JSON: the 14-byte header
byte for byte; protobuf: the header byte for byte and the payload, parsed by Google's class of
the snapshot, equal to the hand-built one). Server frames written by hand are fed to it and
the events checked. The pacing rules (SignalReady only once the consumer has drained its
queue, never a second one while one is pending) are checked on AsyncMLinkStream against a
scripted WebSocket server that sends hand-written frames and records what it receives.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import websockets

from srmlink.auth import Credentials
from srmlink.errors import AuthError
from srmlink.keys import TickerKey
from srmlink.messages import registry as registry_2026
from srmlink.registry import Registry
from srmlink.stream import (
    AsyncMLinkStream,
    CheckPoint,
    ClientProtocol,
    Heartbeat,
    Record,
    StreamAck,
    StreamRequest,
)

from ..conftest import snapshot_registry
from .conftest import ENCODINGS, Schema, frame, json_document, split_frames, vendor_frame

QUOTE = "OptionNbboQuote"
PKEY = "AAPL-NMS-EQT-2026-12-18-190-C"
HIGHWATER = 1_782_000_000_123_456_789
SENT = 1_782_000_000_654_321_000  # whole microseconds: the JSON header's sTim carries them
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


def registry_of(snapshot: str, staged: Callable[[Path], Path]) -> Registry:
    return registry_2026 if snapshot == "2026-07" else snapshot_registry(staged, snapshot)


def check_sent(schema: Schema, encoding: str, sent: bytes, name: str, expected: dict[str, Any],
               fill: Callable[[Any], None]) -> None:  # fmt: skip
    """``sent`` is exactly the hand-written ``name`` message: ``expected`` (JSON wire names)
    or, for protobuf, the Google object ``fill`` builds."""
    if encoding == "json":
        document = json.loads(sent)
    elif encoding == "jsonf":
        ((_, _, payload),) = split_frames(sent)
        assert sent[:8] == b"\r\nJ%05d" % schema.mnum(name), sent[:14]
        assert sent[8:14] == b"%06d" % len(payload)
        document = json.loads(payload)
    else:
        ((_, _, payload),) = split_frames(sent)
        assert sent[:14] == b"\r\nP%05d%06d" % (schema.mnum(name), len(payload)), sent[:14]
        got = schema.cls(name).FromString(payload)
        meta = got._meta.message_type
        want = schema.cls(name)()
        fill(want)
        got.ClearField("_meta")
        assert got == want, f"\n{got}\n!=\n{want}"
        assert meta == name  # contract 5: _meta.message_type on every payload
        return
    header = document["header"]
    assert header["mTyp"] == name
    assert document["message"] == expected
    # Contract 4: the header fields SpiderRock's clients send.
    assert STAMP.match(header.get("sTim", "")) and STAMP.match(header.get("encT", "")), header


@pytest.fixture(params=ENCODINGS)
def encoding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def s26(schemas: Callable[[str], Schema]) -> Schema:
    return schemas("2026-07")


def protocol26(encoding: str, token: str | None = "k") -> ClientProtocol:
    credentials = Credentials.from_token(token) if token else None
    return ClientProtocol(registry_2026, encoding, credentials)  # type: ignore[arg-type]


# ---- 2026 requests ---------------------------------------------------------------------------


def test_mlinkstream_paced_by_signal_ready(s26: Schema, encoding: str) -> None:
    proto = protocol26(encoding)
    sent = proto.subscribe(
        StreamRequest(query_id=1, msg_name=QUOTE, where="okey.tk:eq:AAPL", view="bidPrice|askPrice")
    )
    expected = {
        "msgName": QUOTE,
        "where": "okey.tk:eq:AAPL",
        "view": "bidPrice|askPrice",
        "queryID": 1,
        "queryLabel": "srmlink-1",
        "activeLatency": 0,  # 0 = wait for SignalReady
    }

    def fill(m: Any) -> None:
        m.msg_name, m.where, m.view = QUOTE, "okey.tk:eq:AAPL", "bidPrice|askPrice"
        m.query_iD, m.query_label, m.active_latency = 1, "srmlink-1", 0

    check_sent(s26, encoding, sent, "MLinkStream", expected, fill)


def test_mlinkstream_with_an_active_latency(s26: Schema, encoding: str) -> None:
    sent = protocol26(encoding).subscribe(
        StreamRequest(query_id=4, msg_name=QUOTE, active_latency=250)
    )
    expected = {"msgName": QUOTE, "queryID": 4, "queryLabel": "srmlink-4", "activeLatency": 250}

    def fill(m: Any) -> None:
        m.msg_name, m.query_iD, m.query_label, m.active_latency = QUOTE, 4, "srmlink-4", 250

    check_sent(s26, encoding, sent, "MLinkStream", expected, fill)


def test_mlinksubscribe_by_primary_key_with_a_view(s26: Schema, encoding: str) -> None:
    sent = protocol26(encoding).subscribe(
        StreamRequest(query_id=2, msg_name=QUOTE, view="bidPrice|askPrice", pkeys=(PKEY,))
    )
    expected = {
        "subscribeID": 2,
        "activeLatency": 0,
        "Subscribe": [{"msgName": QUOTE, "msgPKey": PKEY}],
        "View": [{"msgName": QUOTE, "view": "bidPrice|askPrice"}],
    }

    def fill(m: Any) -> None:
        m.subscribe_iD, m.active_latency = 2, 0
        m.subscribe.add(msg_name=QUOTE, msg_pKey=PKEY)
        m.view.add(msg_name=QUOTE, view="bidPrice|askPrice")

    check_sent(s26, encoding, sent, "MLinkSubscribe", expected, fill)


def test_signal_ready(s26: Schema, encoding: str) -> None:
    proto = protocol26(encoding)
    proto.subscribe(StreamRequest(query_id=1, msg_name=QUOTE))
    expected = {"signalID": 1, "readyScan": "Incremental"}

    def fill(m: Any) -> None:
        m.signal_iD, m.ready_scan = 1, s26.enum("READYSCAN_INCREMENTAL")

    check_sent(s26, encoding, proto.signal_ready(), "MLinkSignalReady", expected, fill)


def test_logon_with_key_and_password(s26: Schema, encoding: str) -> None:
    sent = protocol26(encoding, "k.pw").connection_made()[0]

    def fill(m: Any) -> None:
        m.api_key, m.password = "k", "pw"

    check_sent(s26, encoding, sent, "MLinkLogon", {"apiKey": "k", "password": "pw"}, fill)


def _feed(proto: ClientProtocol, schema: Schema, name: str, message: dict[str, Any],
          fill: Callable[[Any], None], *, sent_ns: int | None = None) -> list[Any]:  # fmt: skip
    """Hand a server message to ``proto`` as the server would frame it (``sent_ns``: the
    send time, in the JSON header's sTim or protobuf's ``_meta.time_sent``)."""
    if proto.encoding != "proto":
        document = json_document(name, message, sent_ns=sent_ns)
        if proto.encoding == "json":
            return proto.receive(document)
        return proto.receive(frame("J", schema.mnum(name), document))
    record = schema.cls(name)()
    record._meta.message_type = name
    if sent_ns is not None:
        record._meta.time_sent = sent_ns
    fill(record)
    return proto.receive(frame("P", schema.mnum(name), record.SerializeToString()))


Fill = Callable[[Any], None]


def _checkpoint(
    schema: Schema, query_id: int, state: str, **extra: int
) -> tuple[dict[str, Any], Fill]:
    message: dict[str, Any] = {"queryID": query_id, "state": state}
    if "highwaterTs" in extra:
        message["highwaterTs"] = extra["highwaterTs"]
    if "signalID" in extra:
        message["signalID"] = extra["signalID"]

    def fill(m: Any) -> None:
        m.query_iD = query_id
        m.state = schema.enum("MLINKSTREAMSTATE_" + state.upper())
        m.highwater_ts = extra.get("highwaterTs", 0)
        m.signal_iD = extra.get("signalID", 0)

    return message, fill


def test_resume_sends_the_last_highwater(s26: Schema, encoding: str) -> None:
    """After a reconnect, every subscription resumes where it stopped: MLinkStream from its
    last checkpoint's highwaterTs; MLinkSubscribe (whose checkpoints carry none) from the
    send time of the last record it received (the spec: records "must have a header.sentTs
    later than this value"), in each Subscribe entry."""
    proto = protocol26(encoding, None)
    proto.subscribe(StreamRequest(query_id=1, msg_name=QUOTE))
    proto.subscribe(StreamRequest(query_id=2, msg_name=QUOTE, pkeys=(PKEY,)))
    message, fill = _checkpoint(s26, 1, "Active", highwaterTs=HIGHWATER + 1)
    (event,) = _feed(proto, s26, "MLinkStreamCheckPt", message, fill)
    assert isinstance(event, CheckPoint) and event.highwater_ts == HIGHWATER + 1

    def sub_active(m: Any) -> None:
        m.subscribe_iD, m.state = 2, s26.enum("MLINKSUBSCRIBESTATE_ACTIVE")

    active = {"subscribeID": 2, "state": "Active"}
    _feed(proto, s26, "MLinkSubscribeCheckPt", active, sub_active)
    record, fill_record = _quote(s26)
    (event,) = _feed(proto, s26, QUOTE, record, fill_record, sent_ns=SENT)
    assert isinstance(event, Record)
    stream, subscribe = proto.connection_made()
    expected_stream = {
        "msgName": QUOTE,
        "queryID": 1,
        "queryLabel": "srmlink-1",
        "activeLatency": 0,
        "highwaterTs": HIGHWATER + 1,
    }

    def fill_stream(m: Any) -> None:
        m.msg_name, m.query_iD, m.query_label, m.active_latency = QUOTE, 1, "srmlink-1", 0
        m.highwater_ts = HIGHWATER + 1

    check_sent(s26, encoding, stream, "MLinkStream", expected_stream, fill_stream)
    expected_subscribe = {
        "subscribeID": 2,
        "activeLatency": 0,
        "Subscribe": [{"msgName": QUOTE, "msgPKey": PKEY, "highwaterTs": SENT}],
    }

    def fill_subscribe(m: Any) -> None:
        m.subscribe_iD, m.active_latency = 2, 0
        m.subscribe.add(msg_name=QUOTE, msg_pKey=PKEY, highwater_ts=SENT)

    check_sent(s26, encoding, subscribe, "MLinkSubscribe", expected_subscribe, fill_subscribe)


def _quote(schema: Schema) -> tuple[dict[str, Any], Fill]:
    """The OptionNbboQuote of PKEY, bid 1.25, as JSON and as a protobuf filler."""
    okey = {"at": "EQT", "ts": "NMS", "tk": "AAPL", "dt": "2026-12-18", "xx": 190, "cp": "Call"}

    def fill(m: Any) -> None:
        k = m.pkey.okey
        k.asset_type, k.ticker_src = schema.enum("ASSETTYPE_EQT"), schema.enum("TICKERSRC_NMS")
        k.ticker, k.strike, k.call_put = "AAPL", 190, schema.enum("CALLPUT_CALL")
        k.expiration.year, k.expiration.month, k.expiration.day = 2026, 12, 18
        m.bid_price = 1.25

    return {"pkey": {"okey": okey}, "bidPrice": 1.25}, fill


# ---- 2026 server frames ----------------------------------------------------------------------


def test_server_frames_become_events(s26: Schema, encoding: str) -> None:
    proto = protocol26(encoding)
    proto.subscribe(StreamRequest(query_id=1, msg_name=QUOTE))

    def admin(state: str) -> list[Any]:
        def fill(m: Any) -> None:
            m.state = s26.enum(
                "HTTPSESSIONSTATE_" + re.sub(r"(?<!^)([A-Z])", r"_\1", state).upper()
            )

        return _feed(proto, s26, "MLinkAdmin", {"state": state}, fill)

    assert admin("LoggedOn") == [] and proto.logged_on

    def ack(m: Any) -> None:
        m.query_iD, m.msg_name, m.result = 1, QUOTE, s26.enum("ACKRESULT_OK")

    message = {"queryID": 1, "msgName": QUOTE, "result": "OK"}
    (event,) = _feed(proto, s26, "MLinkStreamAck", message, ack)
    assert isinstance(event, StreamAck) and event.ok and event.query_id == 1
    for state in ("Begin", "Complete"):
        message, fill = _checkpoint(s26, 1, state, highwaterTs=HIGHWATER)
        (event,) = _feed(proto, s26, "MLinkStreamCheckPt", message, fill)
        assert isinstance(event, CheckPoint)
        assert (event.state, event.query_id, event.highwater_ts) == (state, 1, HIGHWATER)
    (event,) = _feed(proto, s26, QUOTE, *_quote(s26))
    assert isinstance(event, Record)
    assert str(event.message.pkey) == PKEY and event.message.bid_price == 1.25

    def beat(m: Any) -> None:
        m.seq_num = 7

    (event,) = _feed(proto, s26, "MLinkHeartbeat", {"seqNum": 7}, beat)
    assert isinstance(event, Heartbeat)
    # A signal is outstanding until the checkpoint that names it.
    proto.signal_ready()
    assert proto.outstanding_signal == 1
    message, fill = _checkpoint(s26, 1, "Active", signalID=1)
    (event,) = _feed(proto, s26, "MLinkStreamCheckPt", message, fill)
    assert event.signal_id == 1 and proto.outstanding_signal is None
    with pytest.raises(AuthError):
        admin("LogonFailed")


def test_vendor_framed_json_from_a_server_is_read_by_its_header() -> None:
    """Contract 6: ``\\r\\nJ`` + 11 digits is mNum 00000 + a length; the type is the JSON
    header's."""
    proto = protocol26("jsonf")
    body = json_document("MLinkHeartbeat", {"seqNum": 3})
    (event,) = proto.receive(vendor_frame(body))
    assert isinstance(event, Heartbeat)


# ---- 2023: MLinkQuery ------------------------------------------------------------------------


@pytest.fixture(params=["2023-07", "2023-05"])
def s23(request: pytest.FixtureRequest, schemas: Callable[[str], Schema]) -> Schema:
    return schemas(str(request.param))


def test_mlinkquery_as_the_spec_writes_it(
    s23: Schema, encoding: str, staged: Callable[[Path], Path]
) -> None:
    registry = registry_of(s23.snapshot, staged)
    proto = ClientProtocol(registry, encoding, None)  # type: ignore[arg-type]
    assert proto.flow == "query"
    mnum = s23.mnum(QUOTE)
    sent = proto.subscribe(
        StreamRequest(
            query_id=1,
            msg_name=QUOTE,
            where="bidsize:ge:1",
            view="bidPrice|askPrice",
            keys=(TickerKey.parse("AAPL-NMS-EQT"),),
        )
    )
    # The spec's example (MsgTypes, TKeyFilters). 2023-05 is the older form protocol-notes
    # quotes from SpiderRock's older sample: a singular "MsgType" repeater (its proto's
    # nested message is MsgType too) whose child has no msgName.
    child: dict[str, Any] = {"msgType": mnum, "msgName": QUOTE}
    repeater = "MsgTypes"
    if s23.snapshot == "2023-05":
        del child["msgName"]
        repeater = "MsgType"
    child |= {"view": "bidPrice|askPrice", "where": "bidsize:ge:1"}
    expected = {
        "queryLabel": "srmlink-1",
        "queryType": "FullSubscription",
        "activeLatency": -1,
        repeater: [child],
        "TKeyFilters": [{"tickerKey": {"at": "EQT", "ts": "NMS", "tk": "AAPL"}}],
    }

    def fill(m: Any) -> None:
        m.query_label = "srmlink-1"
        m.query_type = s23.enum("MLINKQUERYTYPE_FULL_SUBSCRIPTION")
        m.active_latency = -1
        items = m.msg_types if "msg_types" in m.DESCRIPTOR.fields_by_name else m.msg_type
        item = items.add(msg_type=mnum, view="bidPrice|askPrice", where="bidsize:ge:1")
        if "msg_name" in item.DESCRIPTOR.fields_by_name:
            item.msg_name = QUOTE
        key = m.tkey_filters.add().ticker_key
        key.asset_type, key.ticker_src = s23.enum("ASSETTYPE_EQT"), s23.enum("TICKERSRC_NMS")
        key.ticker = "AAPL"

    check_sent(s23, encoding, sent, "MLinkQuery", expected, fill)

    # SignalReady names the query it paces.
    def fill_ready(m: Any) -> None:
        m.query_label = "srmlink-1"

    ready = {"queryLabel": "srmlink-1"}
    check_sent(s23, encoding, proto.signal_ready(), "MLinkSignalReady", ready, fill_ready)

    # A response carrying highwaterTs: the resume is an IncrSubscription from there.
    def fill_response(m: Any) -> None:
        m.query_label, m.highwater_ts = "srmlink-1", HIGHWATER
        m.state = s23.enum("MLINKSTATE_COMPLETE")

    message = {"queryLabel": "srmlink-1", "state": "Complete", "highwaterTs": HIGHWATER}
    (event,) = _feed(proto, s23, "MLinkResponse", message, fill_response)
    assert isinstance(event, CheckPoint) and event.state == "Complete" and event.query_id == 1
    (resumed,) = proto.connection_made()
    expected |= {"queryType": "IncrSubscription", "highwaterTs": HIGHWATER}

    def fill_resumed(m: Any) -> None:
        fill(m)
        m.query_type = s23.enum("MLINKQUERYTYPE_INCR_SUBSCRIPTION")
        m.highwater_ts = HIGHWATER

    check_sent(s23, encoding, resumed, "MLinkQuery", expected, fill_resumed)


# ---- pacing, against a scripted server -------------------------------------------------------


class ScriptedServer:
    """A WebSocket server (framed JSON, 2026 numbers) that logs the client on, answers
    MLinkStream with nothing, and sends what the test tells it to; it records every
    MLinkSignalReady it receives."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.signals: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.ws: Any = None
        self.ready = asyncio.Event()

    def frame(self, name: str, message: dict[str, Any]) -> bytes:
        return frame("J", self.schema.mnum(name), json_document(name, message))

    async def handler(self, ws: Any) -> None:
        self.ws = ws
        await ws.send(self.frame("MLinkAdmin", {"state": "LoggedOn"}))
        async for data in ws:
            raw = data.encode() if isinstance(data, str) else data
            for _, _, payload in split_frames(raw):
                document = json.loads(payload)
                name = document["header"]["mTyp"]
                if name == "MLinkLogon":
                    await ws.send(self.frame("MLinkAdmin", {"state": "LoggedOn"}))
                elif name == "MLinkStream":
                    self.ready.set()
                elif name == "MLinkSignalReady":
                    self.signals.append(document["message"])
                    self.changed.set()

    async def send(self, *messages: tuple[str, dict[str, Any]]) -> None:
        """Several messages in one WebSocket frame (framed JSON allows it)."""
        await self.ws.send(b"".join(self.frame(name, m) for name, m in messages))

    async def signal_count(self, count: int, window: float) -> int:
        """The number of SignalReady received once it reaches ``count`` or ``window`` ends."""
        try:
            async with asyncio.timeout(window):
                while len(self.signals) < count:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            pass
        return len(self.signals)


def _record(strike: int) -> tuple[str, dict[str, Any]]:
    okey = {"at": "EQT", "ts": "NMS", "tk": "AAPL", "dt": "2026-12-18", "xx": strike, "cp": "Call"}
    return QUOTE, {"pkey": {"okey": okey}, "bidPrice": 1.0}


def _active(signal: int) -> tuple[str, dict[str, Any]]:
    return "MLinkStreamCheckPt", {"queryID": 1, "state": "Active", "signalID": signal}


def test_signal_ready_waits_for_the_consumer_and_for_the_pending_signal(s26: Schema) -> None:
    async def scenario() -> None:
        server = ScriptedServer(s26)
        async with websockets.serve(server.handler, "127.0.0.1", 0) as ws_server:
            port = ws_server.sockets[0].getsockname()[1]
            stream = AsyncMLinkStream(
                "k", host=f"127.0.0.1:{port}", scheme="ws", encoding="jsonf",
                reconnect_attempts=0, heartbeat_timeout=None,
            )  # fmt: skip
            async with stream:
                await stream.subscribe(QUOTE)
                async with asyncio.timeout(10):
                    await server.ready.wait()
                first = asyncio.ensure_future(stream.next_event())
                # Nothing queued: the consumer waiting is the signal to send.
                assert await server.signal_count(1, 10) == 1
                signal = server.signals[0]["signalID"]
                await server.send(
                    ("MLinkStreamAck", {"queryID": 1, "msgName": QUOTE, "result": "OK"}),
                    ("MLinkStreamCheckPt", {"queryID": 1, "state": "Begin"}),
                    _record(180), _record(185), _record(190),
                    ("MLinkStreamCheckPt", {"queryID": 1, "state": "Complete"}),
                    _active(signal),
                )  # fmt: skip
                events = [await first]
                events += [await stream.next_event(timeout=10) for _ in range(6)]
                assert isinstance(events[-1], CheckPoint) and events[-1].signal_id == signal
                # Seven events were queued at once: no SignalReady until all were consumed.
                assert await server.signal_count(2, 0.3) == 1
                pending = asyncio.ensure_future(stream.next_event())
                assert await server.signal_count(2, 10) == 2
                second = server.signals[1]["signalID"]
                assert second != signal
                # A live record, but no checkpoint for the second signal: it stays pending.
                await server.send(_record(195))
                assert isinstance(await pending, Record)
                with pytest.raises(TimeoutError):
                    await stream.next_event(timeout=0.3)
                assert await server.signal_count(3, 0.1) == 2
                await server.send(_active(second))
                event = await stream.next_event(timeout=10)
                assert isinstance(event, CheckPoint) and event.signal_id == second
                third = asyncio.ensure_future(stream.next_event())
                assert await server.signal_count(3, 10) == 3
                third.cancel()

    asyncio.run(scenario())
