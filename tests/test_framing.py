"""Byte-level tests of MLink framing: srmlink.framing and FrameDecoder's framing behaviour.

A frame is ``\\r\\n`` + ``J``|``P`` + 5-digit mNum + 6-digit payload length + payload. Every
error is a FramingError whose ``offset`` is the stream byte at fault (a bad header byte) or
the first byte of the frame that is cut short (truncated data).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from srmlink.codec import (
    Encoding,
    FrameDecoder,
    UnknownMessage,
    decode,
    decode_envelopes,
    encode,
)
from srmlink.errors import DecodeError, FramingError
from srmlink.framing import (
    HEADER_SIZE,
    MAX_MNUM,
    MAX_PAYLOAD,
    Frame,
    FrameSplitter,
    encode_frame,
    iter_frames,
    split_frames,
)
from srmlink.keys import CallPut, OptionKey, TickerKey
from srmlink.message import Message
from srmlink.registry import Registry

from .conftest import snapshot_registry

FrameTuple = tuple[str, int, bytes, int]
FRAMED: tuple[Encoding, ...] = ("jsonf", "proto")

# A protobuf float whose four little-endian bytes are \r\n\r\n.
CRLF_FLOAT = float(struct.unpack("<f", b"\r\n\r\n")[0])
# Text that looks like a complete frame header (and a JSON body) inside a payload.
FAKE_HEADER = "\r\nP02785000000\r\nJ03445000002{}"


@pytest.fixture(scope="module")
def registry(staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, "2026-07")


def field_type(cls: type[Message], name: str) -> Any:
    """The enum / key / group class of a generated field."""
    found = cls.SPEC.field(name).type
    assert found is not None
    return found


def sample_messages(registry: Registry) -> list[Message]:
    """Real 2026-07 messages whose JSON and protobuf forms both round-trip exactly; their
    protobuf payloads contain \\r\\n and a fake header."""
    quote_cls: Any = registry.by_name("OptionNbboQuote")
    okey = OptionKey("EQT", "NMS", "AAPL", date(2026, 7, 17), 150.5, CallPut.CALL)
    quote = quote_cls(
        pkey=field_type(quote_cls, "pkey")(okey=okey),
        update_type=field_type(quote_cls, "update_type").PRC_CHANGE,
        bid_price=CRLF_FLOAT,
        ask_price=1.75,
        bid_size=13,  # varint 0x0D
        ask_size=10,  # varint 0x0A
        cum_bid_size=2_000_000,
        bid_exch=field_type(quote_cls, "bid_exch").CBOE,
        bid_mkt_type=field_type(quote_cls, "bid_mkt_type").from_number(1),
        src_timestamp=1_782_000_000_123_456_789,
    )
    print_cls: Any = registry.by_name("OptionPrint")
    trade = print_cls(
        pkey=field_type(print_cls, "pkey")(okey=okey),
        prt_price=2.5,
        prt_size=7,
        timestamp=datetime(2026, 7, 1, 14, 30, 5, 123456, tzinfo=UTC),
    )
    result_cls: Any = registry.by_name("QueryResult")
    result = result_cls(
        num_messages_sent=3,
        query_elapsed=0.5,
        result=field_type(result_cls, "result").OK,
        detail=FAKE_HEADER,
    )
    sub_cls: Any = registry.by_name("MLinkSubscribe")
    group = field_type(sub_cls, "subscribe")
    subscribe = sub_cls(
        subscribe_id=42,
        subscribe=(
            group(msg_name="OptionNbboQuote", msg_p_key=str(okey)),
            group(msg_name="StockBookQuote", msg_p_key=str(TickerKey("EQT", "NMS", "AAPL"))),
        ),
    )
    return [quote, trade, result, subscribe, quote_cls()]


def frame_tuples(frames: list[tuple[str, int, bytes]], start: int = 0) -> list[FrameTuple]:
    """What split_frames returns for ``frames`` encoded back to back from byte ``start``."""
    out: list[FrameTuple] = []
    offset = start
    for kind, mnum, payload in frames:
        out.append((kind, mnum, payload, offset))
        offset += HEADER_SIZE + len(payload)
    return out


RAW_FRAMES: list[tuple[str, int, bytes]] = [
    ("J", 2785, b'{"header":{"mTyp":"X"},"message":{}}'),
    ("P", 2785, b""),
    ("P", 3445, b"\r\n"),
    ("P", 1, FAKE_HEADER.encode()),
    ("J", 0, b"\r\n\r\n\r\n"),
    ("P", 99_999, bytes(range(256))),
    ("P", 12, b"\r\nP0000100000"),  # a truncated "header" inside a payload
    ("J", 7, b"x" * 1000),
]


# ---- the header and encode_frame -------------------------------------------------------------


def test_header_layout() -> None:
    assert (HEADER_SIZE, MAX_MNUM, MAX_PAYLOAD) == (14, 99_999, 999_999)
    frame = encode_frame("P", 2785, b"\x08\x01\r\n\x00")
    assert frame[0:2] == b"\r\n"
    assert frame[2:3] == b"P"
    assert frame[3:8] == b"02785"
    assert frame[8:14] == b"000005"
    assert frame[14:] == b"\x08\x01\r\n\x00"


@pytest.mark.parametrize(
    ("kind", "mnum", "payload", "expected"),
    [
        ("J", 2785, b"{}", b"\r\nJ02785000002{}"),
        ("P", 3445, b"\x08\x01", b"\r\nP03445000002\x08\x01"),
        ("P", 0, b"", b"\r\nP00000000000"),
        ("J", 99_999, b"x", b"\r\nJ99999000001x"),
        ("P", 5, b"\r\n" * 6, b"\r\nP00005000012" + b"\r\n" * 6),
    ],
)
def test_encode_frame_bytes(kind: str, mnum: int, payload: bytes, expected: bytes) -> None:
    assert encode_frame(kind, mnum, payload) == expected
    assert split_frames(expected) == [(kind, mnum, payload, 0)]


def test_encode_frame_largest_payload() -> None:
    frame = encode_frame("J", 1, b" " * MAX_PAYLOAD)
    assert frame[:14] == b"\r\nJ00001999999"
    assert len(frame) == 14 + 999_999
    ((kind, mnum, payload, offset),) = split_frames(frame)
    assert (kind, mnum, len(payload), offset) == ("J", 1, 999_999, 0)


@pytest.mark.parametrize(
    ("kind", "mnum", "size"),
    [
        ("X", 1, 0),
        ("j", 1, 0),
        ("JP", 1, 0),
        ("", 1, 0),
        ("J", -1, 0),
        ("P", 100_000, 0),
        ("P", 1, MAX_PAYLOAD + 1),
    ],
)
def test_encode_frame_rejects_what_the_header_cannot_carry(kind: str, mnum: int, size: int) -> None:
    with pytest.raises(ValueError, match=r"frame kind|mNum|payload"):
        encode_frame(kind, mnum, b"\0" * size)


# ---- complete bodies ----------------------------------------------------------------------------


def test_many_frames_in_one_buffer() -> None:
    frames = RAW_FRAMES * 25
    body = b"".join(encode_frame(*f) for f in frames)
    expected = frame_tuples(frames)
    assert split_frames(body) == expected
    assert list(iter_frames(body)) == [Frame(*t) for t in expected]
    # base_offset: the position of `body` in a longer stream.
    assert split_frames(body, 1000) == frame_tuples(frames, 1000)
    splitter = FrameSplitter()
    assert splitter.feed(body) == [Frame(*t) for t in expected]
    assert splitter.buffered == 0
    splitter.close()


def test_empty_input() -> None:
    assert split_frames(b"") == []
    splitter = FrameSplitter()
    assert splitter.feed(b"") == []
    splitter.close()
    decoder = FrameDecoder("proto", registry=None)
    assert decoder.feed(b"") == []
    decoder.close()


def test_crlf_inside_payloads_frames_by_length(registry: Registry) -> None:
    messages = sample_messages(registry)
    body = encode(messages, "proto")
    assert b"\r\n\r\n" in split_frames(body)[0][2]  # the float's bytes
    assert FAKE_HEADER.encode() in split_frames(body)[2][2]
    # Splitting on \r\n, as the vendor's simple samples do, breaks the stream apart.
    naive = [part for part in body.split(b"\r\n") if part]
    assert len(naive) > len(messages)
    assert decode(body, "proto", registry=registry) == messages
    assert [e.offset for e in decode_envelopes(body, "proto", registry=registry)] == [
        t[3] for t in split_frames(body)
    ]


def test_crlf_whitespace_inside_framed_json(registry: Registry) -> None:
    # Raw CR LF is JSON whitespace: a J payload may contain it too.
    payload = b'\r\n{"header":\r\n{"mTyp":"QueryResult"},\r\n"message":{"result":"Ok"}}\r\n'
    body = encode_frame("J", 3445, payload) * 2
    assert split_frames(body) == [("J", 3445, payload, 0), ("J", 3445, payload, 14 + len(payload))]
    first, second = decode(body, "jsonf", registry=registry)
    result_cls: Any = registry.by_name("QueryResult")
    assert first == second == result_cls(result=field_type(result_cls, "result").OK)


def test_zero_length_payloads(registry: Registry) -> None:
    body = encode_frame("P", 2785, b"") * 2 + encode_frame("P", 1, b"")
    assert split_frames(body) == [("P", 2785, b"", 0), ("P", 2785, b"", 14), ("P", 1, b"", 28)]
    # A zero-length frame is complete with its 14 header bytes: no waiting for more input.
    splitter = FrameSplitter()
    assert splitter.feed(body[:13]) == []
    assert splitter.feed(body[13:14]) == [Frame("P", 2785, b"", 0)]
    # proto3: an empty payload is a message with every field unset; unknown mNum stays raw.
    quote, again, unknown = decode(body, "proto", registry=registry)
    assert quote == again == registry.by_name("OptionNbboQuote")()
    assert unknown == UnknownMessage(None, 1, "proto", b"")
    # An empty J payload is not JSON: a DecodeError at the byte after its header.
    decoder = FrameDecoder("jsonf", registry=registry)
    assert decoder.feed(encode_frame("P", 2785, b"") + encode_frame("J", 3445, b"")) == [quote]
    with pytest.raises(DecodeError) as caught:
        decoder.feed(b"")
    assert caught.value.offset == 14 + 14


# ---- chunk boundaries anywhere ------------------------------------------------------------------


def test_splitter_cut_at_every_position() -> None:
    body = b"".join(encode_frame(*f) for f in RAW_FRAMES)
    expected = [Frame(*t) for t in frame_tuples(RAW_FRAMES)]
    ends = [f.offset + HEADER_SIZE + len(f.payload) for f in expected]
    for cut in range(len(body) + 1):
        splitter = FrameSplitter()
        first = splitter.feed(body[:cut])
        complete = sum(1 for end in ends if end <= cut)
        assert first == expected[:complete], cut
        assert splitter.buffered == cut - (ends[complete - 1] if complete else 0)
        assert first + splitter.feed(body[cut:]) == expected, cut
        assert splitter.buffered == 0
        splitter.close()


def test_splitter_byte_at_a_time_returns_each_frame_on_its_last_byte() -> None:
    body = b"".join(encode_frame(*f) for f in RAW_FRAMES)
    expected = [Frame(*t) for t in frame_tuples(RAW_FRAMES)]
    ends = {f.offset + HEADER_SIZE + len(f.payload) - 1: f for f in expected}
    splitter = FrameSplitter()
    for i in range(len(body)):
        got = splitter.feed(body[i : i + 1])
        assert got == ([ends[i]] if i in ends else []), i
    splitter.close()


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_frame_decoder_cut_at_every_position(encoding: Encoding, registry: Registry) -> None:
    messages = sample_messages(registry)
    body = encode(messages, encoding)
    assert decode(body, encoding, registry=registry) == messages
    offsets = [t[3] for t in split_frames(body)]
    for cut in range(len(body) + 1):
        decoder = FrameDecoder(encoding, registry=registry)
        got = decoder.feed(body[:cut])
        got += decoder.feed(body[cut:])
        assert got == messages, cut
        decoder.close()
        envelopes = FrameDecoder(encoding, registry=registry)
        found = envelopes.feed_envelopes(body[:cut]) + envelopes.feed_envelopes(body[cut:])
        assert [(e.message, e.offset) for e in found] == list(zip(messages, offsets, strict=True))


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_frame_decoder_every_pair_of_cuts(encoding: Encoding, registry: Registry) -> None:
    # Three chunks, cut at every pair of positions, over two short frames.
    messages = sample_messages(registry)[2:3] * 2
    body = encode(messages, encoding)
    for i in range(len(body) + 1):
        for j in range(i, len(body) + 1):
            decoder = FrameDecoder(encoding, registry=registry)
            got = decoder.feed(body[:i]) + decoder.feed(body[i:j]) + decoder.feed(body[j:])
            assert got == messages, (i, j)
            decoder.close()


def test_offsets_count_every_byte_fed() -> None:
    frame = encode_frame("P", 9, b"abc")
    splitter = FrameSplitter()
    assert splitter.feed(frame + frame[:5]) == [Frame("P", 9, b"abc", 0)]
    assert splitter.feed(frame[5:] + frame) == [
        Frame("P", 9, b"abc", len(frame)),
        Frame("P", 9, b"abc", 2 * len(frame)),
    ]


# ---- corrupt headers ---------------------------------------------------------------------------

FIRST = encode_frame("J", 3445, b'{"header":{"mTyp":"QueryResult"},"message":{}}')
SECOND = encode_frame("P", 2785, b"\x10\x01")
# (byte position in the header, replacement): every field of the header, with bytes that a
# lenient parser (int(), \d on str, a split on \r\n) would let through.
CORRUPTIONS = [
    (0, b"X"),
    (0, b"\n"),
    (0, b"J"),
    (1, b"\r"),
    (1, b"X"),
    (2, b"j"),
    (2, b"p"),
    (2, b"X"),
    (2, b"\r"),
    (2, b"0"),
    *[(at, bad) for at in range(3, 8) for bad in (b"A", b" ", b"-", b"\xd9")],
    *[(at, bad) for at in range(8, 14) for bad in (b" ", b"+", b"x", b"\x00")],
]


def corrupt(at: int, bad: bytes) -> bytes:
    return FIRST + SECOND[:at] + bad + SECOND[at + 1 :]


@pytest.mark.parametrize(("at", "bad"), CORRUPTIONS)
def test_corrupt_header_offset(at: int, bad: bytes, registry: Registry) -> None:
    data = corrupt(at, bad)
    where = len(FIRST) + at
    with pytest.raises(FramingError) as caught:
        split_frames(data)
    assert caught.value.offset == where
    with pytest.raises(FramingError) as shifted:
        split_frames(data, base_offset=100)
    assert shifted.value.offset == where + 100
    with pytest.raises(FramingError) as whole:
        FrameSplitter().feed(data)
    assert whole.value.offset == where
    for encoding in FRAMED:
        with pytest.raises(FramingError) as decoding:
            FrameDecoder(encoding, registry=registry).feed(data)
        assert decoding.value.offset == where
        with pytest.raises(FramingError) as one_shot:
            decode(data, encoding, registry=registry)
        assert one_shot.value.offset == where


@pytest.mark.parametrize(("at", "bad"), CORRUPTIONS)
def test_corrupt_header_raises_when_the_bad_byte_arrives(at: int, bad: bytes) -> None:
    # Fed a byte at a time, the first frame comes out whole and the error is raised by the
    # very feed that delivers the bad byte, not 14 bytes later.
    data = corrupt(at, bad)
    where = len(FIRST) + at
    splitter = FrameSplitter()
    frames: list[Frame] = []
    for i in range(where):
        frames += splitter.feed(data[i : i + 1])
    assert frames == [Frame("J", 3445, FIRST[14:], 0)]
    with pytest.raises(FramingError) as caught:
        splitter.feed(data[where : where + 1])
    assert caught.value.offset == where


def test_garbage_before_the_first_header() -> None:
    for data, where in [(b"J02745000002{}", 0), (b"\n\r\nJ", 0), (b"\r\r\n", 1), (b" \r\n", 0)]:
        with pytest.raises(FramingError) as caught:
            FrameSplitter().feed(data)
        assert caught.value.offset == where, data


# ---- truncated data -----------------------------------------------------------------------------

TAIL = encode_frame("P", 2785, bytes(range(40)))


@pytest.mark.parametrize("keep", range(1, len(TAIL)))
def test_truncated_stream(keep: int, registry: Registry) -> None:
    data = FIRST + TAIL[:keep]
    start = len(FIRST)  # the offset of the frame that is cut short
    with pytest.raises(FramingError) as caught:
        split_frames(data)
    assert caught.value.offset == start
    assert "truncated" in caught.value.reason
    splitter = FrameSplitter()
    assert splitter.feed(data) == [Frame("J", 3445, FIRST[14:], 0)]
    assert splitter.buffered == keep
    with pytest.raises(FramingError) as closing:
        splitter.close()
    assert closing.value.offset == start
    assert f"{keep} bytes pending" in closing.value.reason
    for encoding in FRAMED:
        decoder = FrameDecoder(encoding, registry=registry)
        assert decoder.feed(data) == [registry.by_name("QueryResult")()]
        with pytest.raises(FramingError) as at_close:
            decoder.close()
        assert at_close.value.offset == start


def test_close_on_a_frame_boundary_is_clean() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(FIRST + TAIL[:3]) == [Frame("J", 3445, FIRST[14:], 0)]
    assert splitter.buffered == 3
    assert splitter.feed(TAIL[3:]) == [Frame("P", 2785, TAIL[14:], len(FIRST))]
    assert splitter.buffered == 0
    # Ended between frames: close raises nothing (twice) and the splitter still takes frames.
    splitter.close()
    splitter.close()
    assert splitter.feed(TAIL) == [Frame("P", 2785, TAIL[14:], len(FIRST) + len(TAIL))]


# ---- after an error ----------------------------------------------------------------------------


def test_splitter_stops_after_a_framing_error() -> None:
    # Documented: the stream has lost its boundaries; every later feed (and close) raises the
    # same error, even for valid data.
    splitter = FrameSplitter()
    assert splitter.feed(FIRST) == [Frame("J", 3445, FIRST[14:], 0)]
    with pytest.raises(FramingError) as caught:
        splitter.feed(b"\r\nQ")
    error = caught.value
    assert error.offset == len(FIRST) + 2
    for _ in range(2):
        with pytest.raises(FramingError) as again:
            splitter.feed(FIRST)
        assert again.value is error
    with pytest.raises(FramingError) as at_close:
        splitter.close()
    assert at_close.value is error


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_frame_decoder_stops_after_a_framing_error(encoding: Encoding, registry: Registry) -> None:
    decoder = FrameDecoder(encoding, registry=registry)
    assert decoder.feed(FIRST) == [registry.by_name("QueryResult")()]
    with pytest.raises(FramingError) as caught:
        decoder.feed(b"\r\nP0x")
    error = caught.value
    assert error.offset == len(FIRST) + 4
    for feed in (decoder.feed, decoder.feed_envelopes, decoder.feed):
        with pytest.raises(FramingError) as again:
            feed(FIRST)
        assert again.value is error
    with pytest.raises(FramingError) as at_close:
        decoder.close()
    assert at_close.value is error


@pytest.mark.parametrize("envelopes", [False, True])
def test_frame_decoder_returns_the_messages_before_a_bad_one(
    envelopes: bool, registry: Registry
) -> None:
    # Found by fuzzing: a DecodeError used to discard the messages that decoded before it in
    # the same feed. They come out first now; the error is raised by the next feed.
    good = encode(sample_messages(registry)[2:3], "proto")
    (result,) = decode(good, "proto", registry=registry)
    bad = encode_frame("P", 2785, b"\xff")
    decoder = FrameDecoder("proto", registry=registry)
    feed = decoder.feed_envelopes if envelopes else decoder.feed

    def messages(out: list[Any]) -> list[Any]:
        return [e.message for e in out] if envelopes else out

    assert messages(feed(good + good + bad + good)) == [result, result]
    with pytest.raises(DecodeError) as caught:
        feed(b"")
    assert caught.value.offset == 2 * len(good)
    assert messages(feed(b"")) == [result]
    assert feed(b"") == []
    decoder.close()


def test_frame_decoder_goes_on_after_a_decode_error(registry: Registry) -> None:
    # Documented: a DecodeError consumes its frame only; the next feed carries on.
    good = encode(sample_messages(registry)[2:3], "jsonf")
    (result,) = decode(good, "jsonf", registry=registry)
    bad_json = encode_frame("J", 3445, b'{"header":{"mTyp":"QueryResult"},"message":')
    bad_proto = encode_frame("P", 2785, b"\xff")  # a truncated varint tag
    decoder = FrameDecoder("jsonf", registry=registry)
    with pytest.raises(DecodeError) as caught:
        decoder.feed(bad_json)
    # Invalid JSON: the offset is the stream byte where parsing failed, here its very end.
    assert caught.value.offset == len(bad_json)
    assert decoder.feed(good) == [result]
    # A bad frame followed by a good one in the same chunk: the good one was split off
    # already and comes out of the next feed, even an empty one.
    with pytest.raises(DecodeError) as proto_error:
        decoder.feed(bad_proto + good)
    at = len(bad_json) + len(good)
    assert (proto_error.value.offset, proto_error.value.message_type) == (at, "OptionNbboQuote")
    assert decoder.feed(b"") == [result]
    assert decoder.feed(b"") == []
    decoder.close()
    # A decode error in the middle of a frame's byte-wise arrival: raised on its last byte.
    for i in range(len(bad_proto) - 1):
        assert decoder.feed(bad_proto[i : i + 1]) == []
    with pytest.raises(DecodeError):
        decoder.feed(bad_proto[-1:])
    assert decoder.feed(good) == [result]
    decoder.close()
