"""Fuzzing the framing layer and the framed decoders with valid, mutated and random input.

Every input goes to split_frames, a FrameSplitter fed in random chunks and a FrameDecoder
(alternately ``jsonf`` and ``proto``); the only exceptions allowed are the documented ones,
FramingError and DecodeError (srmlink.codec's docstring), and the three must agree: same
frames, same error offset. The bulk is a seeded mutation loop over real encoded streams
(cheap per input); hypothesis adds structure-aware payloads (protobuf wire format and JSON
envelopes of real message types). SRMLINK_FUZZ_INPUTS sets the loop's volume (default 100,000;
``nox -s fuzz`` runs ten times that), SRMLINK_FUZZ_SEED its seed.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from srmlink.codec import Encoding, FrameDecoder, decode, decode_envelopes
from srmlink.codec.protoc import proto_encoder
from srmlink.codec.values import parse_datetime, parse_timespan
from srmlink.errors import DecodeError, FramingError
from srmlink.framing import HEADER_SIZE, FrameSplitter, encode_frame, split_frames
from srmlink.keys import CallPut, ExpiryKey, OptionKey, TickerKey
from srmlink.message import FieldSpec, Message
from srmlink.registry import Registry

from .conftest import snapshot_registry
from .test_framing import RAW_FRAMES, sample_messages

DEFAULT_INPUTS = 100_000
FUZZ_INPUTS = int(os.environ.get("SRMLINK_FUZZ_INPUTS", DEFAULT_INPUTS))
FUZZ_SEED = int(os.environ.get("SRMLINK_FUZZ_SEED", "20260701"))
FrameTuple = tuple[str, int, bytes, int]


def examples(normal: int) -> int:
    """Hypothesis examples: moderate (the mutation loop carries the bulk), scaled with the
    volume so that ``nox -s fuzz`` runs ten times as many."""
    return max(10, normal * FUZZ_INPUTS // DEFAULT_INPUTS)


STRUCTURED = settings(
    max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def registry(staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, "2026-07")


# ---- the oracle: run one input through all three, compare --------------------------------------


@dataclass
class Outcome:
    """Totals over the inputs checked: frames split, messages decoded, errors raised."""

    frames: int = 0
    results: int = 0
    decode_errors: int = 0
    framing_errors: int = 0


def chunked(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` cut at 0-3 random places (an empty chunk is allowed)."""
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 3)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def check_stream(
    data: bytes, chunks: list[bytes], decoder: FrameDecoder, outcome: Outcome, envelopes: bool
) -> None:
    """Feed ``data`` (cut into ``chunks``) to every framing consumer and check they agree.

    Raises whatever undocumented exception a consumer raised.
    """
    try:
        frames: list[FrameTuple] | None = split_frames(data)
        error: int | None = None
    except FramingError as exc:
        frames, error = None, exc.offset
        assert 0 <= exc.offset <= len(data)
    if frames is not None:
        # Exactly the input, re-encoded: nothing skipped, nothing invented.
        assert b"".join(encode_frame(k, m, p) for k, m, p, _ in frames) == data

    splitter = FrameSplitter()
    got: list[FrameTuple] = []
    split_error: int | None = None
    try:
        for chunk in chunks:
            got += splitter.feed_tuples(chunk)
        splitter.close()
    except FramingError as exc:
        split_error = exc.offset
    assert split_error == error, (split_error, error)
    if frames is not None:
        assert got == frames
    else:
        # What came out before the error is a well-formed prefix of the stream.
        at = 0
        for kind, mnum, payload, offset in got:
            assert offset == at
            at += HEADER_SIZE + len(payload)
            assert data[offset:at] == encode_frame(kind, mnum, payload)
        assert error is not None and at <= error

    feed = decoder.feed_envelopes if envelopes else decoder.feed
    decoded = failed = 0
    decode_error: int | None = None
    feeds = iter(chunks)
    while decode_error is None:
        piece = next(feeds, None)
        try:
            # After the last chunk, empty feeds until one returns nothing: frames that wait
            # behind a DecodeError come out of the next feed.
            results = feed(b"" if piece is None else piece)
        except DecodeError:
            failed += 1
            continue
        except FramingError as exc:
            decode_error = exc.offset
            break
        decoded += len(results)
        if piece is None and not results:
            break
    if decode_error is None:
        try:
            decoder.close()
        except FramingError as exc:
            decode_error = exc.offset
    assert decode_error == error
    if frames is not None:
        # One result or one DecodeError per frame.
        assert decoded + failed == len(frames)
        outcome.frames += len(frames)
    else:
        outcome.framing_errors += 1
    outcome.results += decoded
    outcome.decode_errors += failed


