"""Wire ranges (issue 10, "data that poisons"): decoders reject values outside a field's range
with a DecodeError naming the message type, field and offset; encoders raise only EncodeError,
naming the message type and field, for anything that cannot travel (so that what one encoding
stores, every encoding can serve)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from srmlink.codec import Encoding, decode, encode, encode_message
from srmlink.codec._compile import compile_encoder
from srmlink.codec.limits import MAX_ITEMS
from srmlink.codec.protoc import proto_decoder, proto_encoder
from srmlink.errors import DecodeError, EncodeError
from srmlink.framing import MAX_PAYLOAD, encode_frame
from srmlink.keys import CallPut, OptionKey
from srmlink.message import Message
from srmlink.registry import Registry

from .conftest import snapshot_registry
from .test_framing_fuzz import varint

ENCODINGS: tuple[Encoding, ...] = ("json", "jsonf", "proto")
OKEY = OptionKey("EQT", "NMS", "AAPL", date(2026, 7, 17), 150.5, CallPut.CALL)


@pytest.fixture(scope="module")
def registry(staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, "2026-07")


def quote(registry: Registry, **fields: Any) -> Message:
    cls: Any = registry.by_name("OptionNbboQuote")
    pkey = cls.SPEC.field("pkey").type(okey=OKEY)
    return cls(pkey=pkey, **fields)  # type: ignore[no-any-return]


def encode_error(message: Message, encoding: Encoding) -> EncodeError:
    with pytest.raises(EncodeError) as caught:
        encode([message], encoding)
    return caught.value


# ---- encoders -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("field", "wire", "value"),
    [
        ("bid_size", "bidSize", 2**64),  # the poison post of issue 10
        ("bid_size", "bidSize", 2**31),  # Int: 32 bits
        ("bid_size", "bidSize", -(2**31) - 1),
        ("bid_mask", "bidMask", 2**32),  # UInt, though int64 on the protobuf wire
        ("bid_mask", "bidMask", -1),
        ("bid_size", "bidSize", "10"),
        ("bid_size", "bidSize", True),
        ("bid_price", "bidPrice", 1e300),  # Float: beyond float32, protobuf would make it inf
        ("bid_price", "bidPrice", "1.5"),
        ("update_type", "updateType", "PrcChange"),  # a string, not the enum member
    ],
)
def test_encoders_name_the_field_of_a_value_out_of_range(
    registry: Registry, encoding: Encoding, field: str, wire: str, value: object
) -> None:
    error = encode_error(quote(registry, **{field: value}), encoding)
    assert (error.message_type, error.field) == ("OptionNbboQuote", wire)
    assert f"message OptionNbboQuote field {wire}" in str(error)


def test_the_edges_of_a_range_encode(registry: Registry) -> None:
    message = quote(registry, bid_size=-(2**31), ask_size=2**31 - 1, bid_mask=2**32 - 1)
    for encoding in ENCODINGS:
        assert decode(encode([message], encoding), encoding, registry=registry) == [message]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_json_cannot_carry_nan_or_infinity_protobuf_can(registry: Registry, value: float) -> None:
    message = quote(registry, bid_price=value)
    for encoding in ("json", "jsonf"):
        assert encode_error(message, encoding).field == "bidPrice"
    ((back,),) = [decode(encode([message], "proto"), "proto", registry=registry)]
    assert back.bid_price == value or (math.isnan(value) and math.isnan(back.bid_price))


def test_a_byte_sent_as_int32_keeps_to_a_byte(registry: Registry) -> None:
    # The protobuf runtime accepts 300 for int32; the field is a Byte on every other wire.
    cls: Any = registry.by_name("AuctionNotice")
    spec = cls.SPEC.field("numOptLegs")
    assert (spec.sr_type, spec.proto_type) == ("Byte", "int32")
    for value in (300, -1):
        error = encode_error(cls(**{spec.name: value}), "proto")
        assert (error.message_type, error.field) == ("AuctionNotice", "numOptLegs")
    assert proto_decoder(cls)(proto_encoder(cls)(cls(**{spec.name: 255})))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_string_no_frame_holds_is_an_encode_error(registry: Registry, encoding: Encoding) -> None:
    # Issue 10: a string of 1,000,100 characters; the message and the field are named.
    cls: Any = registry.by_name("OptionPrint")
    text = next(f for f in cls.SPEC.fields if f.sr_type == "String" and f.proto_number)
    error = encode_error(cls(**{text.name: "x" * 1_000_100}), encoding)
    assert (error.message_type, error.field) == ("OptionPrint", text.wire_name)
    assert "more than a frame holds" in error.reason
    with pytest.raises(EncodeError):
        encode_message(cls(**{text.name: "x" * 1_000_100}), encoding)


def test_a_record_too_large_for_one_frame_is_an_encode_error(registry: Registry) -> None:
    # Many small strings: no one of them is too long, the record is.
    cls: Any = registry.by_name("MLinkSubscribe")
    group = cls.SPEC.field("Subscribe")
    element = group.type(msg_name="OptionNbboQuote", msg_p_key="AAPL-NMS-EQT-2026-07-17-150.5-C")
    big = cls(**{group.name: (element,) * 40_000})
    for encoding in ENCODINGS:
        error = encode_error(big, encoding)
        assert (error.message_type, error.field) == ("MLinkSubscribe", "Subscribe")
    fits = cls(**{group.name: (element,) * 1000})
    for encoding in ENCODINGS:
        assert decode(encode([fits], encoding), encoding, registry=registry) == [fits]


def test_a_nested_field_is_named_with_its_group(registry: Registry) -> None:
    cls: Any = registry.by_name("MLinkSubscribe")
    group = cls.SPEC.field("Subscribe")
    bad = cls(**{group.name: (group.type(msg_name=7),)})
    for encoding in ENCODINGS:
        error = encode_error(bad, encoding)
        assert error.message_type == "MLinkSubscribe"
        assert error.field is not None and error.field.startswith("Subscribe")


def test_an_unencodable_json_string_is_an_encode_error(registry: Registry) -> None:
    cls: Any = registry.by_name("OptionPrint")
    text = next(f for f in cls.SPEC.fields if f.sr_type == "String" and f.proto_number)
    for encoding in ENCODINGS:
        with pytest.raises(EncodeError):
            encode([cls(**{text.name: "\ud800"})], encoding)


# ---- decoders -----------------------------------------------------------------------------------


def decode_error(body: bytes, encoding: Encoding, registry: Registry) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(body, encoding, registry=registry)
    return caught.value


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        ("bidSize", 2**31),
        ("bidSize", -(2**31) - 1),
        ("bidSize", 18446744073709551615),
        ("bidSize", 1.8446744073709552e19),  # what orjson makes of 2**64
        ("bidMask", 2**32),
        ("bidMask", -1),
        ("bidPrice", 1e39),  # Float: beyond float32
        ("bidPrice", -3.5e38),
        ("updateType", 2**31),  # an enum number beyond int32
    ],
)
def test_json_decoders_reject_values_out_of_range(
    registry: Registry, wire: str, value: object
) -> None:
    first = encode_frame(
        "J", 3445, orjson.dumps({"header": {"mTyp": "QueryResult"}, "message": {}})
    )
    bad = encode_frame(
        "J",
        2785,
        orjson.dumps({"header": {"mTyp": "OptionNbboQuote"}, "message": {wire: value}}),
    )
    error = decode_error(first + bad, "jsonf", registry)
    assert (error.message_type, error.field, error.offset) == ("OptionNbboQuote", wire, len(first))
    plain = orjson.dumps([{"header": {"mTyp": "OptionNbboQuote"}, "message": {wire: value}}])
    assert decode_error(plain, "json", registry).field == wire


def test_json_accepts_the_edges_of_a_range(registry: Registry) -> None:
    members = {"bidSize": -(2**31), "askSize": 2**31 - 1, "bidMask": 2**32 - 1, "bidPrice": 3.4e38}
    body = orjson.dumps([{"header": {"mTyp": "OptionNbboQuote"}, "message": members}])
    (q,) = decode(body, "json", registry=registry)
    assert (q.bid_size, q.ask_size, q.bid_mask, q.bid_price) == (
        -(2**31),
        2**31 - 1,
        2**32 - 1,
        3.4e38,
    )  # type: ignore[union-attr]


@pytest.mark.parametrize("value", [256, 300, -1, 2**31 - 1])
def test_protobuf_decoders_reject_a_byte_out_of_range(registry: Registry, value: int) -> None:
    cls: Any = registry.by_name("AuctionNotice")
    spec = cls.SPEC.field("numOptLegs")
    payload = varint(spec.proto_number << 3) + varint(value)
    first = encode_frame("P", 3445, b"")
    error = decode_error(first + encode_frame("P", 2465, payload), "proto", registry)
    assert (error.message_type, error.field, error.offset) == (
        "AuctionNotice",
        "numOptLegs",
        len(first),
    )


def test_protobuf_decoders_reject_a_uint_beyond_32_bits(registry: Registry) -> None:
    cls: Any = registry.by_name("OptionNbboQuote")
    spec = cls.SPEC.field("bidMask")
    payload = varint(spec.proto_number << 3) + varint(2**32)
    error = decode_error(encode_frame("P", 2785, payload), "proto", registry)
    assert (error.message_type, error.field) == ("OptionNbboQuote", "bidMask")
    ok = varint(spec.proto_number << 3) + varint(2**32 - 1)
    (q,) = decode(encode_frame("P", 2785, ok), "proto", registry=registry)
    assert q.bid_mask == 2**32 - 1  # type: ignore[union-attr]


def test_plain_json_text_and_arrays_must_fit_a_frame(registry: Registry) -> None:
    # A plain JSON body has no frame length: the decoder applies the frame's limits itself.
    cls: Any = registry.by_name("OptionPrint")
    text = next(f for f in cls.SPEC.fields if f.sr_type == "String" and f.proto_number)
    long_text = {"header": {"mTyp": "OptionPrint"}, "message": {text.wire_name: "x" * MAX_PAYLOAD}}
    assert decode(orjson.dumps([long_text]), "json", registry=registry)
    long_text["message"] = {text.wire_name: "x" * (MAX_PAYLOAD + 1)}
    error = decode_error(orjson.dumps([long_text]), "json", registry)
    assert (error.message_type, error.field) == ("OptionPrint", text.wire_name)
    many = {"header": {"mTyp": "MLinkSubscribe"}, "message": {"Subscribe": [{}] * 600_000}}
    error = decode_error(orjson.dumps([many]), "json", registry)
    assert (error.message_type, error.field) == ("MLinkSubscribe", "Subscribe")


def test_compiled_encoders_with_and_without_fields() -> None:
    """A message or group without fields still gets an encoder (an empty ``try`` would not
    compile); with fields, what a field's line raises is an EncodeError naming it."""
    empty = compile_encoder("Empty", ["    d = {}"], [], ["    return d"], {})
    assert empty(SimpleNamespace()) == {}
    one = compile_encoder(
        "Owner", ["    d = {}"], [("ratio", ["d['ratio'] = 1 // o.x"])], ["    return d"], {}
    )
    assert one(SimpleNamespace(x=1)) == {"ratio": 1}
    with pytest.raises(EncodeError, match="ratio") as failed:
        one(SimpleNamespace(x=0))
    assert "Owner" in str(failed.value)


def test_a_json_array_of_exactly_the_most_elements_a_frame_could_hold_is_read() -> None:
    # MAX_ITEMS elements are taken, one more is refused (test_mutation_kills_codec.py); here,
    # not in the mutation session's list, as reading half a million groups takes a second.
    items = b",".join([b"{}"] * MAX_ITEMS)
    document = b'{"header":{"mTyp":"AggregateString"},"message":{"Value":[' + items + b"]}}"
    (message,) = decode(document, "json")
    assert len(message.value) == MAX_ITEMS  # type: ignore[union-attr]
