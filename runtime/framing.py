"""MLink's framing for ``jsonf`` and ``proto`` bodies: sans-I/O, bytes in, frames out.

Each message is ``\\r\\n`` + one letter (``J`` framed JSON, ``P`` protobuf) + 5 ASCII digits of
message number (mNum) + 6 ASCII digits of payload length + the payload: a 14-byte header.
Payloads are cut by length, never by searching for ``\\r\\n`` (protobuf payloads contain it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from attrs import frozen

from .errors import FramingError

__all__ = [
    "HEADER_SIZE",
    "MAX_MNUM",
    "MAX_PAYLOAD",
    "Frame",
    "FrameSplitter",
    "encode_frame",
    "iter_frames",
    "split_frames",
]

HEADER_SIZE = 14
MAX_MNUM = 99_999
MAX_PAYLOAD = 999_999
_KINDS = frozenset(b"JP")
_HEADER = re.compile(rb"\r\n([JP])(\d{5})(\d{6})")
_DIGITS = frozenset(b"0123456789")


@frozen
class Frame:
    """One framed message: ``kind`` is ``"J"`` or ``"P"``; ``offset`` is where its header
    starts in the stream (counting every byte fed so far)."""

    kind: str
    mnum: int
    payload: bytes
    offset: int


def _check(data: bytes | bytearray, pos: int, offset: int) -> None:
    """Validate the header bytes present at ``data[pos:]`` (possibly fewer than 14)."""
    end = min(len(data), pos + HEADER_SIZE)
    for i in range(pos, end):
        ch = data[i]
        at = i - pos
        if (at == 0 and ch != 0x0D) or (at == 1 and ch != 0x0A):
            raise FramingError(
                offset + at,
                f"expected a frame header starting with \\r\\n, got {bytes(data[pos:end])[:2]!r}",
            )
        if at == 2 and ch not in _KINDS:
            raise FramingError(offset + at, f"unknown frame kind {bytes([ch])!r} (expected J or P)")
        if at >= 3 and ch not in _DIGITS:
            raise FramingError(offset + at, f"non-digit {bytes([ch])!r} in the frame header")


def _header(data: bytes | bytearray, pos: int, offset: int) -> tuple[str, int, int]:
    """Parse the complete 14-byte header at ``data[pos:]``; ``offset`` is its stream position."""
    match = _HEADER.match(data, pos)
    if match is None:
        _check(data, pos, offset)
        raise AssertionError("unreachable: _check rejects every header the pattern rejects")
    return match[1].decode(), int(match[2]), int(match[3])


def split_frames(data: bytes, base_offset: int = 0) -> list[tuple[str, int, bytes, int]]:
    """``(kind, mnum, payload, offset)`` of every frame of a complete body (a REST response).

    Raises:
        FramingError: a corrupt header, or data that ends inside a frame.
    """
    size = len(data)
    pos = 0
    out: list[tuple[str, int, bytes, int]] = []
    match = _HEADER.match
    while pos < size:
        found = match(data, pos)
        if found is None or size - pos < HEADER_SIZE:
            offset = base_offset + pos
            if size - pos < HEADER_SIZE:
                _check(data, pos, offset)
                raise FramingError(offset, f"truncated frame header ({size - pos} of 14 bytes)")
            _header(data, pos, offset)
        assert found is not None
        start = pos + HEADER_SIZE
        end = start + int(found[3])
        if end > size:
            raise FramingError(
                base_offset + pos,
                f"frame of {end - start} bytes is truncated: {size - start} present",
            )
        out.append((found[1].decode(), int(found[2]), data[start:end], base_offset + pos))
        pos = end
    return out


def iter_frames(data: bytes, base_offset: int = 0) -> Iterator[Frame]:
    """Every :class:`Frame` of a complete body; raises like :func:`split_frames`."""
    for kind, mnum, payload, offset in split_frames(data, base_offset):
        yield Frame(kind, mnum, payload, offset)


class FrameSplitter:
    """Incremental framing: feed chunks as they arrive, get complete frames back.

    Messages may be cut across chunks and a chunk may hold many. After a
    :class:`~srmlink.errors.FramingError` the splitter stops: the byte stream has lost its
    message boundaries and every later :meth:`feed` raises the same error (MLink frames carry
    no sync marker that would make resynchronising safe). Start a new splitter, normally on a
    new connection.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._consumed = 0
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet form a complete frame."""
        return len(self._buffer)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Frame]:
        """Add ``chunk``; return every frame it completes, in order."""
        return [Frame(*parts) for parts in self.feed_tuples(chunk)]

    def feed_tuples(
        self, chunk: bytes | bytearray | memoryview
    ) -> list[tuple[str, int, bytes, int]]:
        """:meth:`feed` as ``(kind, mnum, payload, offset)`` tuples (cheaper per message)."""
        if self._error is not None:
            raise self._error
        buffer = self._buffer
        buffer += chunk
        frames: list[tuple[str, int, bytes, int]] = []
        pos = 0
        size = len(buffer)
        try:
            while size - pos >= HEADER_SIZE:
                offset = self._consumed + pos
                kind, mnum, length = _header(buffer, pos, offset)
                end = pos + HEADER_SIZE + length
                if end > size:
                    break
                frames.append((kind, mnum, bytes(buffer[pos + HEADER_SIZE : end]), offset))
                pos = end
            # Reject garbage as soon as it arrives rather than when 14 bytes have piled up.
            _check(buffer, pos, self._consumed + pos)
        except FramingError as exc:
            self._error = exc
            raise
        finally:
            del buffer[:pos]
            self._consumed += pos
        return frames

    def close(self) -> None:
        """Declare the stream ended; raises if it ended inside a frame."""
        if self._error is not None:
            raise self._error
        if self._buffer:
            raise FramingError(
                self._consumed, f"stream ended inside a frame ({len(self._buffer)} bytes pending)"
            )


def encode_frame(kind: str, mnum: int, payload: bytes) -> bytes:
    """The 14-byte header and ``payload``.

    Raises:
        ValueError: ``kind`` is not J/P, or mNum / length do not fit their digits.
    """
    if kind not in ("J", "P"):
        raise ValueError(f"frame kind must be 'J' or 'P', not {kind!r}")
    if not 0 <= mnum <= MAX_MNUM:
        raise ValueError(f"mNum {mnum} does not fit the 5-digit frame header")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes does not fit the 6-digit length")
    return b"\r\n%b%05d%06d%b" % (kind.encode(), mnum, len(payload), payload)
