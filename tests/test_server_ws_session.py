"""The server's side of a WebSocket connection with no sockets: frames written by hand from the
spec fed to :class:`StreamSession`, for the 2026 flow (MLinkStream / MLinkSubscribe) and the
2023 flow (MLinkQuery) on the 2023-05 and 2023-07 schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from srmlink import OptionKey
from srmlink.codec import Encoding, encode
from srmlink.framing import encode_frame
from srmlink.keys import CallPut
from srmlink.message import Message
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, registry
from srmlink.records import wire_value
from srmlink.registry import Registry
from srmlink.server import LiveStore, RestHandler
from srmlink.server.demo import seed
from srmlink.server.session import StreamSession
from srmlink.stripes import in_stripe

from .conftest import snapshot_registry

FRAMED: tuple[Encoding, ...] = ("json", "jsonf")
STAMP = "2026-07-12 14:03:07.123456"
STAMP_NS = int(datetime(2026, 7, 12, 14, 3, 7, tzinfo=UTC).timestamp()) * 10**9 + 123_456_000


def okey(ticker: str, strike: int = 200) -> OptionKey:
    return OptionKey("EQT", "NMS", ticker, date(2026, 12, 18), strike, CallPut.CALL)


def quote(ticker: str, bid: float, strike: int = 200, size: int = 1) -> OptionNbboQuote:
    pkey = OptionNbboQuotePKey(okey=okey(ticker, strike))
    return OptionNbboQuote(pkey=pkey, bid_price=bid, bid_size=size)


def frame(encoding: Encoding, name: str, message: dict[str, Any], **header: Any) -> bytes:
    """One request as a client writes it: a JSON envelope, framed the way SpiderRock's samples
    frame it (``\\r\\nJ`` + an 11-digit length, that is mNum 00000)."""
    text = json.dumps({"header": {"mTyp": name, **header}, "message": message}).encode()
    return text if encoding == "json" else b"\r\nJ%011d" % len(text) + text


class Client:
    """A session of ``registry``'s schema with its store, fed hand-written frames."""

    def __init__(self, encoding: Encoding, reg: Registry = registry, *, demo: bool = False):
        self.encoding = encoding
        self.handler = RestHandler(LiveStore(), reg, None)
        if demo:
            seed(self.handler)
        self.session = StreamSession(self.handler, encoding, authorised=True)

    def send(self, name: str, message: dict[str, Any], **header: Any) -> list[Message]:
        return self.session.feed(frame(self.encoding, name, message, **header))

    def put(self, record: Message) -> None:
        self.handler.store.put(record)


def named(replies: list[Message], name: str) -> list[Message]:
    return [m for m in replies if name == m.MSG_NAME]


def states(replies: list[Message]) -> list[str]:
    return [str(wire_value(m, "state")) for m in replies if wire_value(m, "state") is not None]


def tickers(replies: list[Message]) -> list[str]:
    return sorted(m.pkey.okey.ticker for m in replies if isinstance(m, OptionNbboQuote))


def stream(client: Client, **members: Any) -> list[Message]:
    return client.send("MLinkStream", {"msgName": "OptionNbboQuote", **members})


# ---- 1. liberal in what it accepts -------------------------------------------------------


@pytest.mark.parametrize("encoding", FRAMED)
def test_signal_ready_with_empty_strings_and_full_scan_is_accepted(encoding: Encoding) -> None:
    client = Client(encoding)
    client.put(quote("AAPL", 1.0))
    replies = stream(client, queryLabel="q", where="okey.tk:eq:AAPL")
    assert states(replies)[-1] == "Complete"
    signal = {"signalID": "", "sessionID": "", "sesionID": "", "readyScan": "FullScan"}
    header = {"sTim": STAMP, "encT": STAMP, "sEnv0": "Saturn", "seqN": 7, "whatever": [1]}
    assert client.send("MLinkSignalReady", signal, **header) == []
    batch = client.session.due()
    assert tickers(batch) == ["AAPL"]  # FullScan: every matching record again
    assert states(batch) == ["Active"] and wire_value(batch[-1], "signalID") is None


def test_empty_string_means_not_given_in_requests() -> None:
    client = Client("json", demo=True)
    replies = stream(client, queryID="", queryLabel="x", where="", view="", highwaterTs="")
    assert str(wire_value(replies[0], "result")) == "OK"
    assert len(tickers(replies)) == 60  # no where: every demo quote


# ---- 2. several streams on one connection --------------------------------------------------