def run_checked(
    data: bytes,
    chunks: list[bytes],
    decoder: FrameDecoder,
    outcome: Outcome,
    envelopes: bool = False,
) -> None:
    """check_stream, with the input attached to any failure so it can be replayed."""
    try:
        check_stream(data, chunks, decoder, outcome, envelopes)
    except Exception as exc:
        raise AssertionError(f"input {data!r}, chunks {[len(c) for c in chunks]}") from exc


# ---- a corpus of real encoded streams ----------------------------------------------------------

OKEY = OptionKey("EQT", "NMS", "AAPL", date(2026, 7, 17), 150.5, CallPut.CALL)
KEYS: dict[str, Any] = {
    "TickerKey": TickerKey("EQT", "NMS", "AAPL"),
    "ExpiryKey": ExpiryKey("FUT", "CME", "@ES", date(2026, 9, 18)),
    "OptionKey": OKEY,
}


def value_for(spec: FieldSpec, proto: bool, depth: int = 0) -> Any:
    """A plausible value for one field (every encoding in play can carry it)."""
    sr = spec.sr_type
    if sr in ("Float", "Double"):
        return 2.0
    if sr in ("Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong"):
        return 13  # 0x0D: a \r inside protobuf payloads
    if sr in ("String", "Text1", "Text2"):
        return "text\r\nP00001000000"
    if sr in ("Enum", "Flag") and spec.type is not None:
        usable = [m for m in spec.type if m.number and m.wire_name is not None]
        return usable[-1] if usable else None
    if sr == "DateTime":
        return datetime(2026, 7, 1, 9, 30, 0, 250000, tzinfo=UTC)
    if sr == "DateKey":
        return date(2026, 7, 17)
    if sr == "TimeSpan":
        return timedelta(hours=1, microseconds=5)
    if sr in KEYS:
        return KEYS[sr]
    if sr in ("Repeater", "PKey") and spec.type is not None and depth < 3:
        one = instance(spec.type, proto, depth + 1)
        return (one, one) if sr == "Repeater" else one
    return None


PLAIN = frozenset({"Float", "Double", "Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong"})


def instance(cls: Any, proto: bool, depth: int = 0) -> Any:
    """Every field of a non-numeric type and the first few numeric ones: each type of value
    is there, and the payloads stay small (decoding cost grows with the field count)."""
    fields = [f for f in cls.SPEC.fields if not proto or f.proto_number is not None]
    numeric = [f for f in fields if f.sr_type in PLAIN][:4]
    chosen = [f for f in fields if f.sr_type not in PLAIN or f in numeric]
    return cls(**{f.name: value_for(f, proto, depth) for f in chosen})


def corpus(registry: Registry) -> list[bytes]:
    """One frame per framed message type (framed JSON and protobuf) plus hand-made ones."""
    frames: list[bytes] = []
    for cls in registry:
        if cls.MSG_NUM is None:
            continue
        frames.append(encode_frame("J", cls.MSG_NUM, orjson.dumps(envelope(instance(cls, False)))))
        if cls.SPEC.origin != "dictionary":
            payload = proto_encoder(cls)(instance(cls, True))
            frames.append(encode_frame("P", cls.MSG_NUM, payload))
    for message in sample_messages(registry):
        assert message.MSG_NUM is not None
        frames.append(encode_frame("P", message.MSG_NUM, proto_encoder(type(message))(message)))
    # The mutations start from real messages: each of these decodes as its own type.
    decoded = decode_envelopes(b"".join(frames), "proto", registry=registry)
    assert [type(e.message).__name__ for e in decoded] == [
        registry.by_number(n).__name__ for _, n, _, _ in split_frames(b"".join(frames))
    ]
    return frames + [encode_frame(*f) for f in RAW_FRAMES]


def envelope(message: Message) -> dict[str, Any]:
    from srmlink.codec.jsonc import json_encoder  # noqa: PLC0415 - test-only helper

    return {
        "header": {"mTyp": message.MSG_NAME, "sTim": "2026-07-01 09:30:00.250000", "seqN": 7},
        "message": json_encoder(type(message))(message),
    }


