"""The WebSocket protocol with no sockets: the client's ClientProtocol against the server's
StreamSession, bytes handed across by hand (every encoding, the 2026 flow of the main schema).
"""

from __future__ import annotations

import asyncio

import pytest

from srmlink import OptionKey
from srmlink.auth import Credentials
from srmlink.codec import Encoding, FrameDecoder, encode, encode_message
from srmlink.errors import AuthError, SRMLinkError
from srmlink.framing import encode_frame
from srmlink.message import Message
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, QueryResult, registry
from srmlink.server import LiveStore, RestHandler
from srmlink.server.session import StreamSession
from srmlink.stream import (
    AsyncMLinkStream,
    BadMessage,
    CheckPoint,
    ClientProtocol,
    Event,
    Record,
    StreamAck,
    StreamRequest,
)

ENCODINGS: tuple[Encoding, ...] = ("json", "jsonf", "proto")
KEYS = [OptionKey.parse(f"AAPL-NMS-EQT-2026-12-18-{strike}-C") for strike in (180, 190, 200)]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def quote(key: OptionKey, bid: float, size: int = 1) -> OptionNbboQuote:
    return OptionNbboQuote(pkey=OptionNbboQuotePKey(okey=key), bid_price=bid, bid_size=size)


class Wire:
    """A client protocol and a server session joined by in-memory frames."""

    def __init__(
        self,
        encoding: Encoding,
        *,
        store: LiveStore | None = None,
        api_key: str | None = None,
        token: str = "k",
        client: ClientProtocol | None = None,
    ) -> None:
        self.encoding = encoding
        self.handler = RestHandler(store or LiveStore(), registry, api_key)
        self.clock = Clock()
        self.session = StreamSession(self.handler, encoding, authorised=False, clock=self.clock)
        self.client = client or ClientProtocol(registry, encoding, Credentials(token))
        self.decoder = FrameDecoder(encoding, registry=registry)
        self.events: list[Event] = self.deliver(self.session.opening())

    def deliver(self, messages: list[Message]) -> list[Event]:
        if not messages:
            return []
        if self.encoding == "json":
            out: list[Event] = []
            for message in messages:
                out += self.client.receive(encode_message(message, "json"))
            return out
        return self.client.receive(encode(messages, self.encoding))

    def send(self, frame: bytes) -> list[Event]:
        answers: list[Message] = []
        for request in self.decoder.feed(frame):
            assert isinstance(request, Message)
            answers += self.session.receive(request)
        return self.deliver(answers)

    def connect(self) -> list[Event]:
        out: list[Event] = []
        for frame in self.client.connection_made():
            out += self.send(frame)
        return out

    def pump(self) -> list[Event]:
        return self.deliver(self.session.due())


def records(events: list[Event]) -> list[OptionNbboQuote]:
    return [e.message for e in events if isinstance(e, Record)]  # type: ignore[misc]


def states(events: list[Event]) -> list[str]:
    return [e.state for e in events if isinstance(e, CheckPoint)]


