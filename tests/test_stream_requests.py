"""The stream client's request side (issue 15): the spec's other request fields, raw
messages and uploads (MLinkDataAck), JWT authentication and striped connections; through the
I/O-free protocol, a loopback WebSocket server that records what it receives, and
``srmlink serve``."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from attrs import evolve
from websockets.asyncio.server import ServerConnection, serve

from srmlink import OptionKey
from srmlink.codec import decode, encode
from srmlink.errors import MLinkStreamError
from srmlink.message import Message
from srmlink.messages import (
    MLinkDataAck,
    MLinkLogon,
    MLinkStream as StreamRequestMessage,
    OptionNbboQuote,
    OptionNbboQuotePKey,
    registry,
)
from srmlink.records import make
from srmlink.stream import (
    AsyncMLinkStream,
    CheckPoint,
    ClientProtocol,
    DataAck,
    MLinkStream,
    Reconnected,
    RequestOptions,
    StreamAck,
    StreamRequest,
)
from srmlink.stripes import STRIPES
from srmlink.testing import TEST_API_KEY as KEY, ServerProcess, start_server

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"


def sent(frame: bytes) -> Message:
    (message,) = decode(frame, "jsonf")
    assert isinstance(message, Message)
    return message


def test_request_options_reach_the_wire() -> None:
    client = ClientProtocol(registry, "jsonf", None)
    options = RequestOptions(
        sys_environment="Saturn",
        sys_realm="NMS",
        schema_hash=123456789,
        local_msg_type=4000,
        local_msg_name="MyQuote",
    )
    request = StreamRequest(1, "OptionNbboQuote", stripe="C", options=options)
    message = sent(client.subscribe(request))
    assert isinstance(message, StreamRequestMessage)
    assert (message.stripe_filter, message.schema_hash) == ("C", 123456789)
    assert (message.local_msg_type, message.local_msg_name) == (4000, "MyQuote")
    assert str(message.sys_environment) == "Saturn" and str(message.sys_realm) == "NMS"


def test_a_field_the_schema_lacks_is_refused_not_dropped() -> None:
    client = ClientProtocol(registry, "jsonf", None)
    x_ray = RequestOptions(accnt_filter="ACC1,ACC2")  # 2023 MLinkQuery only
    with pytest.raises(MLinkStreamError, match="MLinkStream of this schema has no field accnt"):
        client.subscribe(StreamRequest(1, "OptionNbboQuote", options=x_ray))
    by_key = StreamRequest(2, "OptionNbboQuote", pkeys=("AAPL-NMS-EQT-2026-12-18-190-C",))
    with pytest.raises(MLinkStreamError, match="MLinkSubscribe of this schema has no field"):
        client.subscribe(evolve(by_key, options=RequestOptions(schema_hash=1)))
    with pytest.raises(MLinkStreamError, match="stripeFilter"):
        client.subscribe(evolve(by_key, stripe="A"))  # a striped stream cannot subscribe by key
    assert client.subscriptions == {}  # nothing is remembered (or resumed) when refused


@pytest.mark.parametrize(("result", "ok"), [("OK", True), ("ProtoError", False)])
def test_data_acks_become_typed_events(result: str, ok: bool) -> None:
    client = ClientProtocol(registry, "proto", None)
    ack = make(registry, "MLinkDataAck", msgType=2785, sendTs=17, result=result, detail="d")
    (event,) = client.receive(encode([ack], "proto"))
    assert isinstance(event, DataAck)
    assert (event.msg_type, event.ok, event.result, event.send_ts) == (2785, ok, result, 17)
    assert isinstance(event.message, MLinkDataAck)


def test_jwt_logon_message() -> None:
    client = ClientProtocol(registry, "jsonf", None, jwt=JWT)
    (logon,) = client.connection_made()
    message = sent(logon)
    assert isinstance(message, MLinkLogon)
    assert message.jwt_token == JWT and message.api_key is None


def test_jwt_on_the_upgrade_and_in_the_logon_never_in_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A loopback WebSocket server records the upgrade and the first message."""
    seen: dict[str, object] = {}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen["authorization"] = ws.request.headers.get("Authorization")
        frame = await ws.recv()
        seen["logon"] = sent(frame if isinstance(frame, bytes) else frame.encode())
        admin = make(registry, "MLinkAdmin", state="LoggedOn")
        await ws.send(encode([admin], "jsonf"))
        await ws.wait_closed()

    async def run() -> str:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            stream = AsyncMLinkStream(jwt=JWT, host=f"ws://127.0.0.1:{port}", encoding="jsonf")
            async with stream:
                assert stream.protocol.logged_on
            return repr(stream)

    caplog.set_level(logging.DEBUG)
    shown = asyncio.run(run())
    assert seen["authorization"] == f"Bearer {JWT}"
    logon = seen["logon"]
    assert isinstance(logon, MLinkLogon) and logon.jwt_token == JWT
    assert JWT not in shown and JWT not in caplog.text
    assert "Bearer ***" in caplog.text  # the upgrade headers were logged, masked


