"""The real wire samples of the MLink API document (docs/mlink-api.md), decoded by srmlink.codec.

The REST samples carry May-2023 message numbers (OptionNbboQuote 2745, QueryResult 3320), so
they are decoded against the bindings of the 2023-05 snapshot. The sample text is copied
byte for byte from the document.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from srmlink.codec import FrameDecoder, decode, decode_envelopes, encode
from srmlink.errors import DecodeError, FramingError
from srmlink.framing import encode_frame, split_frames
from srmlink.keys import CallPut, OptionKey
from srmlink.registry import Registry

from .conftest import snapshot_registry


@pytest.fixture(scope="module")
def may2023(staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, "2023-05")


# REST, plain JSON (`/rest/json?cmd=getmsg&msgtype=OptionNbboQuote&pkey=AA-NMS-EQT-2023-07-23-1-C`):
# the response body exactly as the document shows it (without the markdown indentation).
REST_JSON = b"""[
{"header":{"mTyp":"OptionNbboQuote"},"message":{"pkey":{"okey":{"at":"EQT","ts":"NMS","tk":"AA","dt":"2023-07-23","xx":1,"cp":"Call"}},"updateType":"PrcChange","bidPrice":1.1,"askPrice":1.11,"bidSize":1,"askSize":11,"cumBidSize":201,"cumAskSize":101,"bidMask":12,"askMask":45,"bidMktType":"Rotation","askMktType":"CustInterest","bidPrice2":1.09,"askPrice2":1.12,"cumBidSize2":10,"cumAskSize2":10,"bidTime":45600,"askTime":45700,"srcTimestamp":1682362339832326900,"netTimestamp":1682362339832266300}},
{"header":{"mTyp":"QueryResult"},"message":{"numMessagesSent":1,"queryElapsed":0.0341,"result":"Ok"}}
]"""

# REST, framed JSON (`/rest/jsonf?...`): the response as the document prints it. The `\r\n`
# that starts each frame shows up only as the line break (markdown has no CR), so these are
# the bytes as printed: LF-separated lines.
DOC_FRAMED = b"""J02745000499{"header":{"mTyp":"OptionNbboQuote"},"message":{"pkey":{"okey":{"at":"EQT","ts":"NMS","tk":"AA","dt":"2023-07-23","xx":1,"cp":"Call"}},"updateType":"PrcChange","bidPrice":1.1,"askPrice":1.11,"bidSize":1,"askSize":11,"cumBidSize":201,"cumAskSize":101,"bidMask":12,"askMask":45,"bidMktType":"Rotation","askMktType":"CustInterest","bidPrice2":1.09,"askPrice2":1.12,"cumBidSize2":10,"cumAskSize2":10,"bidTime":45600,"askTime":45700,"srcTimestamp":1682362339832326900,"netTimestamp":1682362339832266300}}
J03320000111{"header":{"mTyp":"QueryResult"},"message":{"numMessagesSent":1,"queryElapsed":0.0009,"result":"Ok"}}
"""  # noqa: E501 - the sample's own lines

DOC_HEADERS = [line[:12] for line in DOC_FRAMED.splitlines()]
DOC_PAYLOADS = [line[12:] for line in DOC_FRAMED.splitlines()]


def f32(value: float) -> float:
    """``value`` as protobuf's ``float`` carries it."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def instance_of(registry: Registry, name: str, obj: object) -> Any:
    """``obj``, checked to be of the registry's class ``name`` (whose fields are generated,
    so not known to a type checker here)."""
    assert type(obj) is registry.by_name(name)
    return obj