def seeded(bid: float = 1.0) -> LiveStore:
    store = LiveStore()
    for key in KEYS:
        store.put(quote(key, bid))
    return store


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_logon_then_snapshot_then_paced_updates(encoding: Encoding) -> None:
    wire = Wire(encoding, store=seeded(), api_key="k")
    assert not wire.client.logged_on
    events = wire.connect()
    assert wire.client.logged_on and events == []
    sub = StreamRequest(query_id=wire.client.next_query_id(), msg_name="OptionNbboQuote")
    events = wire.send(wire.client.subscribe(sub))
    assert isinstance(events[0], StreamAck) and events[0].ok
    assert states(events) == ["Begin", "Active", "Complete"]
    assert sorted(str(r.pkey.okey) for r in records(events)) == sorted(map(str, KEYS))
    highwater = wire.client.subscriptions[sub.query_id].highwater_ts
    assert highwater == wire.handler.store.highwater_ns

    # Paced by SignalReady: updates wait, and three updates of one key coalesce into one.
    for bid in (2.0, 3.0, 4.0):
        wire.handler.store.put(quote(KEYS[0], bid))
    assert wire.pump() == []
    assert wire.client.paced and wire.client.outstanding_signal is None
    assert wire.send(wire.client.signal_ready()) == []
    assert wire.client.outstanding_signal == 1
    batch = wire.pump()
    assert [r.bid_price for r in records(batch)] == [4.0]
    closing = batch[-1]
    assert isinstance(closing, CheckPoint)
    assert (closing.state, closing.signal_id) == ("Active", 1)
    assert wire.client.outstanding_signal is None
    assert wire.client.subscriptions[sub.query_id].highwater_ts == closing.highwater_ts
    assert closing.highwater_ts is not None and closing.highwater_ts > highwater

    # Armed with nothing pending: the signal waits for the next change, then flushes at once.
    wire.send(wire.client.signal_ready())
    assert wire.pump() == []
    wire.handler.store.put(quote(KEYS[1], 9.0))
    assert [r.bid_price for r in records(wire.pump())] == [9.0]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bad_key_raises_auth_error(encoding: Encoding) -> None:
    wire = Wire(encoding, api_key="right", token="wrong")
    with pytest.raises(AuthError) as caught:
        wire.connect()
    assert "LogonFailed" in str(caught.value)
    assert "wrong" not in str(caught.value)
    assert wire.session.closing


def test_requests_before_logon_are_refused() -> None:
    wire = Wire("jsonf", api_key="k")
    sub = StreamRequest(query_id=1, msg_name="OptionNbboQuote")
    assert wire.send(wire.client.subscribe(sub)) == []  # only an MLinkAdmin WaitingLogon
    assert wire.session.subs == []


def test_timed_latency_batches_every_n_ms() -> None:
    wire = Wire("proto", store=seeded())
    wire.connect()
    sub = StreamRequest(query_id=7, msg_name="OptionNbboQuote", active_latency=250)
    wire.send(wire.client.subscribe(sub))
    wire.handler.store.put(quote(KEYS[2], 5.0))
    wire.handler.store.put(quote(KEYS[2], 6.0))
    assert wire.session.next_deadline() == pytest.approx(100.25)
    assert wire.pump() == []
    wire.clock.now += 0.25
    batch = wire.pump()
    assert [r.bid_price for r in records(batch)] == [6.0]
    assert states(batch) == ["Active"]


def test_where_and_view_shape_the_stream() -> None:
    store = seeded()
    store.put(quote(KEYS[1], 1.0, size=50))
    wire = Wire("json", store=store)
    wire.connect()
    sub = StreamRequest(
        query_id=3, msg_name="OptionNbboQuote", where="bidsize:ge:10", view="bidprice"
    )
    got = records(wire.send(wire.client.subscribe(sub)))
    assert [str(r.pkey.okey) for r in got] == [str(KEYS[1])]
    assert got[0].bid_price == 1.0 and got[0].bid_size is None  # outside the view


def test_resume_after_reconnect_sends_only_what_changed() -> None:
    store = seeded()
    first = Wire("jsonf", store=store)
    first.connect()
    sub = StreamRequest(query_id=1, msg_name="OptionNbboQuote")
    first.send(first.client.subscribe(sub))
    # The connection drops; meanwhile one record changes.
    first.session.close()
    store.put(quote(KEYS[2], 7.5))
    second = Wire("jsonf", store=store, client=first.client)
    events = second.connect()
    assert [r.bid_price for r in records(events)] == [7.5]
    assert states(events) == ["Begin", "Active", "Complete"]


def test_unsubscribe_and_replace() -> None:
    wire = Wire("jsonf", store=seeded())
    wire.connect()
    wire.send(wire.client.subscribe(StreamRequest(query_id=5, msg_name="OptionNbboQuote")))
    again = wire.send(wire.client.subscribe(StreamRequest(query_id=5, msg_name="OptionNbboQuote")))
    assert states(again)[0] == "Replaced"
    frame = wire.client.unsubscribe(5)
    assert frame is not None
    events = wire.send(frame)
    assert states(events) == ["Terminated"]
    assert wire.session.subs == [] and wire.client.subscriptions == {}


