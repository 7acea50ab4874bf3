"""Exact-value tests of srmlink.framing that need no schema, written against mutants.

Each pins a boundary or an offset that a one-character slip in framing.py would move (``<`` for
``<=``, ``+`` for ``-``, 14 for 15): header size, the largest mNum and payload, the byte offset
of every kind of error, the splitter's accounting across chunks. They import nothing but the
framing module, so the mutation session (``nox -s mutation -- framing``) runs them first and
most mutants die in a second.
"""

from __future__ import annotations

import pytest

from srmlink.errors import FramingError
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

ONE = b"\r\nJ00007000002{}"
EMPTY = b"\r\nP99999000000"


def test_the_documented_limits() -> None:
    assert (HEADER_SIZE, MAX_MNUM, MAX_PAYLOAD) == (14, 99_999, 999_999)
    assert len(EMPTY) == HEADER_SIZE


def test_encode_frame_bytes_and_limits() -> None:
    assert encode_frame("J", 7, b"{}") == ONE
    assert encode_frame("P", MAX_MNUM, b"") == EMPTY
    assert encode_frame("P", 0, b"x") == b"\r\nP00000000001x"
    largest = encode_frame("J", 1, bytes(MAX_PAYLOAD))
    assert largest[:HEADER_SIZE] == b"\r\nJ00001999999" and len(largest) == 1_000_013
    for kind, mnum, payload in [
        ("X", 1, b""),
        ("j", 1, b""),
        ("J", -1, b""),
        ("J", MAX_MNUM + 1, b""),
        ("J", 1, bytes(MAX_PAYLOAD + 1)),
    ]:
        with pytest.raises(ValueError):
            encode_frame(kind, mnum, payload)


def test_split_frames_exact_fit_and_offsets() -> None:
    body = ONE + EMPTY + ONE
    assert split_frames(body) == [
        ("J", 7, b"{}", 0),
        ("P", 99_999, b"", 16),
        ("J", 7, b"{}", 30),
    ]
    assert split_frames(body, 100)[2] == ("J", 7, b"{}", 130)
    assert split_frames(EMPTY) == [("P", 99_999, b"", 0)]  # exactly one header, nothing more
    assert split_frames(b"") == []
    assert list(iter_frames(ONE + ONE, 5)) == [Frame("J", 7, b"{}", 5), Frame("J", 7, b"{}", 21)]


def test_split_frames_truncation_is_reported_at_the_frame() -> None:
    with pytest.raises(FramingError) as short_payload:
        split_frames(ONE + ONE[:-1], 10)
    assert short_payload.value.offset == 26
    assert short_payload.value.reason == "frame of 2 bytes is truncated: 1 present"
    with pytest.raises(FramingError) as short_header:
        split_frames(ONE + EMPTY[:13])
    assert short_header.value.offset == 16
    assert short_header.value.reason == "truncated frame header (13 of 14 bytes)"


def _reason(bad: bytes, at: int) -> str:
    """The complaint about the bad byte at ``at`` when ``bad`` is the header seen so far."""
    if at < 2:
        return f"expected a frame header starting with \\r\\n, got {bad[:2]!r}"
    if at == 2:
        return "unknown frame kind b'x' (expected J or P)"
    return "non-digit b'x' in the frame header"


@pytest.mark.parametrize("at", range(HEADER_SIZE))
def test_every_header_byte_is_checked_at_its_offset(at: int) -> None:
    bad = bytearray(ONE)
    bad[at] = ord("x")
    body = ONE + bytes(bad)
    with pytest.raises(FramingError) as whole:
        split_frames(body, 1000)
    assert (whole.value.offset, whole.value.reason) == (1016 + at, _reason(bytes(bad), at))
    # Fed a byte at a time, the splitter rejects the bad byte as soon as it arrives.
    splitter = FrameSplitter()
    for byte in body[: 16 + at]:
        assert splitter.feed(bytes([byte])) == ([Frame("J", 7, b"{}", 0)] if byte == 125 else [])
    with pytest.raises(FramingError) as fed:
        splitter.feed(bytes([body[16 + at]]))
    assert (fed.value.offset, fed.value.reason) == (16 + at, _reason(bytes(bad[: at + 1]), at))


def test_splitter_accounting_across_chunks() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(ONE[:13]) == []
    assert splitter.buffered == 13
    assert splitter.feed(bytearray(ONE[13:15])) == []
    assert splitter.buffered == 15
    assert splitter.feed(memoryview(ONE[15:] + EMPTY + ONE[:3])) == [
        Frame("J", 7, b"{}", 0),
        Frame("P", 99_999, b"", 16),
    ]
    assert splitter.buffered == 3
    assert splitter.feed_tuples(ONE[3:] + ONE) == [("J", 7, b"{}", 30), ("J", 7, b"{}", 46)]
    assert splitter.buffered == 0
    splitter.close()
    assert splitter.feed(ONE[:5]) == []
    with pytest.raises(FramingError) as pending:
        splitter.close()
    assert (pending.value.offset, pending.value.reason) == (
        62,
        "stream ended inside a frame (5 bytes pending)",
    )


def test_splitter_keeps_its_first_error() -> None:
    splitter = FrameSplitter()
    with pytest.raises(FramingError) as first:
        splitter.feed(ONE + b"\r\nJ0000x")  # a frame, then garbage, in one chunk
    assert first.value.offset == 16 + 7
    with pytest.raises(FramingError) as again:
        splitter.feed_tuples(ONE)
    assert again.value is first.value
    with pytest.raises(FramingError) as closing:
        splitter.close()
    assert closing.value is first.value


def test_frames_are_values() -> None:
    frame = Frame("J", 7, b"{}", 0)
    assert frame == Frame("J", 7, b"{}", 0) != Frame("J", 7, b"{}", 1)
    with pytest.raises(AttributeError):
        frame.offset = 3  # type: ignore[misc]
