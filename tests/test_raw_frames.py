"""Raw frames (issue 13): a decoder asked to keep frames gives each envelope its frame as
received (not encoded again: what the sender set in ``_meta`` stays), however the bytes were
cut into chunks; a stream opened with ``raw_frames=True`` hands them on in ``Record.frame``."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import given, strategies as st

from srmlink.codec import FrameDecoder, encode
from srmlink.framing import encode_frame
from srmlink.messages import OptionNbboQuote, registry
from srmlink.stream import Record
from srmlink.stream.protocol import ClientProtocol

from .test_codec_meta import framed, quote


def json_frame(bid: float) -> bytes:
    """A framed JSON record with a header member srmlink does not write (``sTim``)."""
    record = orjson.loads(encode([quote(bid)], "json"))[0]
    record["header"]["sTim"] = "2026-07-12 14:03:07.123456"
    assert OptionNbboQuote.MSG_NUM is not None
    return encode_frame("J", OptionNbboQuote.MSG_NUM, orjson.dumps(record))


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


bids = st.floats(0, 10_000, allow_nan=False, width=32)


@given(
    proto_bids=st.lists(st.tuples(bids, st.integers(0, 2**62), st.booleans()), max_size=6),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_kept_frames_are_the_bytes_received_however_chunked(
    proto_bids: list[tuple[float, int, bool]], cuts: list[int]
) -> None:
    sent = [framed(quote(bid), time_sent=t, is_deleted=d) for bid, t, d in proto_bids]
    decoder = FrameDecoder("proto", registry=registry, frames=True)
    kept = [
        e.frame for chunk in chunks(b"".join(sent), cuts) for e in decoder.feed_envelopes(chunk)
    ]
    assert kept == sent


@given(json_bids=st.lists(bids, max_size=4), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_kept_jsonf_frames_are_the_bytes_received(json_bids: list[float], cuts: list[int]) -> None:
    sent = [json_frame(bid) for bid in json_bids]
    decoder = FrameDecoder("jsonf", registry=registry, frames=True)
    kept = [
        e.frame for chunk in chunks(b"".join(sent), cuts) for e in decoder.feed_envelopes(chunk)
    ]
    assert kept == sent


def test_frames_are_kept_only_when_asked() -> None:
    (envelope,) = FrameDecoder("proto", registry=registry).feed_envelopes(framed(quote(1.0)))
    assert envelope.frame is None


def test_a_raw_frames_protocol_puts_each_frame_in_its_record() -> None:
    sent = framed(quote(2.5), time_sent=123, is_deleted=True)
    for raw_frames, expected in ((True, sent), (False, None)):
        protocol = ClientProtocol(registry, "proto", None, raw_frames=raw_frames)
        protocol.connection_made()  # a new decoder: it must keep frames too
        (event,) = protocol.receive(sent)
        assert isinstance(event, Record) and event.deleted
        assert event.message == quote(2.5) and event.frame == expected