@pytest.mark.parametrize(
    ("name", "where", "result"),
    [
        ("NoSuchMessage", None, "UnkwnMsgType"),
        ("OptionNbboQuote", "nosuchfield:eq:1", "Error"),
    ],
)
def test_refused_requests_are_acked_with_the_reason(
    name: str, where: str | None, result: str
) -> None:
    wire = Wire("jsonf")
    wire.connect()
    events = wire.send(wire.client.subscribe(StreamRequest(query_id=2, msg_name=name, where=where)))
    ack = events[0]
    assert isinstance(ack, StreamAck) and not ack.ok
    assert ack.result == result and ack.detail
    assert 2 not in wire.client.subscriptions


def test_subscribe_by_primary_key() -> None:
    wire = Wire("proto", store=seeded())
    wire.connect()
    pkey = str(OptionNbboQuotePKey(okey=KEYS[0]))
    sub = StreamRequest(query_id=9, msg_name="OptionNbboQuote", pkeys=(pkey,))
    events = wire.send(wire.client.subscribe(sub))
    assert isinstance(events[0], StreamAck) and events[0].ok
    assert [str(r.pkey) for r in records(events)] == [pkey]
    wire.handler.store.put(quote(KEYS[1], 3.0))  # not subscribed
    wire.handler.store.put(quote(KEYS[0], 4.0))
    wire.send(wire.client.signal_ready())
    assert [r.bid_price for r in records(wire.pump())] == [4.0]


def test_json_only_types_are_refused_on_protobuf() -> None:
    json_only = next(cls for cls in registry if cls.SPEC.origin == "dictionary")
    wire = Wire("proto")
    wire.connect()
    ack = wire.send(wire.client.subscribe(StreamRequest(query_id=4, msg_name=json_only.MSG_NAME)))
    assert isinstance(ack[0], StreamAck) and not ack[0].ok
    assert "json" in (ack[0].detail or "")


def test_heartbeats() -> None:
    wire = Wire("jsonf")
    events = wire.deliver(wire.session.heartbeat())
    assert type(events[0]).__name__ == "Heartbeat"


@pytest.mark.parametrize(("state", "error"), [("OtherError", "MLinkStreamError"),
                                              ("GoodNight", "MLinkStreamError"),
                                              ("AccountSuspended", "AuthError")])  # fmt: skip
def test_admin_failures_raise_typed_errors(state: str, error: str) -> None:
    wire = Wire("jsonf")
    admin = wire.handler.make("MLinkAdmin", state=state, detail="server says no")
    with pytest.raises(SRMLinkError) as caught:
        wire.deliver([admin])
    assert type(caught.value).__name__ == error
    assert "server says no" in str(caught.value)


def test_a_bad_message_becomes_an_event_and_the_rest_of_the_frame_is_read() -> None:
    wire = Wire("proto", store=seeded())
    wire.connect()
    good = encode([quote(KEYS[0], 1.5)], "proto")
    bad = encode_frame("P", OptionNbboQuote.MSG_NUM or 0, b"\xff\xff")
    events = wire.client.receive(good + bad + good)
    assert [type(e).__name__ for e in events] == ["Record", "BadMessage", "Record"]
    assert isinstance(events[1], BadMessage) and events[1].error.message_type == "OptionNbboQuote"


def test_stream_clauses_are_checked_like_rest_ones() -> None:
    """A clause built for another type is refused before anything is sent (srmlink.clauses)."""
    stream = AsyncMLinkStream("k", host="127.0.0.1:9", scheme="ws")
    with pytest.raises(ValueError, match="built for QueryResult, not OptionNbboQuote"):
        asyncio.run(stream.subscribe(OptionNbboQuote, where=QueryResult.fields.detail == "x"))
    with pytest.raises(ValueError, match="view must not be empty"):
        asyncio.run(stream.subscribe(OptionNbboQuote, view="  "))