def assert_sample_quote(message: object, registry: Registry) -> None:
    """The OptionNbboQuote of the samples, field by field."""
    quote = instance_of(registry, "OptionNbboQuote", message)
    okey = quote.pkey.okey
    assert okey == OptionKey("EQT", "NMS", "AA", date(2023, 7, 23), 1.0, CallPut.CALL)
    assert (okey.asset_type, okey.ticker_src, okey.ticker) == ("EQT", "NMS", "AA")
    assert okey.expiration == date(2023, 7, 23)
    assert okey.strike == 1.0
    assert okey.call_put is CallPut.CALL
    # The flat form is the pkey the sample's query asked for.
    assert str(okey) == "AA-NMS-EQT-2023-07-23-1-C"
    assert (quote.update_type.wire_name, quote.update_type.number) == ("PrcChange", 1)
    assert (quote.bid_price, quote.ask_price) == (1.1, 1.11)
    assert (quote.bid_size, quote.ask_size) == (1, 11)
    assert (quote.cum_bid_size, quote.cum_ask_size) == (201, 101)
    assert (quote.bid_mask, quote.ask_mask) == (12, 45)
    # 2023-05 calls the flag type OpraMktType (2026: OptMktType); Rotation=1, CustInterest=4.
    assert type(quote.bid_mkt_type).__name__ == "OpraMktType"
    assert (quote.bid_mkt_type.wire_name, quote.bid_mkt_type.number) == ("Rotation", 1)
    assert (quote.ask_mkt_type.wire_name, quote.ask_mkt_type.number) == ("CustInterest", 4)
    assert (quote.bid_price2, quote.ask_price2) == (1.09, 1.12)
    assert (quote.cum_bid_size2, quote.cum_ask_size2) == (10, 10)
    assert (quote.bid_time, quote.ask_time) == (45600, 45700)
    # Nanoseconds beyond 2**53: exact ints, not rounded through a float (that would end ...912).
    assert type(quote.src_timestamp) is int
    assert quote.src_timestamp == 1682362339832326900
    assert quote.net_timestamp == 1682362339832266300
    assert datetime.fromtimestamp(quote.src_timestamp // 10**9, UTC) == datetime(
        2023, 4, 24, 18, 52, 19, tzinfo=UTC
    )
    # Members the sample does not send stay unset.
    assert quote.bid_exch is None and quote.ask_exch is None


def assert_sample_result(message: object, registry: Registry, elapsed: float) -> None:
    result = instance_of(registry, "QueryResult", message)
    assert (result.result.wire_name, result.result.number) == ("Ok", 1)
    assert result.num_messages_sent == 1
    assert result.query_elapsed == elapsed
    assert result.detail is None and result.num_bytes_sent is None


def test_samples_use_the_may_2023_numbers(
    may2023: Registry, staged: Callable[[Path], Path]
) -> None:
    assert may2023.by_name("OptionNbboQuote").MSG_NUM == 2745
    assert may2023.by_name("QueryResult").MSG_NUM == 3320
    assert [int(h[1:6]) for h in DOC_HEADERS] == [2745, 3320]
    # The 2026 schema renumbered both and has nothing under the old numbers.
    later = snapshot_registry(staged, "2026-07")
    assert later.by_name("OptionNbboQuote").MSG_NUM == 2785
    assert later.by_name("QueryResult").MSG_NUM == 3445
    assert 2745 not in later and 3320 not in later


def test_rest_json_sample(may2023: Registry) -> None:
    quote, result = decode(REST_JSON, "json", registry=may2023)
    assert_sample_quote(quote, may2023)
    assert_sample_result(result, may2023, 0.0341)
    envelopes = decode_envelopes(REST_JSON, "json", registry=may2023)
    assert [e.header.mtyp for e in envelopes] == ["OptionNbboQuote", "QueryResult"]
    assert [e.message for e in envelopes] == [quote, result]


def test_framed_sample_with_correct_lengths(may2023: Registry) -> None:
    # The document's header lengths: 499 matches the OptionNbboQuote payload, but the
    # QueryResult payload is 101 bytes where its header claims 111. Framed here with the
    # measured lengths, so that the payloads themselves can be checked; the document's own
    # bytes are the next two tests.
    assert [len(p) for p in DOC_PAYLOADS] == [499, 101]
    assert [int(h[6:12]) for h in DOC_HEADERS] == [499, 111]
    body = b"".join(
        b"\r\n" + header[:6] + b"%06d" % len(payload) + payload
        for header, payload in zip(DOC_HEADERS, DOC_PAYLOADS, strict=True)
    )
    assert body[:14] == b"\r\n" + DOC_HEADERS[0]
    assert body[513 : 513 + 14] == b"\r\nJ03320000101"
    assert body == encode_frame("J", 2745, DOC_PAYLOADS[0]) + encode_frame(
        "J", 3320, DOC_PAYLOADS[1]
    )
    assert [(k, n, p, o) for k, n, p, o in split_frames(body)] == [
        ("J", 2745, DOC_PAYLOADS[0], 0),
        ("J", 3320, DOC_PAYLOADS[1], 513),
    ]

    quote, result = decode(body, "jsonf", registry=may2023)
    assert_sample_quote(quote, may2023)
    assert_sample_result(result, may2023, 0.0009)
    envelopes = decode_envelopes(body, "jsonf", registry=may2023)
    assert [(e.header.mtyp, e.offset) for e in envelopes] == [
        ("OptionNbboQuote", 0),
        ("QueryResult", 513),
    ]
    # The same body cut anywhere inside the second header decodes the same incrementally.
    for cut in range(513, 513 + 15):
        decoder = FrameDecoder("jsonf", registry=may2023)
        assert decoder.feed(body[:cut]) == [quote]
        assert decoder.feed(body[cut:]) == [result]
        decoder.close()