def test_a_raw_request_sent_as_is(stream_server: ServerProcess) -> None:
    with MLinkStream(KEY, host=stream_server.host, scheme="ws", encoding="json") as stream:
        stream.send(make(registry, "MLinkStream", msgName="OptionNbboQuote", queryID=77))
        while not isinstance(event := stream.next_event(timeout=10), StreamAck):
            pass
        assert (event.query_id, event.msg_name, event.ok) == (77, "OptionNbboQuote", True)


def test_stripes_act_as_one_stream(stream_server: ServerProcess) -> None:
    store = store_keys(stream_server)
    with MLinkStream(KEY, host=stream_server.host, scheme="ws", stripes=True, cache=True) as stream:
        assert stream.connections == len(STRIPES)
        assert "stripes=['A', 'B'," in repr(stream)
        # The snapshot ends when every stripe's connection has completed it.
        quotes = stream.query(OptionNbboQuote)
        assert {str(q.pkey) for q in quotes} == store
        assert stream.cache is not None and set(stream.cache.of(OptionNbboQuote)) == store


@pytest.mark.parametrize("stripes", [[], ["A", "A"], "AB", [" A"]])
def test_bad_stripes_are_refused(stripes: list[str]) -> None:
    with pytest.raises(ValueError, match="stripe"):
        MLinkStream(KEY, host="127.0.0.1:1", stripes=stripes)


def test_request_fields_reach_the_server(stream_server: ServerProcess) -> None:
    options = RequestOptions(sys_environment="Saturn", sys_realm="NMS", schema_hash=1)
    with MLinkStream(KEY, host=stream_server.host, scheme="ws") as stream:
        quotes = stream.query(OptionNbboQuote, where="okey.tk:eq:SPY", options=options)
        assert len(quotes) == 20


def test_each_stripe_resumes_on_its_own_after_a_drop() -> None:
    """Both stripes' connections are cut; each reconnects and resumes from its own
    checkpoints, and the one cache ends equal to the server's store."""
    faulty = start_server(api_key=KEY, extra=["--tick", "0", "--heartbeat", "0.5", "--faults"])
    try:
        keys = sorted(store_keys(faulty))
        stream = MLinkStream(
            KEY, host=faulty.host, scheme="ws", stripes=["A", "B"], cache=True, backoff=0.05
        )
        with stream:
            stream.subscribe(OptionNbboQuote)
            reconnected: set[str | None] = set()
            completes = 0
            while completes < 2:  # the snapshot, once per stripe
                event = stream.next_event(timeout=20)
                completes += isinstance(event, CheckPoint) and event.state == "Complete"
            assert faulty.fault("drop") == 2
            with faulty.client() as rest:
                rest.postmsgs([quote(key, 42.5) for key in keys[:5]])
            assert stream.cache is not None
            cached = stream.cache.of(OptionNbboQuote)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (
                len(reconnected) < 2 or any(cached[k].bid_price != 42.5 for k in keys[:5])
            ):
                event = stream.next_event(timeout=20)
                if isinstance(event, Reconnected):
                    reconnected.add(event.stripe)
            assert reconnected == {"A", "B"}
            assert [cached[k].bid_price for k in keys[:5]] == [42.5] * 5
    finally:
        faulty.stop()


def quote(key: str, bid: float) -> OptionNbboQuote:
    return OptionNbboQuote(
        pkey=OptionNbboQuotePKey(okey=OptionKey.parse(key)), bid_price=bid, bid_size=1
    )


def store_keys(server: ServerProcess) -> set[str]:
    """The flat primary keys of the server's OptionNbboQuotes (over REST)."""
    with server.client() as rest:
        messages = rest.getmsgs(OptionNbboQuote, limit=1000).messages
    return {str(m.pkey) for m in messages if isinstance(m, OptionNbboQuote)}