# ---- mutations ----------------------------------------------------------------------------------

INTERESTING_BYTES = b'\x00\xff\r\n\x80JP09{}":,-[]'
JSON_VALUES = [
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1.5",
    b"-0.0",
    b"1e308",
    b"18446744073709551616",
    b"9223372036854775807",
    b"[]",
    b"{}",
    b'""',
    b'"Call"',
    b'"x|y"',
    b'"0001-01-01T00:00:00+01:00"',
    b'"9999-12-31T23:59:59-01:00"',
    b'"2026-02-30"',
    b'"99999999.00:00:00"',
    b'"-00:00:01.5"',
    b'"\\ud800"',
    b'{"at":"EQT","ts":"NMS","tk":"A","dt":"2026-07-17","xx":1e300,"cp":"Put"}',
    b'[{"msgName":1}]',
]


class Mutator:
    """Seeded mutations of encoded streams: bytes, headers and payloads."""

    def __init__(self, rng: random.Random, frames: list[bytes], numbers: list[int]) -> None:
        self.rng = rng
        self.frames = frames
        self.numbers = numbers

    def stream(self) -> bytes:
        return b"".join(self.rng.choices(self.frames, k=self.rng.randint(1, 3)))

    def __call__(self) -> bytes:
        rng = self.rng
        data = self.stream()
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            data = rng.choice(self.OPERATORS)(self, data)
        return data

    def flip_bits(self, data: bytes) -> bytes:
        if not data:
            return data
        out = bytearray(data)
        for _ in range(self.rng.randint(1, 4)):
            i = self.rng.randrange(len(out))
            out[i] ^= 1 << self.rng.randrange(8)
        return bytes(out)

    def set_byte(self, data: bytes) -> bytes:
        if not data:
            return data
        i = self.rng.randrange(len(data))
        return data[:i] + bytes([self.rng.choice(INTERESTING_BYTES)]) + data[i + 1 :]

    def truncate(self, data: bytes) -> bytes:
        return data[: self.rng.randint(0, len(data))]

    def delete(self, data: bytes) -> bytes:
        i = self.rng.randint(0, len(data))
        return data[:i] + data[i + self.rng.randint(1, 20) :]

    def insert(self, data: bytes) -> bytes:
        i = self.rng.randint(0, len(data))
        rng = self.rng
        piece = rng.choice(
            (
                rng.randbytes(rng.randint(1, 16)),
                b"\r\n",
                b"\r\n%b%05d%06d" % (rng.choice((b"J", b"P")), rng.choice(self.numbers), 0),
                rng.choice(self.frames),
            )
        )
        return data[:i] + piece + data[i:]

    def duplicate(self, data: bytes) -> bytes:
        i = self.rng.randint(0, len(data))
        j = self.rng.randint(i, len(data))
        return data[:j] + data[i:j] + data[j:]

    def splice(self, data: bytes) -> bytes:
        other = self.stream()
        return data[: self.rng.randint(0, len(data))] + other[self.rng.randint(0, len(other)) :]

    def _reframe(
        self, data: bytes, change: Callable[[str, int, bytes], tuple[int, bytes]]
    ) -> bytes:
        """Change one frame's mNum / payload and write it back with a correct length."""
        try:
            frames = split_frames(data)
        except FramingError:
            return data
        if not frames:
            return data
        pick = self.rng.randrange(len(frames))
        out = []
        for n, (kind, mnum, payload, _) in enumerate(frames):
            number, body = change(kind, mnum, payload) if n == pick else (mnum, payload)
            out.append(encode_frame(kind, number, body[:999_999]))
        return b"".join(out)

    def retype(self, data: bytes) -> bytes:
        # Another message type's number: a payload decoded as the wrong class.
        return self._reframe(data, lambda k, m, p: (self.rng.choice(self.numbers), p))

    def mutate_payload(self, data: bytes) -> bytes:
        # Bytes-level change of one payload, re-framed so that it reaches the decoder.
        return self._reframe(data, lambda k, m, p: (m, self.flip_bits(self.set_byte(p))))

    def json_value(self, data: bytes) -> bytes:
        # Replace the value after one ':' of a JSON payload with an awkward one.
        def change(kind: str, mnum: int, payload: bytes) -> tuple[int, bytes]:
            colon = payload.find(b":", self.rng.randint(0, len(payload)))
            if kind != "J" or colon < 0:
                return mnum, payload
            i = colon + 1
            end = i
            while end < len(payload) and payload[end] not in b",}]":
                end += 1
            return mnum, payload[:i] + self.rng.choice(JSON_VALUES) + payload[end:]

        return self._reframe(data, change)

    def length(self, data: bytes) -> bytes:
        # A frame header's length digits off by a little (or a lot).
        i = data.find(b"\r\n", self.rng.randint(0, len(data)))
        if i < 0 or not data[i + 8 : i + 14].isdigit():
            return data
        value = int(data[i + 8 : i + 14]) + self.rng.choice((-2, -1, 1, 2, 10, -10, 999))
        return data[: i + 8] + b"%06d" % max(0, min(value, 999_999)) + data[i + 14 :]

    OPERATORS: tuple[Callable[[Mutator, bytes], bytes], ...] = (
        flip_bits,
        set_byte,
        truncate,
        delete,
        insert,
        duplicate,
        splice,
        retype,
        retype,
        mutate_payload,
        mutate_payload,
        json_value,
        json_value,
        json_value,
        length,
    )


