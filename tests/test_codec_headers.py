"""JSON headers as SpiderRock's clients write them (contract items 4 and 6 of the helpers'
brief; issue 15): ``sTim`` / ``encT`` stamped by ``encode(..., stamp=)`` and sent by the stream
client, and framed JSON with mNum 00000 (``\\r\\nJ`` + an 11-digit length) decoded by the
header's ``mTyp``."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from srmlink.auth import Credentials
from srmlink.codec import FrameDecoder, decode, decode_envelopes, encode, encode_message
from srmlink.messages import MLinkSignalReady, registry
from srmlink.registry import Registry
from srmlink.stream.protocol import ClientProtocol

from .conftest import snapshot_registry

STAMP = datetime(2026, 7, 12, 14, 3, 7, 123456, tzinfo=UTC)
READY = MLinkSignalReady(signal_id=7)
HEAD = b'"header":{"mTyp":"MLinkSignalReady","sTim":"2026-07-12 14:03:07.123456","encT":"2026-07-12 14:03:07.123456"}'  # noqa: E501
BODY = b'"message":{"signalID":7}'


def test_stamp_writes_sTim_and_encT_byte_for_byte() -> None:
    envelope = b"{" + HEAD + b"," + BODY + b"}"
    assert encode_message(READY, "json", stamp=STAMP) == envelope
    assert encode([READY, READY], "json", stamp=STAMP) == b"[" + envelope + b"," + envelope + b"]"
    assert encode([READY], "jsonf", stamp=STAMP) == b"\r\nJ03410%06d" % len(envelope) + envelope
    assert encode_message(READY, "jsonf", stamp=STAMP) == encode([READY], "jsonf", stamp=STAMP)


def test_stamp_is_utc_and_header_members_come_after_it() -> None:
    # 16:03:07 at UTC+2 is 14:03:07 UTC; a naive time is taken as UTC.
    local = STAMP.astimezone(timezone(timedelta(hours=2)))
    assert encode_message(READY, "json", stamp=local) == encode_message(READY, "json", stamp=STAMP)
    naive = STAMP.replace(tzinfo=None)
    assert encode_message(READY, "json", stamp=naive) == encode_message(READY, "json", stamp=STAMP)
    both = orjson.loads(encode_message(READY, "json", stamp=STAMP, header={"encT": "x", "seqN": 1}))
    assert list(both["header"].items()) == [
        ("mTyp", "MLinkSignalReady"),
        ("sTim", "2026-07-12 14:03:07.123456"),
        ("encT", "x"),
        ("seqN", 1),
    ]


def test_stamp_leaves_protobuf_alone() -> None:
    assert encode([READY], "proto", stamp=STAMP) == encode([READY], "proto")


def test_without_a_stamp_the_header_is_mtyp_alone() -> None:
    assert encode_message(READY, "json") == b'{"header":{"mTyp":"MLinkSignalReady"},' + BODY + b"}"


def test_stamped_headers_decode_to_their_times() -> None:
    (envelope,) = decode_envelopes(encode([READY], "jsonf", stamp=STAMP), "jsonf")
    assert (envelope.header.s_tim, envelope.header.enc_t) == (STAMP, STAMP)


@pytest.mark.parametrize("encoding", ["json", "jsonf"])
def test_the_stream_client_stamps_what_it_sends(encoding: Any) -> None:
    client = ClientProtocol(registry, encoding, Credentials("k"))
    before = datetime.now(UTC).replace(microsecond=0)
    sent = [client.logon(), client.signal_ready()]
    after = datetime.now(UTC)
    for data in sent:
        payload = data[14:] if encoding == "jsonf" else data
        header = orjson.loads(payload)["header"]
        assert list(header) == ["mTyp", "sTim", "encT"]
        assert header["sTim"] == header["encT"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", header["sTim"])
        sent_at = datetime.strptime(header["sTim"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        assert before <= sent_at <= after


# ---- framed JSON with mNum 00000 ------------------------------------------------------------


def vendor_frame(t: int) -> bytes:
    """The frame mlink-api.md's Framed JSON sample sends, built exactly as it builds it."""
    msg: dict[str, Any] = {
        "header": {"mTyp": "MLinkQuery"},
        "message": {
            "queryLabel": "ExampleStockNbbo",
            "queryType": "FullQuery",
            "MsgTypes": [{"msgType": 3000}, {"msgName": "StockBookQuote"}],
            "TKeyFilters": [{"tickerKey": {"at": "EQT", "ts": "NMS", "tk": "AAPL"}}],
        },
    }
    tstr = ".".join(
        [
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t / 1000000000)),
            "%06d" % ((t / 1000) % 1000000),  # noqa: UP031 - as the sample writes it
        ]
    )
    msg["header"]["sTim"] = tstr
    msg["header"]["encT"] = tstr
    smsg = json.dumps(msg)
    jmsg = "".join(["\r\nJ", "%011d" % len(smsg), smsg])  # noqa: UP031 - as the sample writes it
    return jmsg.encode()


@pytest.fixture(scope="module")
def registry_2023(staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, "2023-07")


def test_framed_json_with_mnum_zero_decodes_by_its_header(registry_2023: Registry) -> None:
    t = 1_783_864_987_123_456_000  # 2026-07-12 14:03:07.123456 UTC
    data = vendor_frame(t)
    assert data.startswith(b"\r\nJ00000") and data[14:15] == b"{"
    (envelope,) = decode_envelopes(data, "jsonf", registry=registry_2023)
    query = envelope.message
    assert type(query) is registry_2023.by_name("MLinkQuery")
    assert query.query_label == "ExampleStockNbbo"  # type: ignore[union-attr]
    assert query.query_type.wire_name == "FullQuery"  # type: ignore[union-attr]
    assert envelope.header.s_tim == envelope.header.enc_t == STAMP
    # Incrementally too (a server reading a WebSocket), cut anywhere, between two others.
    other = encode([registry_2023.by_name("OptionNbboQuote")(bid_size=1)], "jsonf")
    stream = other + data + other
    for cut in (1, 5, 14, 20, len(other) + 7, len(other) + 14, len(stream) - 3):
        decoder = FrameDecoder("jsonf", registry=registry_2023)
        got = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        decoder.close()
        assert [type(m).__name__ for m in got] == [
            "OptionNbboQuote",
            "MLinkQuery",
            "OptionNbboQuote",
        ]
    assert decode(data, "jsonf", registry=registry_2023) == [query]


def test_mnum_zero_with_an_unknown_mtyp_is_kept_raw(registry_2023: Registry) -> None:
    payload = b'{"header":{"mTyp":"NoSuchType"},"message":{}}'
    data = b"\r\nJ%011d" % len(payload) + payload
    (message,) = decode(data, "jsonf", registry=registry_2023)
    assert (message.name, message.mnum, message.raw) == ("NoSuchType", 0, payload)  # type: ignore[union-attr]
