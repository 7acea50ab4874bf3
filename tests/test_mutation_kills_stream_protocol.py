"""Exact-value tests of srmlink.stream.protocol written against mutants: the JSON documents
the client sends, compared with objects written by hand from mlink-api.md, and the small
parsers the 2023 flow relies on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from srmlink.auth import Credentials
from srmlink.errors import MLinkStreamError
from srmlink.messages import registry
from srmlink.stream import CheckPoint, ClientProtocol, StreamRequest
from srmlink.stream.protocol import _query_id, _wire_name


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