def test_doc_framed_bytes_as_printed_are_rejected(may2023: Registry) -> None:
    # Without the leading \r\n the first byte is already wrong: an error, not a guess.
    with pytest.raises(FramingError) as caught:
        decode(DOC_FRAMED, "jsonf", registry=may2023)
    assert caught.value.offset == 0
    decoder = FrameDecoder("jsonf", registry=may2023)
    with pytest.raises(FramingError) as again:
        decoder.feed(DOC_FRAMED)
    assert again.value.offset == 0


def test_doc_framed_headers_wrong_length_is_an_error_not_a_misdecode(may2023: Registry) -> None:
    # The document's frames with their \r\n restored: the QueryResult header claims 111 bytes
    # and only 101 follow, so the body ends inside a frame that starts at byte 14 + 499.
    body = b"".join(b"\r\n" + line for line in DOC_FRAMED.splitlines())
    with pytest.raises(FramingError) as caught:
        decode(body, "jsonf", registry=may2023)
    assert caught.value.offset == 513
    assert "111 bytes" in caught.value.reason and "101 present" in caught.value.reason

    # Incrementally the intact first frame comes out; the stream must not end there.
    decoder = FrameDecoder("jsonf", registry=may2023)
    (quote,) = decoder.feed(body)
    assert_sample_quote(quote, may2023)
    with pytest.raises(FramingError) as at_close:
        decoder.close()
    assert at_close.value.offset == 513

    # Followed by another frame, the 10 extra bytes swallow part of its header: the next
    # header is then looked for at 513 + 14 + 111, four bytes into that frame's header.
    longer = body + encode_frame("J", 3320, DOC_PAYLOADS[1])
    with pytest.raises(FramingError) as mid:
        decode(longer, "jsonf", registry=may2023)
    assert mid.value.offset == 513 + 14 + 111
    assert longer[513 + 14 + 101 :][:2] == b"\r\n"


def test_proto_form_of_the_samples(may2023: Registry) -> None:
    # The document shows the protobuf response only as placeholders; its framing is the same
    # with P and the May-2023 numbers. Floats travel as protobuf float (32 bits).
    decoded = decode(REST_JSON, "json", registry=may2023)
    quote = instance_of(may2023, "OptionNbboQuote", decoded[0])
    result = instance_of(may2023, "QueryResult", decoded[1])
    body = encode([quote, result], "proto")
    frames = split_frames(body)
    assert [(k, n) for k, n, _, _ in frames] == [("P", 2745), ("P", 3320)]
    assert body[:8] == b"\r\nP02745"
    assert int(body[8:14]) == len(frames[0][2])
    back_quote, back_result = decode(body, "proto", registry=may2023)
    floats = ("bid_price", "ask_price", "bid_price2", "ask_price2")
    assert back_quote == attrs.evolve(quote, **{n: f32(getattr(quote, n)) for n in floats})
    assert back_result == attrs.evolve(result, query_elapsed=f32(0.0341))


def test_vendor_client_quirk_header(may2023: Registry) -> None:
    # The document's framed-JSON WebSocket client frames with '\r\nJ' + '%011d' % len(msg):
    # for a length below 10**6 that is mNum 00000 plus the right 6-digit length, so it is a
    # valid header; framed JSON is decoded by its mTyp, not by the mNum.
    payload = DOC_PAYLOADS[1]
    quirk = b"".join([b"\r\nJ", b"%011d" % len(payload), payload])
    assert quirk[:14] == b"\r\nJ00000000101"
    (result,) = decode(quirk, "jsonf", registry=may2023)
    assert_sample_result(result, may2023, 0.0009)


@pytest.mark.parametrize(("cached", "strike"), [("1", "true"), ("0", "false")])
def test_a_bool_strike_is_refused_even_when_its_number_is_cached(cached: str, strike: str) -> None:
    """JSON true == 1 (false == 0) as a dict key: the key cache must not answer for a bool."""
    good = DOC_PAYLOADS[0].replace(b'"xx":1,', b'"xx":' + cached.encode() + b",")
    decode(good, "json")  # the key with that strike number is now cached
    with pytest.raises(DecodeError, match="okey"):
        decode(good.replace(b'"xx":' + cached.encode(), b'"xx":' + strike.encode()), "json")