@pytest.mark.parametrize("ident", ["queryLabel", "queryID"])
def test_several_streams_each_keep_their_own_updates(ident: str) -> None:
    client = Client("jsonf", demo=True)
    first, second, third = ("a", "b", "c") if ident == "queryLabel" else (1, 2, 3)
    for value, ticker in ((first, "AAPL"), (second, "SPY"), (third, "QQQ")):
        replies = stream(client, activeLatency=1, where=f"okey.tk:eq:{ticker}", **{ident: value})
        assert "Replaced" not in states(replies)
        assert set(tickers(replies)) == {ticker}
    assert len(client.session.subs) == 3
    client.put(quote("AAPL", 5.0))
    client.put(quote("SPY", 6.0))
    client.session.clock = lambda: float("inf")  # every timed batch is due
    batches = client.session.due()
    assert tickers(batches) == ["AAPL", "SPY"]
    # Only the same queryID / queryLabel replaces a stream.
    replies = stream(client, where="okey.tk:eq:SPY", **{ident: first})
    assert states(replies)[0] == "Replaced" and len(client.session.subs) == 3
    gone = stream(client, unsubscribe="Yes", **{ident: second})
    assert states(gone) == ["Terminated"] and len(client.session.subs) == 2


# ---- 3. stripes ----------------------------------------------------------------------------


@pytest.mark.parametrize("stripe", ["A", "G", "F2", "M"])
def test_stripe_filter_applies_to_snapshot_and_live_updates(stripe: str) -> None:
    client = Client("json", demo=True)
    replies = stream(client, queryID=1, stripeFilter=stripe, activeLatency=1)
    snapshot = [m for m in replies if isinstance(m, OptionNbboQuote)]
    assert all(in_stripe(m, stripe) for m in snapshot)
    expected = {"A": 20, "G": 20, "F2": 20, "M": 0}[stripe]  # AAPL, SPY, QQQ
    assert len(snapshot) == expected
    for ticker in ("AAPL", "SPY", "QQQ", "BAC"):
        client.put(quote(ticker, 9.0))
    client.session.clock = lambda: float("inf")
    live = [m for m in client.session.due() if isinstance(m, OptionNbboQuote)]
    assert (live and all(in_stripe(m, stripe) for m in live)) or stripe == "M"


def test_an_unknown_stripe_is_an_error_ack_naming_it() -> None:
    client = Client("json", demo=True)
    replies = stream(client, queryID=4, stripeFilter="Q7")
    assert [m.MSG_NAME for m in replies] == ["MLinkStreamAck"]
    assert str(wire_value(replies[0], "result")) == "Error"
    assert "'Q7'" in wire_value(replies[0], "detail") and client.session.subs == []


# ---- 4. MLinkSubscribe ---------------------------------------------------------------------


def test_subscribe_applies_its_view_to_the_snapshot_and_refuses_unknown_keys() -> None:
    client = Client("jsonf", demo=True)
    known = str(OptionNbboQuotePKey(okey=okey("AAPL", 190)))
    as_json = json.dumps({"okey": okey("SPY", 520).to_json()})
    replies = client.send(
        "MLinkSubscribe",
        {
            "subscribeID": 3,
            "Subscribe": [
                {"msgName": "OptionNbboQuote", "msgPKey": known},
                {"msgName": "OptionNbboQuote", "msgPKey": as_json},
                {"msgName": "OptionNbboQuote", "msgPKey": "ZZZ-NMS-EQT-2026-12-18-1-C"},
            ],
            "View": [{"msgName": "OptionNbboQuote", "view": "bidprice"}],
        },
    )
    ack = replies[0]
    results = [str(wire_value(item, "result")) for item in wire_value(ack, "Subscribe")]
    assert results == ["OK", "OK", "UnkwnPKey"]
    assert str(wire_value(ack, "succeeded")) == "No" and "ZZZ" in wire_value(ack, "errorMsg")
    records = [m for m in replies if isinstance(m, OptionNbboQuote)]
    assert tickers(records) == ["AAPL", "SPY"]
    assert all(r.bid_price is not None and r.bid_size is None for r in records)  # the view
    assert wire_value(ack, "numActiveSubscriptions") == 2


# ---- 5. errors and uploads -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "data", "result", "names"),
    [
        ("json", b'{"header": {"mTyp": "MLinkStream"}, "message": {', "JsonError", "byte"),
        ("json", b'{"header": {"mTyp": "NoSuchType"}, "message": {}}', "InvldMsgType",
         "NoSuchType"),
        ("jsonf", b"\r\nX0000000001{", "FrameError", "byte 2"),
        ("jsonf", b"\r\nJ00000000002{]", "JsonError", "byte"),
        ("proto", encode_frame("P", 12345, b"\x08\x01"), "InvldMsgType", "12345"),
        ("proto", encode_frame("P", OptionNbboQuote.MSG_NUM or 0, b"\xff\xff"), "ProtoError",
         "OptionNbboQuote"),
        ("json", b'{"header": {"mTyp": "OptionNbboQuote"}, "message": {"bidSize": "x"}}',
         "JsonError", "bidSize"),
    ],
)  # fmt: skip
def test_what_cannot_be_read_is_acked_naming_it_and_the_session_goes_on(
    encoding: Encoding, data: bytes, result: str, names: str
) -> None:
    client = Client(encoding, demo=True)
    replies = client.session.feed(data)
    assert [m.MSG_NAME for m in replies] == ["MLinkDataAck"]
    assert str(wire_value(replies[0], "result")) == result
    assert names in wire_value(replies[0], "detail")
    request = encode([registry.by_name("MLinkStream")(msg_name="OptionNbboQuote")], encoding)
    if encoding == "json":
        request = request[1:-1]  # one envelope per frame, not an array
    assert states(client.session.feed(request))[-1] == "Complete"