# 100,000 streams took 127 s on a loaded 2-core machine (1.3 ms each): allow 6 ms a stream.
@pytest.mark.timeout(max(600, FUZZ_INPUTS * 6 // 1000))
def test_mutated_streams(registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(FUZZ_SEED)
    frames = corpus(registry)
    numbers = sorted({e.number for e in registry.entries() if e.number is not None})
    mutate = Mutator(rng, frames, [*numbers, 0, 1, 99_999])
    outcome = Outcome()
    encodings: tuple[Encoding, Encoding] = ("jsonf", "proto")
    count = 0
    started = time.perf_counter()
    for n in range(FUZZ_INPUTS):
        data = mutate() if n % 10 else mutate.stream()  # every tenth stream left intact
        decoder = FrameDecoder(encodings[n % 2], registry=registry)
        run_checked(data, chunked(data, rng), decoder, outcome, envelopes=n % 4 > 1)
        count += 1
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n[fuzz] {count} streams in {elapsed:.1f}s (seed {FUZZ_SEED}): "
            f"{outcome.frames} frames in streams that split cleanly, {outcome.results} "
            f"results, {outcome.decode_errors} DecodeErrors, {outcome.framing_errors} "
            "FramingErrors"
        )
    assert count == FUZZ_INPUTS
    assert count >= 100_000 or "SRMLINK_FUZZ_INPUTS" in os.environ
    # The mix reaches every outcome in bulk, not just one of them.
    assert min(outcome.frames, outcome.decode_errors, outcome.framing_errors) > count // 100


# ---- hypothesis: random bytes, random frames, structured payloads -------------------------------

HEADERS = st.builds(
    lambda kind, mnum, length: b"\r\n%b%05d%06d" % (kind, mnum, length),
    st.sampled_from([b"J", b"P"]),
    st.integers(0, 99_999),
    st.integers(0, 64),
)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=64),
        st.builds(bytes.__add__, HEADERS, st.binary(max_size=80)),
        st.lists(st.one_of(HEADERS, st.binary(max_size=20)), max_size=6).map(b"".join),
    ),
    seed=st.integers(0, 2**32),
)
def test_random_bytes(data: bytes, seed: int, registry: Registry) -> None:
    rng = random.Random(seed)
    for encoding in ("jsonf", "proto"):
        run_checked(data, chunked(data, rng), FrameDecoder(encoding, registry=registry), Outcome())


@functools.cache
def frames_of(registry: Registry) -> st.SearchStrategy[list[tuple[str, int, bytes]]]:
    """Lists of frames with random payloads, mostly under the registry's message numbers."""
    numbers = sorted({e.number for e in registry.entries() if e.number is not None})
    return st.lists(
        st.tuples(
            st.sampled_from(["J", "P"]),
            st.one_of(st.sampled_from(numbers), st.integers(0, 99_999)),
            st.binary(max_size=60),
        ),
        max_size=6,
    )


@STRUCTURED
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_random_frames_split_exactly(data: st.DataObject, seed: int, registry: Registry) -> None:
    frames = data.draw(frames_of(registry))
    body = b"".join(encode_frame(*f) for f in frames)
    expected = []
    offset = 0
    for kind, mnum, payload in frames:
        expected.append((kind, mnum, payload, offset))
        offset += HEADER_SIZE + len(payload)
    assert split_frames(body) == expected
    rng = random.Random(seed)
    outcome = Outcome()
    run_checked(body, chunked(body, rng), FrameDecoder("proto", registry=registry), outcome)
    assert outcome.frames == len(frames)


