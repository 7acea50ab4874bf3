"""Round trips of every generated message type through all three encodings.

Hypothesis strategies are derived from each class's ``SPEC`` (the reconciled IR), so every
message type of whatever schema is installed (or staged on PYTHONPATH) is covered. Run by
``tests/test_roundtrip.py`` once per schema snapshot, each in its own interpreter, since the
generated package has one fixed import name.
"""

from __future__ import annotations

import json
import struct
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from srmlink import CallPut, ExpiryKey, OptionKey, TickerKey
from srmlink.codec import decode, encode
from srmlink.codec.limits import PROTO_INTS, int_range
from srmlink.codec.protoc import proto_decoder, proto_encoder
from srmlink.message import FieldSpec, Message, MessageSpec
from srmlink.messages import registry

# Known names only: the protobuf form needs their numbers.
_ASSET_TYPES = ("EQT", "IDX", "FUT", "SYN", "FLX", "SPD")
_SOURCES = ("NMS", "CME", "ICE", "CFE", "NYMEX", "OTC", "ARCA")
_SYMBOLS = st.one_of(
    st.sampled_from(["AAPL", "@CL", "#SPX1a2b", "_SPX", "SPX_", "2SPX", "BRK.B"]),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.@#_", min_size=1, max_size=8),
)


def _float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _floats(sr_type: str, proto_type: str | None) -> st.SearchStrategy[float]:
    if proto_type == "float":
        return st.floats(width=32, allow_nan=False, allow_infinity=False).map(_float32)
    if proto_type in PROTO_INTS:
        low, high = PROTO_INTS[proto_type]
        return st.integers(max(low, -(2**53)), min(high, 2**53)).map(float)
    if sr_type == "Float":  # 32 bits wide on every wire
        return st.floats(width=32, allow_nan=False, allow_infinity=False)
    return st.floats(allow_nan=False, allow_infinity=False)


def _keys(kind: str) -> st.SearchStrategy[Any]:
    head = (st.sampled_from(_ASSET_TYPES), st.sampled_from(_SOURCES), _SYMBOLS)
    if kind == "TickerKey":
        return st.builds(TickerKey, *head)
    expiry = st.dates(date(1990, 1, 1), date(2100, 12, 31))
    if kind == "ExpiryKey":
        return st.builds(ExpiryKey, *head, expiry)
    strike = st.floats(0, 1e6, allow_nan=False, allow_infinity=False)
    return st.builds(OptionKey, *head, expiry, strike, st.sampled_from(list(CallPut)))


def _enums(enum: Any, *, proto: bool) -> st.SearchStrategy[Any]:
    """Known members, and values of a newer schema: unknown numbers (which JSON carries as
    numbers) and, where protobuf is not in play, unknown names."""
    members = [m for m in enum if m.wire_name is not None and m.number is not None]
    known = st.sampled_from(members) if members else st.nothing()
    numbers = st.integers(1000, 2**31 - 1).map(enum.from_number)
    if proto:
        return known | numbers
    names = st.from_regex(r"Zq[A-Za-z]{1,8}", fullmatch=True).map(enum.from_wire)
    return known | numbers | names


