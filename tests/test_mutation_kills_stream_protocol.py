"""Exact-value tests of srmlink.stream.protocol written against mutants: the JSON documents
the client sends, compared with objects written by hand from mlink-api.md, and the small
parsers the 2023 flow relies on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from srmlink import CallPut, ExpiryKey, OptionKey, TickerKey
from srmlink.auth import Credentials
from srmlink.codec import UnknownMessage
from srmlink.codec.protoc import protobuf_class
from srmlink.errors import MLinkStreamError
from srmlink.messages import OptionNbboQuote, registry
from srmlink.records import has_field
from srmlink.registry import Registry
from srmlink.stream import (
    CheckPoint,
    ClientProtocol,
    DataAck,
    Record,
    StreamAck,
    StreamRequest,
    protocol,
)
from srmlink.stream.protocol import RequestOptions, _query_id, _wire_name, detect_flow

from .conftest import snapshot_registry


def sent(frame: bytes) -> tuple[str, dict[str, Any]]:
    """The message type and the message object of one JSON frame the client sends."""
    document = json.loads(frame)
    return document["header"]["mTyp"], document["message"]


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (Credentials("KEY", "PW"), {"apiKey": "KEY", "password": "PW"}),
        # No password: the field is not sent at all (not sent empty).
        (Credentials("KEY"), {"apiKey": "KEY"}),
    ],
)
def test_logon_sends_the_password_in_its_own_field(
    credentials: Credentials, expected: dict[str, Any]
) -> None:
    client = ClientProtocol(registry, "json", credentials)
    assert sent(client.logon()) == ("MLinkLogon", expected)


@pytest.mark.parametrize(
    ("label", "query_id"),
    [
        ("srmlink-12", 12),
        ("srmlink-0", 0),
        ("srmlink-", None),
        ("srmlink-1x", None),
        ("other-12", None),
        ("SRMLINK-12", None),
        (None, None),
        (12, None),
    ],
)
def test_query_labels_name_the_query_ids_the_client_gave(
    label: object, query_id: int | None
) -> None:
    assert _query_id(label) == query_id


def checkpoint(signal_id: int = 0, state: str = "Active", query_id: int = 1) -> bytes:
    """An MLinkStreamCheckPt as the server sends it (mlink-api.md)."""
    message = {"queryID": query_id, "state": state} | ({"signalID": signal_id} if signal_id else {})
    document = {"header": {"mTyp": "MLinkStreamCheckPt"}, "message": message}
    return json.dumps(document).encode()


def test_only_the_checkpoint_of_the_pending_signal_closes_it() -> None:
    client = ClientProtocol(registry, "json", None)
    client.subscribe(StreamRequest(1, "OptionNbboQuote"))
    assert sent(client.signal_ready()) == (
        "MLinkSignalReady",
        {"signalID": 1, "readyScan": "Incremental"},
    )
    assert client.outstanding_signal == 1
    (event,) = client.receive(checkpoint(7))  # a stale or foreign signal id
    assert isinstance(event, CheckPoint) and event.signal_id == 7
    assert client.outstanding_signal == 1
    client.receive(checkpoint(1))
    assert client.outstanding_signal is None
    assert sent(client.signal_ready(full_scan=True))[1] == {"signalID": 2, "readyScan": "FullScan"}


def test_without_credentials_a_connection_starts_with_the_resumes_only() -> None:
    client = ClientProtocol(registry, "json", None)
    assert client.authenticates is False
    assert client.connection_made() == []
    client.subscribe(StreamRequest(3, "OptionNbboQuote", active_latency=0))
    (frame,) = client.connection_made()
    assert sent(frame) == (
        "MLinkStream",
        {"msgName": "OptionNbboQuote", "queryID": 3, "queryLabel": "srmlink-3", "activeLatency": 1},
    )


def test_a_missing_field_is_named_by_its_first_spelling() -> None:
    assert _wire_name(registry.by_name("MLinkStream"), "MSGNAME") == "msgName"
    assert _wire_name(registry.by_name("MLinkStream"), "nothing", "querylabel") == "queryLabel"
    with pytest.raises(
        MLinkStreamError, match=r"^MLinkLogon of this schema has no field MsgTypes$"
    ):
        _wire_name(registry.by_name("MLinkLogon"), "MsgTypes", "MsgType")


def test_a_snapshot_only_request_ends_at_its_complete_checkpoint() -> None:
    client = ClientProtocol(registry, "json", None)
    client.subscribe(StreamRequest(1, "OptionNbboQuote", live=False))
    client.subscribe(StreamRequest(2, "OptionNbboQuote"))
    for state in ("Begin", "Active"):
        client.receive(checkpoint(state=state))
        assert list(client.subscriptions) == [1, 2]
    client.receive(checkpoint(state="Complete", query_id=2))  # live: stays open
    assert list(client.subscriptions) == [1, 2]
    client.receive(checkpoint(state="Complete"))
    assert list(client.subscriptions) == [2]
    client.receive(checkpoint(state="Terminated", query_id=2))
    assert client.subscriptions == {}


# ---- written against the survivors of the full stream-protocol run (1 December) -------------


def test_the_flow_and_the_jwt_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ClientProtocol(registry, "json", None, "stream")  # type: ignore[call-arg]
    client = ClientProtocol(registry, "json", None)
    client.subscribe(StreamRequest(1, "OptionNbboQuote"))
    with pytest.raises(TypeError):
        client.signal_ready(True)  # type: ignore[call-arg]


def test_an_option_the_request_has_is_sent_and_one_it_lacks_is_refused() -> None:
    client = ClientProtocol(registry, "json", None)
    options = RequestOptions(sys_environment="Saturn", schema_hash=77)
    assert sent(client.subscribe(StreamRequest(1, "OptionNbboQuote", options=options))) == (
        "MLinkStream",
        {
            "msgName": "OptionNbboQuote",
            "queryID": 1,
            "queryLabel": "srmlink-1",
            "activeLatency": 0,
            "sysEnvironment": "Saturn",
            "schemaHash": 77,
        },
    )
    xray = StreamRequest(2, "OptionNbboQuote", options=RequestOptions(accnt_filter="A1"))
    with pytest.raises(
        MLinkStreamError, match=r"^MLinkStream of this schema has no field accntFilter$"
    ):
        client.subscribe(xray)
    assert list(client.subscriptions) == [1]


def test_a_logon_with_a_jwt_sends_it() -> None:
    client = ClientProtocol(registry, "json", None, jwt="head.body.sig")
    assert sent(client.logon()) == ("MLinkLogon", {"jwtToken": "head.body.sig"})


def without(field: str) -> Callable[[type, str], bool]:
    """``has_field`` of a schema like this one that lacks ``field`` (every real snapshot has
    the fields these errors are about)."""
    return lambda cls, wire: wire != field and has_field(cls, wire)


def test_a_jwt_for_a_schema_without_jwttoken_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "has_field", without("jwtToken"))
    with pytest.raises(
        MLinkStreamError, match=r"^MLinkLogon of this schema has no field jwtToken$"
    ):
        ClientProtocol(registry, "json", None, jwt="head.body.sig").logon()
    plain = ClientProtocol(registry, "json", Credentials("KEY"))
    assert sent(plain.logon()) == ("MLinkLogon", {"apiKey": "KEY"})


def test_paced_only_by_live_subscriptions_that_wait_for_signal_ready() -> None:
    client = ClientProtocol(registry, "json", None)
    client.subscribe(StreamRequest(1, "OptionNbboQuote", active_latency=100))
    client.subscribe(StreamRequest(2, "OptionNbboQuote", live=False))
    assert not client.paced
    client.subscribe(StreamRequest(3, "OptionNbboQuote"))
    assert client.paced


@pytest.fixture(scope="module")
def registry_2023(staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, "2023-07")


def test_2023_key_filters_go_to_their_own_repeaters(registry_2023: Registry) -> None:
    expiry = date(2026, 12, 18)
    keys = (
        TickerKey("EQT", "NMS", "AAPL"),
        ExpiryKey("EQT", "NMS", "MSFT", expiry),
        OptionKey("EQT", "NMS", "IBM", expiry, 190.0, CallPut.PUT),
    )
    client = ClientProtocol(registry_2023, "json", None)
    name, message = sent(client.subscribe(StreamRequest(1, "OptionNbboQuote", keys=keys)))
    assert name == "MLinkQuery"
    assert message["TKeyFilters"] == [{"tickerKey": {"at": "EQT", "ts": "NMS", "tk": "AAPL"}}]
    assert message["EKeyFilters"] == [
        {"expiryKey": {"at": "EQT", "ts": "NMS", "tk": "MSFT", "dt": "2026-12-18"}}
    ]
    assert message["OKeyFilters"] == [
        {
            "optionKey": {
                "at": "EQT", "ts": "NMS", "tk": "IBM", "dt": "2026-12-18", "xx": 190, "cp": "Put"
            }
        }
    ]  # fmt: skip


def test_2023_type_options_go_into_the_msgtypes_entry(
    registry_2023: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ClientProtocol(registry_2023, "json", None)
    options = RequestOptions(schema_hash=77, local_msg_name="Quote")
    _, message = sent(client.subscribe(StreamRequest(1, "OptionNbboQuote", options=options)))
    quote = registry_2023.by_name("OptionNbboQuote")
    assert message["MsgTypes"] == [
        {
            "msgType": quote.MSG_NUM,
            "msgName": "OptionNbboQuote",
            "schemaHash": 77,
            "localMsgName": "Quote",
        }
    ]
    monkeypatch.setattr(protocol, "has_field", without("localMsgName"))
    refused = StreamRequest(2, "OptionNbboQuote", options=options)
    with pytest.raises(
        MLinkStreamError, match=r"^MLinkQuery\.MsgTypes of this schema has no localMsgName$"
    ):
        client.subscribe(refused)


def test_query_ids_count_from_one() -> None:
    client = ClientProtocol(registry, "json", None)
    assert [client.next_query_id() for _ in range(3)] == [1, 2, 3]


def test_a_schema_with_neither_streaming_flow_is_refused() -> None:
    empty = Registry("srmlink.messages", [])
    with pytest.raises(MLinkStreamError, match=r"^this schema defines neither MLinkStream nor"):
        detect_flow(empty)


QUOTE_NUMBER = OptionNbboQuote.MSG_NUM or 0


def proto_quote(sent: int) -> bytes:
    """An OptionNbboQuote frame whose ``_meta.time_sent`` is ``sent`` (0: not said)."""
    message = protobuf_class(OptionNbboQuote)()
    message._meta.message_type = "OptionNbboQuote"
    message._meta.time_sent = sent
    payload: bytes = message.SerializeToString()
    return b"\r\nP%05d%06d" % (QUOTE_NUMBER, len(payload)) + payload


def test_a_keyed_subscription_resumes_after_the_latest_record_sent() -> None:
    client = ClientProtocol(registry, "proto", None)
    client.subscribe(StreamRequest(1, "OptionNbboQuote", pkeys=("AAPL-NMS-EQT-2026-12-18-190-C",)))
    for sent, highwater in [(0, None), (1, 1), (5, 5), (3, 5)]:
        client.receive(proto_quote(sent))
        assert client.subscriptions[1].highwater_ts == highwater, sent


def test_a_record_stamped_at_the_epoch_sets_no_highwater() -> None:
    client = ClientProtocol(registry, "json", None)
    client.subscribe(StreamRequest(1, "OptionNbboQuote", pkeys=("AAPL-NMS-EQT-2026-12-18-190-C",)))
    stamped = {"mTyp": "OptionNbboQuote", "sTim": "1970-01-01 00:00:00.000000"}
    client.receive(json.dumps({"header": stamped, "message": {}}).encode())
    assert client.subscriptions[1].highwater_ts is None
    stamped["sTim"] = "1970-01-01 00:00:00.000001"
    client.receive(json.dumps({"header": stamped, "message": {}}).encode())
    assert client.subscriptions[1].highwater_ts == 1000


def test_a_message_of_an_unknown_type_does_not_end_the_frame() -> None:
    client = ClientProtocol(registry, "jsonf", None)
    unknown = b'{"header":{"mTyp":"NotInThisSchema"},"message":{}}'
    quote = b'{"header":{"mTyp":"OptionNbboQuote"},"message":{"bidSize":7}}'
    data = b"\r\nJ%05d%06d" % (99999, len(unknown)) + unknown
    data += b"\r\nJ%05d%06d" % (QUOTE_NUMBER, len(quote)) + quote
    first, second = client.receive(data)
    assert isinstance(first, Record) and isinstance(first.message, UnknownMessage)
    assert first.message.name == "NotInThisSchema"
    assert isinstance(second, Record) and second.message == OptionNbboQuote(bid_size=7)


def json_frame(name: str, message: dict[str, Any]) -> bytes:
    return json.dumps({"header": {"mTyp": name}, "message": message}).encode()


def test_a_new_connection_is_not_logged_on_until_the_server_says_so() -> None:
    client = ClientProtocol(registry, "json", Credentials("KEY"))
    client.connection_made()
    client.receive(json_frame("MLinkAdmin", {"state": "LoggedOn"}))
    assert client.logged_on
    assert [sent(frame)[0] for frame in client.connection_made()] == ["MLinkLogon"]
    assert not client.logged_on


def test_the_2023_flow_unsubscribes_by_closing(registry_2023: Registry) -> None:
    client = ClientProtocol(registry_2023, "json", None)
    client.subscribe(StreamRequest(1, "OptionNbboQuote"))
    assert client.unsubscribe(1) is None
    assert client.subscriptions == {}


def test_data_acks_carry_the_servers_result() -> None:
    client = ClientProtocol(registry, "json", None)
    (ok,) = client.receive(json_frame("MLinkDataAck", {"msgType": 2745, "result": "OK"}))
    assert isinstance(ok, DataAck) and (ok.msg_type, ok.ok, ok.result) == (2745, True, "OK")
    bad = json_frame("MLinkDataAck", {"result": "JsonError", "detail": "line 1"})
    (refused,) = client.receive(bad)
    assert isinstance(refused, DataAck)
    assert (refused.ok, refused.result, refused.detail) == (False, "JsonError", "line 1")


def test_subscribe_acks_say_ok_or_error() -> None:
    client = ClientProtocol(registry, "json", None)
    pkeys = ("AAPL-NMS-EQT-2026-12-18-190-C",)
    client.subscribe(StreamRequest(1, "OptionNbboQuote", pkeys=pkeys))
    client.subscribe(StreamRequest(2, "OptionNbboQuote", pkeys=pkeys))
    (ok,) = client.receive(json_frame("MLinkSubscribeAck", {"subscribeID": 1, "succeeded": "Yes"}))
    assert isinstance(ok, StreamAck) and (ok.query_id, ok.ok, ok.result) == (1, True, "OK")
    refusal = {"subscribeID": 2, "succeeded": "No", "errorMsg": "no such key"}
    (refused,) = client.receive(json_frame("MLinkSubscribeAck", refusal))
    assert isinstance(refused, StreamAck)
    assert (refused.ok, refused.result, refused.detail) == (False, "Error", "no such key")
    assert list(client.subscriptions) == [1]


def test_records_keep_their_frame_only_when_asked() -> None:
    quote = b'{"header":{"mTyp":"OptionNbboQuote"},"message":{"bidSize":7}}'
    data = b"\r\nJ%05d%06d" % (QUOTE_NUMBER, len(quote)) + quote
    (plain,) = ClientProtocol(registry, "jsonf", None).receive(data)
    assert isinstance(plain, Record) and plain.frame is None
    (kept,) = ClientProtocol(registry, "jsonf", None, raw_frames=True).receive(data)
    assert isinstance(kept, Record) and kept.frame == data
