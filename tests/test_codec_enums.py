"""Unknown enum values through every codec path (issue 16): numbers and names a newer server
may send, for Enum and Flag fields, survive proto -> object -> proto and proto -> object ->
JSON -> object -> proto exactly; where an encoding cannot carry one (a name with no number on
protobuf) the encoder says so with an EncodeError naming the field.

Payloads are written by hand (protobuf varints, JSON text), not by srmlink's encoders."""

from __future__ import annotations

from typing import Any

import pytest

from srmlink.codec import Encoding, decode, encode
from srmlink.enums import SREnum
from srmlink.errors import EncodeError
from srmlink.framing import encode_frame
from srmlink.message import Message
from srmlink.messages import FuturePositionRecordV5, OptionNbboQuote

from .test_framing_fuzz import varint

ENUM_FIELD = OptionNbboQuote.SPEC.field("updateType")
FLAG_FIELD = FuturePositionRecordV5.SPEC.field("futMarkErrCodes")
UNKNOWN = 99  # no UpdateType has it
UNKNOWN_BIT = 1 << 20  # no FutMarkErrCodes bit


def proto_frame(cls: type[Message], number: int, value: int) -> bytes:
    """A frame whose payload holds one enum field (field ``number``, varint ``value``)."""
    assert cls.MSG_NUM is not None
    return encode_frame("P", cls.MSG_NUM, varint(number << 3) + varint(value))


def json_frame(cls: type[Message], member: str, text: bytes) -> bytes:
    assert cls.MSG_NUM is not None
    payload = b'{"header":{"mTyp":"%b"},"message":{"%b":%b}}' % (
        cls.MSG_NAME.encode(),
        member.encode(),
        text,
    )
    return encode_frame("J", cls.MSG_NUM, payload)


def one(body: bytes, encoding: Encoding) -> Any:
    (message,) = decode(body, encoding)
    return message


def proto_value(body: bytes) -> bytes:
    """The payload of a one-frame protobuf body, without srmlink's _meta (field 1)."""
    payload = body[14:]
    assert payload[0] == 0x0A  # _meta, length-delimited
    return payload[2 + payload[1] :]


def json_member(body: bytes, member: str) -> bytes:
    """The exact JSON text of ``member`` in a one-envelope jsonf body."""
    text = body[14:]
    start = text.index(b'"%b":' % member.encode()) + len(member) + 3
    if text[start : start + 1] == b'"':  # a string (no escapes in enum names)
        return text[start : text.index(b'"', start + 1) + 1]
    end = start
    while text[end : end + 1] not in (b",", b"}"):
        end += 1
    return text[start:end]


@pytest.mark.parametrize(
    ("cls", "field", "number"),
    [
        (OptionNbboQuote, ENUM_FIELD, UNKNOWN),
        (OptionNbboQuote, ENUM_FIELD, 2**31 - 1),
        (OptionNbboQuote, ENUM_FIELD, -5),  # int32 enums may be negative
        (FuturePositionRecordV5, FLAG_FIELD, UNKNOWN_BIT),
        (FuturePositionRecordV5, FLAG_FIELD, UNKNOWN_BIT | 1 | 4),  # known bits and one more
    ],
)
def test_an_unknown_number_survives_every_path(cls: Any, field: Any, number: int) -> None:
    assert field.proto_number is not None
    body = proto_frame(cls, field.proto_number, number)
    message = one(body, "proto")
    member: SREnum = getattr(message, field.name)
    assert isinstance(member, field.type)
    assert (member.known, member.number, member.wire_name) == (False, number, None)

    # proto -> object -> proto: the same varint.
    again = encode([message], "proto")
    assert proto_value(again) == varint(field.proto_number << 3) + varint(number)
    assert one(again, "proto") == message

    # proto -> object -> JSON: a number-only member travels as its number (JSON's only way).
    as_json = encode([message], "jsonf")
    assert json_member(as_json, field.wire_name) == str(number).encode()
    back = one(as_json, "jsonf")
    assert getattr(back, field.name) is member
    # ... -> object -> proto: the same varint again.
    assert proto_value(encode([back], "proto")) == proto_value(again)
    assert one(encode([message], "json"), "json") == message