def value_strategy(spec: FieldSpec, *, proto: bool) -> st.SearchStrategy[Any]:
    """Values of one field that every encoding in play can carry exactly."""
    sr = spec.sr_type
    # A field that has a protobuf type keeps to its range even on JSON: whatever one
    # encoding decodes, every encoding must be able to carry.
    if sr in ("Float", "Double"):
        return _floats(sr, spec.proto_type)
    bounds = int_range(spec)
    if bounds is not None:
        return st.integers(*bounds)
    if sr in ("String", "Text1", "Text2"):
        return st.text(max_size=12)
    if sr in ("Enum", "Flag") and spec.type is not None:
        return _enums(spec.type, proto=proto)
    if sr == "DateTime":
        return st.datetimes(datetime(1970, 1, 2), datetime(2200, 1, 1)).map(
            lambda d: d.replace(tzinfo=UTC)
        )
    if sr == "DateKey":
        return st.dates(date(1900, 1, 1), date(2200, 12, 31))
    if sr == "TimeSpan":
        return st.timedeltas(timedelta(days=-30), timedelta(days=30))
    if sr in ("TickerKey", "ExpiryKey", "OptionKey"):
        return _keys(sr)
    if sr == "Repeater" and spec.type is not None:
        # min_size 1: protobuf cannot tell an empty list from an absent one.
        return st.lists(instances(spec.type, proto=proto), min_size=1, max_size=3).map(tuple)
    if sr == "PKey" and spec.type is not None:
        return instances(spec.type, proto=proto, complete=True)
    raise TypeError(f"no strategy for {sr}")


def _carried(spec: FieldSpec, proto: bool) -> bool:
    return not proto or spec.proto_number is not None


def instances(cls: type, *, proto: bool, complete: bool = False) -> st.SearchStrategy[Any]:
    """Instances of a generated class with a random subset of its fields set."""
    msg_spec: MessageSpec = cls.SPEC  # type: ignore[attr-defined]
    fields = {}
    for f in msg_spec.fields:
        if not _carried(f, proto):
            continue
        value = value_strategy(f, proto=proto)
        fields[f.name] = value if complete else st.none() | value
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


def _via_protobuf_payload(message: Message) -> Message:
    """Protobuf without framing, for message types that have no number to frame with."""
    cls = type(message)
    return proto_decoder(cls)(proto_encoder(cls)(message))  # type: ignore[no-any-return]


_SMALL = 12  # fields


def _check(cls: type[Message], encodings: tuple[str, ...], examples: int) -> None:
    proto = "proto" in encodings or "protobuf-payload" in encodings

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(instances(cls, proto=proto))
    def roundtrip(message: Message) -> None:
        decoded = {}
        for encoding in encodings:
            if encoding == "protobuf-payload":
                back = _via_protobuf_payload(message)
            else:
                (back,) = decode(encode([message], encoding), encoding)  # type: ignore[arg-type]
            assert back == message, (encoding, message, back)
            decoded[encoding] = back
        if "proto" in decoded:
            # The JSON and protobuf decodes of the same record are equal.
            assert decoded["json"] == decoded["proto"]

    roundtrip()


def main(examples: int = 10) -> None:
    """Round-trip every defined message type; print the coverage report as JSON."""
    report: dict[str, Any] = {
        "json": 0,
        "jsonf": 0,
        "proto": 0,
        "protobuf-payload": 0,
        "not_proto": {},
        "not_framed": {},
        "types": 0,
    }
    # Every class first: hypothesis draws constants from the source of the local modules
    # loaded (the generated ones included) and recomputes its cache of them whenever a new one
    # appears; importing the modules one by one as the loop reaches them made it do so ~300 times.
    classes = list(registry)
    for cls in classes:
        report["types"] += 1
        encodings: tuple[str, ...] = ("json",)
        if cls.MSG_NUM is None:
            report["not_framed"][cls.MSG_NAME] = "the schema gives no message number"
        else:
            encodings += ("jsonf",)
        if cls.SPEC.origin == "dictionary":
            report["not_proto"][cls.MSG_NAME] = "defined only by the data dictionary (JSON only)"
        elif cls.MSG_NUM is not None:
            encodings += ("proto",)
        else:
            encodings += ("protobuf-payload",)
        # Small types cost little per example: they get more.
        _check(cls, encodings, examples * (3 if len(cls.SPEC.fields) <= _SMALL else 1))
        for encoding in encodings:
            report[encoding] += 1
        if "proto" in encodings and any(f.proto_number is None for f in cls.SPEC.fields):
            # JSON-only fields of a protobuf message: their own JSON round trip.
            _check(cls, ("json",), max(2, examples // 4))
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