@functools.cache
def framed_classes(registry: Registry, proto: bool) -> list[type[Message]]:
    """The message types that travel framed (protobuf ones only with ``proto``)."""
    return [
        c
        for c in registry
        if c.MSG_NUM is not None and not (proto and c.SPEC.origin == "dictionary")
    ]


# Protobuf wire format, for real message types: the declared field numbers with values of any
# wire type, nested messages built the same way (keys, Timestamp, Duration, groups).


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


INT64 = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, 1, -1, 2**31, -(2**31), 2**63 - 1, -(2**63), 253402300800, -62135596801]),
)
# Mostly small: enum numbers, key parts and dates that are valid, so decoding gets past the
# primary key to the fields after it.
SMALL = st.one_of(st.integers(0, 40), st.integers(0, 40), INT64)
VALID = st.integers(1, 3)  # a known asset type, ticker source, call / put
PART = st.one_of(VALID, VALID, SMALL)
SYMBOL = st.one_of(
    st.sampled_from([b"AAPL", b"@ES", b"SPX_", b"#SPX1a2b"]), st.text(max_size=8).map(str.encode)
)
YEAR = st.one_of(st.integers(1990, 2100), st.integers(1990, 2100), INT64)
# Field layouts of the nested messages: field number -> strategy of its value (wire type by
# strategy: ints are varints, bytes length-delimited, floats 64-bit).
NESTED: dict[str, dict[int, Any]] = {
    "Timestamp": {1: INT64, 2: SMALL | st.integers(0, 999_999_999)},
    "Duration": {1: INT64, 2: SMALL | st.integers(-999_999_999, 999_999_999)},
    "DateKey": {1: YEAR, 2: st.integers(1, 12) | SMALL, 3: st.integers(1, 28) | SMALL},
    "TickerKey": {1: PART, 2: PART, 3: SYMBOL},
    "ExpiryKey": {1: PART, 2: PART, 3: SYMBOL, 4: "DateKey"},
    "OptionKey": {1: PART, 2: PART, 3: SYMBOL, 4: "DateKey", 5: st.floats(), 6: PART},
}


def tagged(number: int, wire: int, body: bytes) -> bytes:
    return varint(number << 3 | wire) + body