@pytest.mark.parametrize("encoding", FRAMED)
def test_an_uploaded_record_is_stored_and_acked(encoding: Encoding) -> None:
    client = Client(encoding)
    record = {"pkey": {"okey": okey("AAPL").to_json()}, "bidPrice": 2.5, "bidSize": 3}
    replies = client.send("OptionNbboQuote", record, sTim=STAMP, encT=STAMP)
    assert [m.MSG_NAME for m in replies] == ["MLinkDataAck"]
    ack = replies[0]
    assert str(wire_value(ack, "result")) == "OK"
    assert wire_value(ack, "msgType") == OptionNbboQuote.MSG_NUM
    assert wire_value(ack, "sendTs") == STAMP_NS
    stored = client.handler.store.get(
        "OptionNbboQuote", str(OptionNbboQuotePKey(okey=okey("AAPL")))
    )
    assert isinstance(stored, OptionNbboQuote) and stored.bid_price == 2.5


def test_an_uploaded_protobuf_record_is_stored_and_acked() -> None:
    client = Client("proto")
    replies = client.session.feed(encode([quote("MSFT", 4.5)], "proto"))
    assert str(wire_value(replies[0], "result")) == "OK"
    assert wire_value(replies[0], "sendTs") == client.handler.store.highwater_ns
    assert [r.bid_price for r in client.handler.store.records("OptionNbboQuote")] == [4.5]


def test_an_upload_that_fails_validation_is_acked_with_an_error_and_not_stored() -> None:
    client = Client("json")
    record = {"pkey": {"okey": okey("AAPL").to_json()}, "bidSize": 2**64}
    replies = client.send("OptionNbboQuote", record)
    assert str(wire_value(replies[0], "result")) != "OK"
    assert "OptionNbboQuote" in wire_value(replies[0], "detail")
    assert client.handler.store.count("OptionNbboQuote") == 0


def test_a_server_message_sent_by_a_client_is_refused() -> None:
    client = Client("json")
    replies = client.send("MLinkAdmin", {"state": "LoggedOn"})
    assert str(wire_value(replies[0], "result")) == "InvldMsgType"
    assert "MLinkAdmin" in wire_value(replies[0], "detail")


def test_an_unknown_request_member_is_refused_naming_it() -> None:
    client = Client("json", demo=True)
    replies = stream(client, queryID=8, stripFilter="A")
    assert [m.MSG_NAME for m in replies] == ["MLinkStreamAck"]
    assert wire_value(replies[0], "queryID") == 8
    assert "'stripFilter'" in wire_value(replies[0], "detail") and client.session.subs == []


# ---- 6. the 2023 flow on its own schemas ----------------------------------------------------

AAPL = {"at": "EQT", "ts": "NMS", "tk": "AAPL"}


@pytest.fixture(params=["2023-05", "2023-07"])
def old(request: pytest.FixtureRequest, staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, request.param)


def quotes_item(reg: Registry) -> dict[str, Any]:
    """The MsgTypes element asking for OptionNbboQuote (2023-05 knows only msgType numbers;
    2023-07 gives the control messages none, so names there)."""
    number = reg.by_name("OptionNbboQuote").MSG_NUM
    return {"msgType": number} if number else {"msgName": "OptionNbboQuote"}


@pytest.mark.parametrize("repeater", ["MsgTypes", "MsgType"])
def test_mlinkquery_with_the_spec_names(old: Registry, repeater: str) -> None:
    client = Client("json", old, demo=True)
    query = {
        "queryLabel": "q1",
        "queryType": "FullQuery",
        repeater: [quotes_item(old)],
        "TKeyFilters": [{"tickerKey": AAPL}],
    }
    replies = client.send("MLinkQuery", query, sTim=STAMP, encT=STAMP)
    assert states(replies) == ["Begin", "Complete"], replies
    got = {m.pkey.okey.ticker for m in replies if m.MSG_NAME == "OptionNbboQuote"}
    assert got == {"AAPL"}


@pytest.mark.parametrize("member", ["TKeyFilter", "tkeyfilters", "MsgTypez"])
def test_mlinkquery_with_an_unknown_member_is_refused_naming_it(old: Registry, member: str) -> None:
    client = Client("json", old, demo=True)
    query = {"queryLabel": "q2", "MsgTypes": [quotes_item(old)], member: [{"tickerKey": AAPL}]}
    replies = client.send("MLinkQuery", query)
    assert [m.MSG_NAME for m in replies] == ["MLinkResponse"]
    assert str(wire_value(replies[0], "state")) == "Error"
    assert wire_value(replies[0], "queryLabel") == "q2"
    assert repr(member) in wire_value(replies[0], "detail")
    assert client.session.subs == []
