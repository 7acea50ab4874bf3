"""Fuzzed re-encoding (issue 10): whatever a decoder accepts, every encoder either encodes, and
the result decodes again, or refuses with an EncodeError. Before the wire ranges, re-encoding
decoded fuzz input raised ``TypeError: Integer exceeds 64-bit range`` 1,260 times in 220,000
cases.

The inputs are streams mutated as test_framing_fuzz mutates them (another seed), from a lighter
corpus: one frame per message type and encoding with a few fields of each kind, so that the
mutations land on values often and a case costs little. A case is one decoded message
re-encoded in one encoding; SRMLINK_FUZZ_INPUTS sets their number (default 100,000;
``nox -s fuzz`` runs ten times that).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from srmlink.codec import Encoding, FrameDecoder, UnknownMessage, encode
from srmlink.codec.protoc import proto_encoder
from srmlink.errors import DecodeError, EncodeError, FramingError
from srmlink.framing import encode_frame
from srmlink.message import Message
from srmlink.registry import Registry

from .conftest import snapshot_registry
from .test_framing_fuzz import FUZZ_INPUTS, FUZZ_SEED, Mutator, envelope, value_for


@pytest.fixture(scope="module")
def registry(staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, "2026-07")


def light(cls: Any, proto: bool, depth: int = 0) -> Any:
    """An instance with at most two fields of each SpiderRock type (and a one-element
    repeater one level deep)."""
    chosen: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for f in cls.SPEC.fields:
        if (proto and f.proto_number is None) or seen.get(f.sr_type, 0) >= 2:
            continue
        seen[f.sr_type] = seen.get(f.sr_type, 0) + 1
        if f.sr_type == "Repeater" and f.type is not None:
            chosen[f.name] = (light(f.type, proto, depth + 1),) if depth < 1 else None
        elif f.sr_type == "PKey" and f.type is not None:
            chosen[f.name] = light(f.type, proto, depth + 1)
        else:
            chosen[f.name] = value_for(f, proto)
    return cls(**chosen)


def light_corpus(registry: Registry) -> list[bytes]:
    frames = []
    for cls in registry:
        if cls.MSG_NUM is None:
            continue
        payload = orjson.dumps(envelope(light(cls, False)))
        frames.append(encode_frame("J", cls.MSG_NUM, payload))
        if cls.SPEC.origin != "dictionary":
            frames.append(encode_frame("P", cls.MSG_NUM, proto_encoder(cls)(light(cls, True))))
    return frames


def decoded_messages(data: bytes, encoding: Encoding, registry: Registry) -> list[Message]:
    """Every message of ``data`` that decodes (a DecodeError skips one frame)."""
    decoder = FrameDecoder(encoding, registry=registry)
    out: list[Message] = []
    chunk = data
    while True:
        try:
            got = decoder.feed(chunk)
        except DecodeError:
            chunk = b""
            continue
        except FramingError:
            return out
        out += [m for m in got if not isinstance(m, UnknownMessage)]
        if not got and not chunk:
            return out
        chunk = b""


def encodings_of(message: Message) -> tuple[Encoding, ...]:
    framed: tuple[Encoding, ...] = ("jsonf",) if message.MSG_NUM is not None else ()
    proto: tuple[Encoding, ...] = (
        ("proto",) if framed and message.SPEC.origin != "dictionary" else ()
    )
    return ("json", *framed, *proto)


def test_decoded_fuzz_input_reencodes_or_raises_encode_error(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(FUZZ_SEED + 1)
    numbers = sorted({e.number for e in registry.entries() if e.number is not None})
    mutate = Mutator(rng, light_corpus(registry), [*numbers, 0, 1, 99_999])
    sources: tuple[Encoding, Encoding] = ("jsonf", "proto")
    # One decoder per encoding for the re-decodes: each body is complete, so none carries over.
    readers = {e: FrameDecoder(e, registry=registry) for e in ("json", "jsonf", "proto")}
    cases = messages = refused = streams = 0
    started = time.perf_counter()
    while cases < FUZZ_INPUTS:
        data = mutate()
        streams += 1
        for message in decoded_messages(data, sources[streams % 2], registry):
            messages += 1
            for encoding in encodings_of(message):
                cases += 1
                try:
                    body = encode([message], encoding)
                except EncodeError as exc:
                    assert exc.message_type == message.MSG_NAME, exc
                    refused += 1
                    continue
                except Exception as exc:
                    raise AssertionError(f"{encoding} of {message!r} from {data!r}") from exc
                # What an encoder writes, its decoder reads (else one poisoned record stored
                # through one encoding breaks every reader of another).
                (back,) = readers[encoding].feed(body)
                assert type(back) is type(message)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n[fuzz re-encode] {cases} re-encodings of {messages} messages decoded from "
            f"{streams} streams in {elapsed:.1f}s (seed {FUZZ_SEED + 1}): {refused} EncodeErrors"
        )
    # Both outcomes occur in bulk: the mutations reach values no encoder may write.
    assert cases - refused > cases // 2 and refused > cases // 1000