def test_unknown_numbers_are_not_zero_or_a_neighbour() -> None:
    # Decoding an unknown number as 0 (or as any known member) loses the value.
    assert ENUM_FIELD.proto_number is not None
    for number in (UNKNOWN, UNKNOWN + 1):
        member = one(proto_frame(OptionNbboQuote, ENUM_FIELD.proto_number, number), "proto")
        assert member.update_type.number == number
        assert member.update_type not in list(ENUM_FIELD.type)
    known = next(m for m in ENUM_FIELD.type if m.number)
    decoded = one(proto_frame(OptionNbboQuote, ENUM_FIELD.proto_number, known.number), "proto")
    assert decoded.update_type is known


@pytest.mark.parametrize(
    ("cls", "field", "text"),
    [
        (OptionNbboQuote, ENUM_FIELD, "BrandNewUpdate"),
        (FuturePositionRecordV5, FLAG_FIELD, "BrandNewBit"),
        (FuturePositionRecordV5, FLAG_FIELD, "NoUPrc,BrandNewBit"),  # one part unknown
    ],
)
def test_an_unknown_name_survives_json_and_protobuf_refuses_it(
    cls: Any, field: Any, text: str
) -> None:
    body = json_frame(cls, field.wire_name, b'"%b"' % text.encode())
    message = one(body, "jsonf")
    member = getattr(message, field.name)
    assert (member.known, member.wire_name, member.number) == (False, text, None)
    for encoding in ("json", "jsonf"):
        again = encode([message], encoding)  # type: ignore[list-item]
        assert one(again, encoding) == message  # type: ignore[arg-type]
    assert json_member(encode([message], "jsonf"), field.wire_name) == b'"%b"' % text.encode()
    with pytest.raises(EncodeError) as caught:
        encode([message], "proto")
    assert (caught.value.message_type, caught.value.field) == (cls.MSG_NAME, field.wire_name)
    assert "no protobuf number" in caught.value.reason


def test_a_json_number_for_an_unknown_value_reaches_protobuf() -> None:
    # A JSON writer that sends the number (as srmlink does for number-only values).
    body = json_frame(OptionNbboQuote, "updateType", b"%d" % UNKNOWN)
    message = one(body, "jsonf")
    assert ENUM_FIELD.proto_number is not None
    expected = varint(ENUM_FIELD.proto_number << 3) + varint(UNKNOWN)
    assert proto_value(encode([message], "proto")) == expected


def test_flag_combinations_of_known_bits_are_known_and_named() -> None:
    assert FLAG_FIELD.proto_number is not None
    number = 1 | 4 | 32  # NoUPrc, NoFPrc, OldOpx
    message = one(proto_frame(FuturePositionRecordV5, FLAG_FIELD.proto_number, number), "proto")
    member = message.fut_mark_err_codes
    assert (member.known, member.number, member.wire_name) == (True, number, "NoUPrc,NoFPrc,OldOpx")
    text = json_member(encode([message], "jsonf"), "futMarkErrCodes")
    assert text == b'"NoUPrc,NoFPrc,OldOpx"'
    back = one(encode([message], "jsonf"), "jsonf")
    assert back.fut_mark_err_codes is member
    assert proto_value(encode([back], "proto")) == varint(FLAG_FIELD.proto_number << 3) + varint(
        number
    )


@pytest.mark.parametrize("extra", [UNKNOWN_BIT, 64, 1 << 30])
def test_a_flag_only_partly_covered_by_known_bits_is_unknown(extra: int) -> None:
    # Known bits plus one no member has: not the known combination (that would drop a bit).
    number = 1 | 2 | extra
    member = FLAG_FIELD.type.from_number(number)
    assert (member.known, member.number, member.wire_name) == (False, number, None)
    assert FLAG_FIELD.type.from_number(1 | 2).known