def delimited(number: int, body: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return body.map(lambda b: tagged(number, 2, varint(len(b)) + b))


def wire_value(number: int, what: Any, depth: int) -> st.SearchStrategy[bytes]:
    """One field occurrence, of its own wire type."""
    if isinstance(what, type):
        right = delimited(number, message_payload(what, depth + 1))
    elif isinstance(what, str) and what in NESTED:
        right = delimited(number, nested_payload(what, depth + 1))
    elif what == "text":
        right = delimited(number, st.text(max_size=8).map(str.encode))
    elif what == "double":
        right = st.floats(width=64).map(lambda x: tagged(number, 1, struct.pack("<d", x)))
    elif what == "float":
        right = st.floats(width=32).map(lambda x: tagged(number, 5, struct.pack("<f", x)))
    elif what == "int":
        right = SMALL.map(lambda v: tagged(number, 0, varint(v)))
    else:  # a value strategy of a nested layout
        right = what.map(lambda v: encoded(number, v))
    return right


def stray(number: int) -> st.SearchStrategy[bytes]:
    """Field ``number`` with a value of any wire type (and any bytes when length-delimited)."""
    return st.one_of(
        INT64.map(lambda v: tagged(number, 0, varint(v))),
        st.binary(min_size=8, max_size=8).map(lambda b: tagged(number, 1, b)),
        st.binary(min_size=4, max_size=4).map(lambda b: tagged(number, 5, b)),
        delimited(number, st.binary(max_size=12)),
    )


def encoded(number: int, value: int | float | bytes) -> bytes:
    """A field by its value's type: varint, 64-bit float or length-delimited bytes."""
    if isinstance(value, bytes):
        return tagged(number, 2, varint(len(value)) + value)
    if isinstance(value, float):
        return tagged(number, 1, struct.pack("<d", value))
    return tagged(number, 0, varint(value))


@functools.cache  # one strategy object per type: hypothesis reuses its analysis
def nested_payload(kind: str, depth: int) -> st.SearchStrategy[bytes]:
    parts = [wire_value(n, what, depth) for n, what in NESTED[kind].items()]
    return st.lists(st.one_of(parts), max_size=6).map(b"".join)


def field_kind(spec: FieldSpec) -> Any:
    if spec.sr_type in ("Repeater", "PKey") and spec.type is not None:
        return spec.type
    if spec.proto_type in NESTED:
        return spec.proto_type
    return {"string": "text", "double": "double", "float": "float"}.get(
        spec.proto_type or "", "int"
    )


@functools.cache  # one strategy object per type: hypothesis reuses its analysis
def message_payload(cls: Any, depth: int = 0) -> st.SearchStrategy[bytes]:
    """Protobuf payloads of ``cls``: some of its nested fields (keys, times, groups) and some
    of its scalars, drawn separately so that big messages still get their nested ones."""
    fields = [f for f in cls.SPEC.fields if f.proto_number is not None]
    if depth > 3 or not fields:
        return st.binary(max_size=8)
    kinds = [(f.proto_number, field_kind(f)) for f in fields]
    nested = [
        wire_value(n, k, depth) for n, k in kinds if k not in ("int", "text", "float", "double")
    ]
    plain = [wire_value(n, k, depth) for n, k in kinds if k in ("int", "text", "float", "double")]
    groups = [st.lists(st.one_of(parts), max_size=6) for parts in (nested, plain) if parts]
    # Now and then one field of any wire type (or a string of any bytes), anywhere: mostly
    # that fails the whole message, so not in every one.
    numbers = [n for n, _ in kinds] + [1, 99, 536_870_911]  # and unknown ones
    extra = st.one_of(*[st.just(b"")] * 4, st.sampled_from(numbers).flatmap(stray))
    return st.tuples(extra, *groups).map(
        lambda parts: b"".join(p if isinstance(p, bytes) else b"".join(p) for p in parts)
    )


@STRUCTURED
@given(data=st.data())
def test_structured_protobuf_payloads(data: st.DataObject, registry: Registry) -> None:
    cls: Any = data.draw(st.sampled_from(framed_classes(registry, proto=True)), label="class")
    payload = data.draw(message_payload(cls), label="payload")
    assert cls.MSG_NUM is not None
    body = encode_frame("P", cls.MSG_NUM, payload) * 2
    outcome = Outcome()
    run_checked(body, [body[:20], body[20:]], FrameDecoder("proto", registry=registry), outcome)
    assert outcome.frames == 2
    try:
        decode_envelopes(body, "proto", registry=registry)
    except DecodeError as exc:
        assert exc.message_type == cls.MSG_NAME and exc.offset == 0


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-07-01 09:30:00.250000",
            "2026-02-30",
            "99999999.00:00:00",
            "1.02:03:04.5",
            "PrcChange",
            "Call",
            "EQT",
        ]
    ),
)
JSON_VALUES_ST = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@functools.cache  # one strategy object per type: hypothesis reuses its analysis
def json_members(cls: Any, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Members of a JSON message object: the class's wire names with awkward values."""
    members: dict[str, st.SearchStrategy[Any]] = {}
    for f in cls.SPEC.fields:
        if f.sr_type in ("Repeater", "PKey") and f.type is not None and depth < 3:
            inner = json_members(f.type, depth + 1)
            value = st.lists(inner, max_size=2) if f.sr_type == "Repeater" else inner
            members[f.wire_name] = value | JSON_VALUES_ST
        elif f.sr_type in KEYS:
            key = st.fixed_dictionaries(
                {m: JSON_SCALARS for m in ("at", "ts", "tk", "dt", "xx", "cp")}
            )
            members[f.wire_name] = st.just(KEYS[f.sr_type].to_json()) | key | JSON_VALUES_ST
        else:
            members[f.wire_name] = JSON_VALUES_ST
    if not members:
        return st.just({})
    return st.dictionaries(st.sampled_from(sorted(members)), st.none(), max_size=6).flatmap(
        lambda chosen: st.fixed_dictionaries({k: members[k] for k in chosen})
    )


@STRUCTURED
@given(data=st.data())
def test_structured_json_envelopes(data: st.DataObject, registry: Registry) -> None:
    cls: Any = data.draw(st.sampled_from(framed_classes(registry, proto=False)), label="class")
    header = data.draw(
        st.fixed_dictionaries(
            {"mTyp": st.just(cls.MSG_NAME)},
            optional={"sTim": JSON_SCALARS, "encT": JSON_SCALARS, "seqN": JSON_SCALARS},
        ),
        label="header",
    )
    message = data.draw(json_members(cls), label="message")
    payload = orjson.dumps({"header": header, "message": message})
    assert cls.MSG_NUM is not None
    body = encode_frame("J", cls.MSG_NUM, payload)
    outcome = Outcome()
    run_checked(body, [body], FrameDecoder("jsonf", registry=registry), outcome, envelopes=True)
    assert outcome.frames == 1
    for target in (decode, decode_envelopes):
        try:
            target(body, "jsonf", registry=registry)
        except DecodeError as exc:
            assert exc.offset is not None and exc.offset >= 0


# ---- what the fuzzing found ---------------------------------------------------------------------
# Each of these escaped as OverflowError (not a documented error) before the fix in
# codec/values.py (parse_datetime / parse_timespan) and codec/protoc.py (proto_decoder).


def timestamp(number: int, seconds: int) -> bytes:
    return encoded(number, tagged(1, 0, varint(seconds)))


def envelope_bytes(name: str, message: dict[str, Any], **header: Any) -> bytes:
    return orjson.dumps({"header": {"mTyp": name, **header}, "message": message})


def proto_case(name: str, mnum: int, field: int, seconds: int, label: str) -> Any:
    """A Timestamp / Duration field (their seconds are field 1) of message ``name``."""
    return pytest.param("P", mnum, timestamp(field, seconds), name, None, id=label)


def json_case(name: str, mnum: int, member: str, value: object, label: str) -> Any:
    return pytest.param("J", mnum, envelope_bytes(name, {member: value}), name, member, id=label)


OVERFLOWS = [
    proto_case("OptionPrint", 2800, 202, 10**15, "proto-timestamp-1e15s"),
    proto_case("OptionPrint", 2800, 202, -62135596801, "proto-timestamp-before-year-1"),
    proto_case("LiveSurfaceCurve", 1035, 517, 10**15, "proto-duration-1e15s"),
    # An offset that moves the time out of datetime's range once converted to UTC.
    json_case(
        "OptionPrint", 2800, "timestamp", "0001-01-01T00:00:00+01:00", "json-datetime-year-0"
    ),
    json_case(
        "OptionPrint", 2800, "timestamp", "9999-12-31T23:59:59-01:00", "json-datetime-year-10000"
    ),
    json_case("LiveSurfaceCurve", 1035, "time", "99999999999.00:00:00", "json-timespan-days"),
    json_case("LiveSurfaceCurve", 1035, "time", 1e300, "json-timespan-seconds"),
]


@pytest.mark.parametrize(("kind", "mnum", "payload", "message_type", "field"), OVERFLOWS)
def test_out_of_range_times_are_decode_errors(
    kind: str, mnum: int, payload: bytes, message_type: str, field: str | None, registry: Registry
) -> None:
    first = encode_frame("J", 3445, envelope_bytes("QueryResult", {}))
    body = first + encode_frame(kind, mnum, payload)
    encoding: Encoding = "jsonf" if kind == "J" else "proto"
    with pytest.raises(DecodeError) as caught:
        decode(body, encoding, registry=registry)
    error = caught.value
    assert (error.message_type, error.field, error.offset) == (message_type, field, len(first))
    # Incrementally: the message before it comes out, the error on the next feed, then on.
    decoder = FrameDecoder(encoding, registry=registry)
    assert decoder.feed(body) == [registry.by_name("QueryResult")()]
    with pytest.raises(DecodeError):
        decoder.feed(b"")
    assert decoder.feed(b"") == []
    decoder.close()


def test_out_of_range_header_time_is_a_decode_error(registry: Registry) -> None:
    payload = envelope_bytes("QueryResult", {}, sTim="0001-01-01T00:00:00+01:00")
    with pytest.raises(DecodeError) as caught:
        decode_envelopes(encode_frame("J", 3445, payload), "jsonf", registry=registry)
    assert (caught.value.field, caught.value.offset) == ("header.sTim", 0)


def test_time_parsers_raise_value_error_as_documented() -> None:
    for text in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01"):
        with pytest.raises(ValueError, match="out of range"):
            parse_datetime(text)
    for value in ("999999999999.00:00:00", -1e300, 10**20):
        with pytest.raises(ValueError, match="out of range"):
            parse_timespan(value)
