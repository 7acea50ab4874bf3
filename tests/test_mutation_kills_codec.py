"""Exact-value tests of srmlink.codec written against mutants: the integer ranges every wire
allows (written out in decimal, not as powers of two) and the TimeSpan / DateTime / DateKey
text forms of mlink-api.md, each in both directions; protobuf Durations and the common key
messages against Google's own (protoc and duration_pb2).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import descriptor_pb2, duration_pb2
from google.protobuf.descriptor import FieldDescriptor
from grpc_tools import protoc

from srmlink.codec import (
    KEY_CACHES,
    Encoding,
    FrameDecoder,
    MessageMeta,
    UnknownMessage,
    clear_key_caches,
    decode,
    decode_envelopes,
    encode,
    encode_message,
)
from srmlink.codec.limits import MAX_ITEMS, PROTO_INTS, SR_INTS, encode_failure
from srmlink.codec.protoc import proto_decoder, proto_encoder, protobuf_class
from srmlink.codec.values import (
    format_date,
    format_datetime,
    format_timespan,
    parse_date,
    parse_datetime,
    parse_timespan,
)
from srmlink.errors import DecodeError, EncodeError
from srmlink.framing import MAX_PAYLOAD, encode_frame
from srmlink.keys import CallPut, OptionKey, TickerKey
from srmlink.messages import (
    AccountRouteConfig,
    AccountRouteConfigPKey,
    AggregateString,
    AggregateStringValue,
    AuctionNotice,
    GetFlexSpreadPrice,
    LiveSurfaceCurve,
    MsgTickerKey,
    OptionNbboQuote,
    OptionNbboQuotePKey,
    ResponderMarkupVegaDir,
    SpdrHedgePolicyState,
    SpdrHedgePolicyStatePKey,
)

from .conftest import snapshot_dir

INT32 = (-2147483648, 2147483647)
UINT32 = (0, 4294967295)
INT64 = (-9223372036854775808, 9223372036854775807)
UINT64 = (0, 18446744073709551615)


def test_integer_ranges_of_every_wire_type() -> None:
    assert SR_INTS == {
        "Byte": (0, 255),
        "Short": (-32768, 32767),
        "UShort": (0, 65535),
        "Int": INT32,
        "UInt": UINT32,
        "Long": INT64,
        "ULong": UINT64,
    }
    assert PROTO_INTS == {
        "int32": INT32,
        "sint32": INT32,
        "sfixed32": INT32,
        "uint32": UINT32,
        "fixed32": UINT32,
        "int64": INT64,
        "sint64": INT64,
        "sfixed64": INT64,
        "uint64": UINT64,
        "fixed64": UINT64,
        "bool": (0, 1),
        "enum": INT32,
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (
            "1.02:03:04.500000",
            timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000),
        ),
        ("-00:00:01", -timedelta(seconds=1)),
        ("00:00:00", timedelta(0)),
        ("00:00:00.000001", timedelta(microseconds=1)),
        ("-01:00:00", -timedelta(hours=1)),
        ("23:59:59.999999", timedelta(hours=23, minutes=59, seconds=59, microseconds=999999)),
        ("-2.00:00:00.250000", -timedelta(days=2, microseconds=250000)),
    ],
)
def test_timespans_format_and_parse(text: str, value: timedelta) -> None:
    assert format_timespan(value) == text
    assert parse_timespan(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("01:02:03.1234567", timedelta(hours=1, minutes=2, seconds=3, microseconds=123456)),
        ("1:00:00.5", timedelta(hours=1, microseconds=500000)),
        (" 00:00:07 ", timedelta(seconds=7)),
        (90, timedelta(minutes=1, seconds=30)),
        (0.25, timedelta(microseconds=250000)),
    ],
)
def test_timespans_in_other_forms_parse(text: str | float, value: timedelta) -> None:
    assert parse_timespan(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1:2:3", "expected [-][d.]hh:mm:ss[.fffffff], got '1:2:3'"),
        ("00:00:00.12345678", "expected [-][d.]hh:mm:ss[.fffffff]"),
        ("1000000000.00:00:00", "TimeSpan '1000000000.00:00:00' is out of range"),
        (1e300, "TimeSpan of 1e+300 seconds is out of range"),
        (True, "expected a TimeSpan string, got bool"),
    ],
)
def test_bad_timespans_say_why(text: object, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_timespan(text)  # type: ignore[arg-type]


def test_datetimes() -> None:
    value = datetime(2026, 7, 1, 9, 30, 0, 5, tzinfo=UTC)
    assert format_datetime(value) == "2026-07-01 09:30:00.000005"
    assert parse_datetime("2026-07-01 09:30:00.000005") == value
    assert parse_datetime("2026-07-01T11:30:00.000005+02:00") == value
    east = datetime(2026, 7, 1, 11, 30, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(east) == "2026-07-01 09:30:00.000005"
    assert format_datetime(datetime(999, 1, 2, 3, 4, 5)) == "0999-01-02 03:04:05.000000"
    with pytest.raises(ValueError, match="is out of range in UTC"):
        parse_datetime("0001-01-01T00:00:00+01:00")


def test_dates() -> None:
    assert parse_date("2026-12-18") == date(2026, 12, 18)
    assert format_date(date(26, 1, 2)) == "0026-01-02"
    for bad in ("2026-1-18", "20261218xx", "2026/12/18"):
        with pytest.raises(ValueError, match=f"expected YYYY-MM-DD, got '{bad}'"):
            parse_date(bad)


@pytest.mark.parametrize("value", [1e39, -1e39])
def test_protobuf_refuses_a_float_beyond_float32(value: float) -> None:
    # bidPrice is a float on the protobuf wire: the runtime would store inf without a word.
    with pytest.raises(EncodeError) as caught:
        encode_message(OptionNbboQuote(bid_price=value), "proto")
    assert (caught.value.message_type, caught.value.field) == ("OptionNbboQuote", "bidPrice")
    assert str(caught.value).endswith(f"{value!r} is outside the float32 range")


def bid_size_document(text: str) -> bytes:
    return b'{"header":{"mTyp":"OptionNbboQuote"},"message":{"bidSize":%s}}' % text.encode()


@pytest.mark.parametrize(
    ("text", "value"),
    [("-2147483648", -2147483648), ("-2147483648.0", -2147483648), ("2147483647.0", 2147483647)],
)
def test_json_integers_at_the_bounds_decode(text: str, value: int) -> None:
    (message,) = decode(bid_size_document(text), "json")
    assert isinstance(message, OptionNbboQuote) and message.bid_size == value


@pytest.mark.parametrize("text", ["-2147483649.0", "2147483648.0", "-2147483649"])
def test_json_integers_beyond_the_bounds_are_refused(text: str) -> None:
    with pytest.raises(DecodeError, match=r"field bidSize: -?\d+ is outside the wire range"):
        decode(bid_size_document(text), "json")


def test_clear_key_caches_empties_every_cache() -> None:
    key = {"at": "EQT", "ts": "NMS", "tk": "AAPL", "dt": "2026-12-18", "xx": 190, "cp": "Call"}
    document = {"header": {"mTyp": "OptionNbboQuote"}, "message": {"pkey": {"okey": key}}}
    decode(json.dumps(document).encode(), "json")
    assert any(KEY_CACHES)
    clear_key_caches()
    assert not any(KEY_CACHES)


def test_a_ticker_key_carried_as_a_protobuf_expiry_key_decodes_as_a_ticker_key() -> None:
    # The one such field of the 2026-07 schema: hedgeTarget is a TickerKey in the dictionary
    # and an ExpiryKey message in the .proto; the decoder must follow the dictionary.
    target = TickerKey("EQT", "NMS", "AAPL")
    record = SpdrHedgePolicyState(pkey=SpdrHedgePolicyStatePKey(hedge_target=target))
    (decoded,) = decode(encode_message(record, "proto"), "proto")
    assert isinstance(decoded, SpdrHedgePolicyState) and decoded.pkey is not None
    assert decoded.pkey.hedge_target == target
    assert type(decoded.pkey.hedge_target) is TickerKey


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (4294967296, "4294967296 is outside the wire range 0..4294967295"),
        (-1, "-1 is outside the wire range 0..4294967295"),
        (5e9, "expected an integer, got float"),
    ],
)
def test_protobuf_names_why_an_integer_does_not_fit(value: object, reason: str) -> None:
    # bidMask is a UInt carried as a protobuf int64: srmlink checks the narrower range itself.
    with pytest.raises(EncodeError) as caught:
        encode_message(OptionNbboQuote(bid_mask=value), "proto")  # type: ignore[arg-type]
    assert caught.value.field == "bidMask"
    assert str(caught.value).endswith(reason)


@pytest.mark.parametrize("number", [-2147483648, 2147483647])
def test_json_enum_numbers_at_the_bounds_are_kept(number: int) -> None:
    document = {"header": {"mTyp": "OptionNbboQuote"}, "message": {"updateType": number}}
    (message,) = decode(json.dumps(document).encode(), "json")
    assert isinstance(message, OptionNbboQuote) and message.update_type is not None
    assert (message.update_type.number, message.update_type.known) == (number, False)


@pytest.mark.parametrize("number", [-2147483649, 2147483648])
def test_json_enum_numbers_beyond_the_bounds_are_refused(number: int) -> None:
    document = {"header": {"mTyp": "OptionNbboQuote"}, "message": {"updateType": number}}
    with pytest.raises(DecodeError, match=rf"field updateType: {number} is outside the wire"):
        decode(json.dumps(document).encode(), "json")


# ---- written against the survivors of the full codec run (1 December) -----------------------


def test_dates_refuse_the_iso_week_form() -> None:
    # date.fromisoformat takes "2026-W51-5" on Python 3.11: the layout check must refuse it.
    with pytest.raises(ValueError, match="expected YYYY-MM-DD, got '2026-W51-5'"):
        parse_date("2026-W51-5")


def test_encode_message_takes_header_and_stamp_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        encode_message(OptionNbboQuote(), "json", None)  # type: ignore[call-arg]


def test_a_bad_header_time_is_a_decode_error_naming_it() -> None:
    document = (
        b'{"header":{"mTyp":"OptionNbboQuote","sTim":"2026-13-01 00:00:00.000000"},"message":{}}'
    )
    with pytest.raises(DecodeError) as caught:
        decode_envelopes(document, "json")  # decode() alone does not read the header
    assert (caught.value.message_type, caught.value.field) == ("OptionNbboQuote", "header.sTim")
    assert "invalid time '2026-13-01 00:00:00.000000'" in str(caught.value)


def test_json_numbers_of_the_other_kind_encode_as_the_field_type() -> None:
    # An int for a float field and an integral float for an int field take the slow path.
    record = OptionNbboQuote(bid_price=-5, bid_size=-3.0, ask_size=7.0)  # type: ignore[arg-type]
    message = json.loads(encode_message(record, "json"))["message"]
    assert message["bidPrice"] == -5.0 and type(message["bidPrice"]) is float
    assert message["bidSize"] == -3 and type(message["bidSize"]) is int
    assert message["askSize"] == 7 and type(message["askSize"]) is int


@pytest.mark.parametrize(
    "value",
    [
        timedelta(microseconds=-1),
        timedelta(microseconds=1),
        timedelta(seconds=-2, microseconds=999_999),
        timedelta(days=-1, seconds=5),
        timedelta(0),
    ],
)
def test_protobuf_durations_are_googles(value: timedelta) -> None:
    record = LiveSurfaceCurve(time=value)
    frame = encode_message(record, "proto")
    google = duration_pb2.Duration()
    google.FromTimedelta(value)
    # The payload read back as a plain protobuf message: its Duration is Google's, field by
    # field (seconds and nanos carry the same sign).
    carried = protobuf_class(LiveSurfaceCurve).FromString(frame[14:]).time
    assert (carried.seconds, carried.nanos) == (google.seconds, google.nanos)
    (decoded,) = decode(frame, "proto")
    assert isinstance(decoded, LiveSurfaceCurve) and decoded.time == value


def test_the_common_key_messages_are_spiderrocks(tmp_path: Path) -> None:
    # SpiderRock's own spiderrock_common.proto, compiled by protoc: every field of the key,
    # date and metadata messages with its number and type (an enum is an int32 on the wire).
    root = snapshot_dir("2026-07") / "proto_files"
    out = tmp_path / "common.pb"
    assert (
        protoc.main(
            ["protoc", f"-I{root}", f"--descriptor_set_out={out}", "spiderrock_common.proto"]
        )
        == 0
    )
    (theirs,) = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    wire = {FieldDescriptor.TYPE_ENUM: FieldDescriptor.TYPE_INT32}

    def layout(message: Any) -> list[tuple[str, int, int]]:
        return [(f.name, f.number, wire.get(f.type, f.type)) for f in message.field]

    names = ("DateKey", "TickerKey", "ExpiryKey", "OptionKey", "MessageMetadata")
    expected = {m.name: layout(m) for m in theirs.message_type if m.name in names}
    ours = {}
    for name in names:
        descriptor = descriptor_pb2.DescriptorProto()
        protobuf_class(OptionNbboQuote).DESCRIPTOR.file.pool.FindMessageTypeByName(
            f"srmlink.common.{name}"
        ).CopyToProto(descriptor)
        ours[name] = layout(descriptor)
    assert ours == expected


# ---- written against the survivors of the full codec run (1 December, second session) --------


def _quote(strike: float, bid: float = 1.25) -> OptionNbboQuote:
    okey = OptionKey("EQT", "NMS", "AAPL", date(2026, 12, 18), strike, CallPut.CALL)
    return OptionNbboQuote(pkey=OptionNbboQuotePKey(okey=okey), bid_price=bid)


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_framed_envelopes_of_one_type_share_one_header_naming_it(encoding: Encoding) -> None:
    quotes = [_quote(150), _quote(155), _quote(160)]
    # The first record of a type goes the long way (which learns the type); then inline.
    first, second, third = decode_envelopes(encode(quotes, encoding), encoding)
    assert first.header.mtyp == second.header.mtyp == third.header.mtyp == "OptionNbboQuote"
    assert second.header is third.header and not second.header.extra
    assert [first.message, second.message, third.message] == quotes


def test_a_protobuf_frame_of_an_unknown_number_keeps_its_payload_and_no_name() -> None:
    payload = encode_message(_quote(150), "proto")[14:]
    (envelope,) = decode_envelopes(encode_frame("P", 7, payload), "proto")
    assert envelope.header.mtyp is None
    assert envelope.message == UnknownMessage(None, 7, "proto", payload)


def test_a_protobuf_frame_of_a_json_only_type_is_kept_under_its_name() -> None:
    # AutoResponderBX has a number but no .proto: its protobuf payload cannot be read.
    frame = encode_frame("P", 2498, b"\x08\x01")
    (envelope,) = decode_envelopes(frame, "proto")
    assert envelope.header.mtyp == "AutoResponderBX"
    assert envelope.message == UnknownMessage("AutoResponderBX", 2498, "proto", b"\x08\x01")


def test_a_delete_travels_as_protobuf_with_its_meta_flag() -> None:
    (envelope,) = decode_envelopes(encode_message(_quote(150), "proto", deleted=True), "proto")
    assert envelope.message == _quote(150)
    assert envelope.meta is not None and envelope.meta.is_deleted
    assert envelope.deleted
    with pytest.raises(EncodeError, match="GetFlexSpreadPrice has no message number"):
        encode_message(GetFlexSpreadPrice(), "proto", deleted=True)
    with pytest.raises(EncodeError, match="a delete travels only as protobuf"):
        encode_message(_quote(150), "jsonf", deleted=True)


def test_a_json_integer_for_a_float_field_decodes_as_a_float() -> None:
    document = {"header": {"mTyp": "OptionNbboQuote"}, "message": {"bidPrice": 5}}
    (message,) = decode(json.dumps(document).encode(), "json")
    assert isinstance(message, OptionNbboQuote)
    assert message.bid_price == 5.0 and type(message.bid_price) is float


def test_a_json_array_longer_than_a_frame_holds_is_refused_before_it_is_read() -> None:
    # Every element takes at least two bytes ("{}" less the comma), so no frame carries more
    # than MAX_PAYLOAD // 2 of them: the decoder refuses more without decoding one.
    assert MAX_ITEMS == 499_999
    count = MAX_PAYLOAD // 2 + 1
    items = b",".join([b"{}"] * count)
    document = b'{"header":{"mTyp":"AggregateString"},"message":{"Value":[' + items + b"]}}"
    with pytest.raises(DecodeError) as caught:
        decode(document, "json")
    assert caught.value.field == "Value"
    assert f"{count} elements: more than a frame holds" in str(caught.value)


def test_an_impossible_date_in_a_protobuf_payload_is_a_decode_error_naming_the_type() -> None:
    pb = protobuf_class(AuctionNotice)()
    pb.trade_date.year, pb.trade_date.month, pb.trade_date.day = 2026, 13, 1
    frame = encode_frame("P", AuctionNotice.MSG_NUM, pb.SerializeToString())
    with pytest.raises(DecodeError) as caught:
        decode(frame, "proto")
    assert caught.value.message_type == "AuctionNotice"
    assert "invalid value: month must be in 1..12" in str(caught.value)


def test_a_json_array_names_a_record_that_cannot_travel() -> None:
    lone_surrogate = AccountRouteConfig(backup_route_code="\ud800")
    with pytest.raises(EncodeError) as caught:
        encode([AccountRouteConfig(backup_route_code="ok"), lone_surrogate], "json")
    assert caught.value.message_type == "AccountRouteConfig"
    # Two texts that each fit a frame but not together: the record cannot travel either.
    half = "x" * (MAX_PAYLOAD // 2 + 1)
    too_big = AccountRouteConfig(cat_dest_firm_imid=half, backup_route_code=half)
    with pytest.raises(EncodeError, match="more than a frame holds"):
        encode([too_big], "json")


def test_an_integral_float_at_the_top_of_an_int_range_encodes() -> None:
    record = OptionNbboQuote(bid_size=2147483647.0, ask_size=-2147483648.0)  # type: ignore[arg-type]
    message = json.loads(encode_message(record, "json"))["message"]
    assert (message["bidSize"], message["askSize"]) == (2147483647, -2147483648)


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_a_key_in_the_old_generation_of_the_cache_is_the_same_object(encoding: Encoding) -> None:
    clear_key_caches()
    body = encode([_quote(150)], encoding)
    (first,) = decode(body, encoding)
    for cache in KEY_CACHES:  # what a turnover of the young generation does
        cache.old, cache.young = cache.young, {}
    (again,) = decode(body, encoding)
    assert isinstance(first, OptionNbboQuote) and isinstance(again, OptionNbboQuote)
    assert again.pkey is first.pkey  # shared, not parsed anew
    assert any(cache.young for cache in KEY_CACHES)  # and back in the young generation


@pytest.mark.parametrize(
    ("inner", "wire_name", "field"),
    [
        (EncodeError("r", message_type="Inner", field="cnt"), "Value", "Value.cnt"),
        (EncodeError("r", message_type="Inner", field=None), "Value", "Value"),
        (EncodeError("r", message_type="Inner", field="cnt"), None, "cnt"),
        (EncodeError("r", message_type=None, field="cnt"), "Value", "Value"),
    ],
)
def test_an_encode_error_of_a_nested_group_is_named_by_its_dotted_path(
    inner: EncodeError, wire_name: str | None, field: str
) -> None:
    outer = encode_failure(inner, "AggregateString", wire_name)
    assert (outer.reason, outer.message_type, outer.field) == ("r", "AggregateString", field)


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_a_bad_value_in_a_repeated_group_names_the_group_and_the_field(encoding: Encoding) -> None:
    record = AggregateString(value=(AggregateStringValue(value="a", cnt=2**40),))
    with pytest.raises(EncodeError) as caught:
        encode([record], encoding)
    assert (caught.value.message_type, caught.value.field) == ("AggregateString", "Value.cnt")


def test_invalid_plain_json_is_a_decode_error_at_its_offset() -> None:
    with pytest.raises(DecodeError) as caught:
        decode(b'[{"header": {"mTyp": "OptionNbboQuote"}, "message": {]', "json")
    assert caught.value.offset == 53  # the "]"


def test_decode_takes_the_registry_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        decode(b"[]", "json", None)  # type: ignore[misc]


@pytest.mark.parametrize(("year", "month", "day"), [(2026, 0, 0), (0, 7, 0), (0, 0, 7)])
def test_a_protobuf_date_with_a_part_missing_is_refused(year: int, month: int, day: int) -> None:
    pb = protobuf_class(AuctionNotice)()
    pb.trade_date.year, pb.trade_date.month, pb.trade_date.day = year, month, day
    frame = encode_frame("P", AuctionNotice.MSG_NUM, pb.SerializeToString())
    with pytest.raises(DecodeError, match="invalid value"):
        decode(frame, "proto")


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_the_key_cache_keeps_every_key_of_a_small_working_set(encoding: Encoding) -> None:
    clear_key_caches()
    body = encode([_quote(150), _quote(155), _quote(160)], encoding)
    first = decode(body, encoding)
    again = decode(body, encoding)
    assert [a.pkey is b.pkey for a, b in zip(first, again, strict=True)] == [True, True, True]


def test_a_json_float_beyond_float32_is_refused_naming_the_range() -> None:
    document = {"header": {"mTyp": "AccountRiskRecordV5"}, "message": {"vegaLong": 1e39}}
    with pytest.raises(DecodeError) as caught:
        decode(json.dumps(document).encode(), "json")
    assert caught.value.field == "vegaLong"
    assert caught.value.reason == "1e+39 is outside the wire range -3.40282e+38..3.40282e+38"


def test_json_text_for_an_integer_field_is_refused_naming_what_it_got() -> None:
    with pytest.raises(EncodeError) as caught:
        encode_message(OptionNbboQuote(bid_size="5"), "json")  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.reason) == ("bidSize", "expected an integer, got str")


def test_protobuf_names_a_value_its_runtime_refuses() -> None:
    # An Int is a protobuf int32 of the same range: upb checks it, srmlink names the field.
    with pytest.raises(EncodeError) as caught:
        encode_message(OptionNbboQuote(bid_size=2**40), "proto")
    assert (caught.value.message_type, caught.value.field) == ("OptionNbboQuote", "bidSize")


def test_a_hand_made_message_meta_is_a_live_record_that_was_not_deleted() -> None:
    assert MessageMeta() == ("", False, 0, 0, False, False, 0, 0)
    assert MessageMeta(message_type="OptionNbboQuote").from_cache is False


@pytest.mark.parametrize(("encoding", "header"), [("json", 0), ("proto", 14)])
def test_a_record_of_exactly_a_frames_length_travels(encoding: Encoding, header: int) -> None:
    def size(length: int) -> int:
        text = "x" * length
        return len(encode_message(AccountRouteConfig(backup_route_code=text), encoding)) - header

    # A protobuf string's length prefix grows with it: step up to the text that fits exactly.
    length = MAX_PAYLOAD - size(0) - 3
    while size(length) < MAX_PAYLOAD:
        length += 1
    assert size(length) == MAX_PAYLOAD
    with pytest.raises(EncodeError, match="more than a frame holds"):
        size(length + 1)


def test_header_members_other_than_seqn_stay_extra_even_when_integers() -> None:
    document = b'{"header":{"mTyp":"OptionNbboQuote","seqN":3,"xyz":7},"message":{}}'
    (envelope,) = decode_envelopes(document, "json")
    assert envelope.header.seq_n == 3 and dict(envelope.header.extra) == {"xyz": 7}


@pytest.mark.parametrize(
    ("encoding", "reason"),
    [
        ("json", "1e+39 is not a finite number within +-3.40282e+38"),
        ("proto", "1e+39 is outside the float32 range"),
    ],
)
def test_a_double_carried_as_protobuf_float_keeps_float32s_bound(
    encoding: Encoding, reason: str
) -> None:
    # ResponderMarkupVegaDir.vegaTraded: a Double in the dictionary, a float in the .proto.
    with pytest.raises(EncodeError) as caught:
        encode_message(ResponderMarkupVegaDir(vega_traded=1e39), encoding)
    assert (caught.value.field, caught.value.reason) == ("vegaTraded", reason)


def test_a_foreign_exceptions_text_is_cut_at_200_characters() -> None:
    error = encode_failure(ValueError("x" * 300), "OptionNbboQuote", "bidSize")
    assert error.reason == ("ValueError: " + "x" * 300)[:200]


def test_protobuf_durations_and_times_drop_sub_microsecond_nanos() -> None:
    pb = protobuf_class(LiveSurfaceCurve)()
    pb.time.seconds, pb.time.nanos = 2, 1_500
    pb.timestamp.seconds, pb.timestamp.nanos = 1_700_000_000, 1_500
    (decoded,) = decode(
        encode_frame("P", LiveSurfaceCurve.MSG_NUM, pb.SerializeToString()), "proto"
    )
    assert isinstance(decoded, LiveSurfaceCurve)
    assert decoded.time == timedelta(seconds=2, microseconds=1)
    assert decoded.timestamp == datetime(2023, 11, 14, 22, 13, 20, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "given",
    [
        datetime(2026, 7, 1, 12, 30),  # naive: taken as UTC
        datetime(2026, 7, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_protobuf_times_are_the_same_instant_in_utc(given: datetime) -> None:
    (decoded,) = decode(encode_message(LiveSurfaceCurve(timestamp=given), "proto"), "proto")
    assert isinstance(decoded, LiveSurfaceCurve)
    assert decoded.timestamp == datetime(2026, 7, 1, 12, 30, tzinfo=UTC)


def test_plain_json_items_are_at_offset_zero_and_keep_no_frame() -> None:
    # A plain JSON array is not split per element: every item is at the body's start.
    document = b'[{"header":{"mTyp":"OptionNbboQuote"},"message":{}}]'
    (envelope,) = decode_envelopes(document, "json")
    assert (envelope.offset, envelope.frame) == (0, None)


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_frames_are_kept_only_when_asked(encoding: Encoding) -> None:
    # Three records: the first of a type is read the long way, the others inline.
    envelopes = decode_envelopes(
        encode([_quote(150), _quote(155), _quote(160)], encoding), encoding
    )
    assert [e.frame for e in envelopes] == [None, None, None]


def test_proto_decoder_takes_meta_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        proto_decoder(OptionNbboQuote, True)  # type: ignore[misc]


def test_an_oversized_protobuf_record_with_a_nan_names_no_field() -> None:
    # The largest member is found from the JSON form, which NaN has not: no field is named.
    half = "x" * (MAX_PAYLOAD // 2 + 1)
    record = ResponderMarkupVegaDir(vega_traded=math.nan, user_name=half, modified_by=half)
    with pytest.raises(EncodeError) as caught:
        encode_message(record, "proto")
    assert caught.value.field is None
    assert "more than a frame holds" in caught.value.reason


def test_an_unknown_type_keeps_its_bytes_exactly_framed_and_re_serialised_in_an_array() -> None:
    payload = b'{ "header": {"mTyp": "NotAType"},  "message": {"a": 1} }'
    (framed,) = decode(encode_frame("J", 7, payload), "jsonf")
    assert framed == UnknownMessage("NotAType", 7, "jsonf", payload)
    (item,) = decode(b"[" + payload + b"]", "json")
    assert isinstance(item, UnknownMessage)
    assert item.raw == b'{"header":{"mTyp":"NotAType"},"message":{"a":1}}'


def test_a_json_header_keeps_the_callers_members_beside_the_stamp() -> None:
    stamp = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    sent = json.loads(encode_message(_quote(150), "json", header={"seqN": 5}, stamp=stamp))
    assert sent["header"]["seqN"] == 5 and sent["header"]["mTyp"] == "OptionNbboQuote"
    assert sent["header"]["sTim"] == sent["header"]["encT"]
    bare = json.loads(encode_message(_quote(150), "json", stamp=stamp))
    assert bare["header"]["sTim"] == sent["header"]["sTim"]


def test_the_key_cache_counts_both_generations() -> None:
    clear_key_caches()
    decode(encode([_quote(150), _quote(155)], "proto"), "proto")
    for cache in KEY_CACHES:
        cache.old, cache.young = cache.young, {}
    decode(encode([_quote(160)], "proto"), "proto")
    assert sum(len(cache) for cache in KEY_CACHES) == 3


def test_an_integer_float_field_at_the_float32_bound_encodes() -> None:
    for bound in (
        -340282346638528859811704183484516925440,
        340282346638528859811704183484516925440,
    ):
        # -FLT_MAX and FLT_MAX, exactly, as ints
        message = json.loads(encode_message(ResponderMarkupVegaDir(vega_traded=bound), "json"))
        assert message["message"]["vegaTraded"] == float(bound)


def test_an_unknown_enum_name_in_json_is_kept() -> None:
    document = {"header": {"mTyp": "OptionNbboQuote"}, "message": {"updateType": "NewKind"}}
    (message,) = decode(json.dumps(document).encode(), "json")
    assert isinstance(message, OptionNbboQuote) and message.update_type is not None
    assert (message.update_type.wire_name, message.update_type.known) == ("NewKind", False)


def test_dates_refuse_a_longer_text_with_the_dashes_in_place() -> None:
    with pytest.raises(ValueError, match="expected YYYY-MM-DD, got '2026-07-011'"):
        parse_date("2026-07-011")


def test_proto_encoder_takes_deleted_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        proto_encoder(OptionNbboQuote, True)  # type: ignore[misc]


def test_an_envelopes_repr_leaves_its_frame_bytes_out() -> None:
    (envelope,) = FrameDecoder("jsonf", frames=True).feed_envelopes(encode([_quote(150)], "jsonf"))
    assert envelope.frame is not None
    assert "frame" not in repr(envelope) and repr(envelope.frame) not in repr(envelope)


def test_frame_decoder_and_encode_take_their_options_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        FrameDecoder("jsonf", None)  # type: ignore[misc]
    with pytest.raises(TypeError):
        encode([], "json", None)  # type: ignore[misc]


def test_text_header_members_that_are_not_times_stay_as_sent() -> None:
    document = b'{"header":{"mTyp":"OptionNbboQuote","sID":"srv-1","note":"x"},"message":{}}'
    (envelope,) = decode_envelopes(document, "json")
    assert envelope.header.s_id == "srv-1" and dict(envelope.header.extra) == {"note": "x"}


@pytest.mark.parametrize("encoding", ["json", "proto"])
def test_a_double_beyond_float32_travels(encoding: Encoding) -> None:
    (decoded,) = decode(encode_message(LiveSurfaceCurve(u_prc=1e39), encoding), encoding)
    assert isinstance(decoded, LiveSurfaceCurve) and decoded.u_prc == 1e39


def test_a_long_carried_as_protobuf_int32_keeps_int32s_range_in_json_too() -> None:
    # ResponderMarkupVegaDir.numNotices: a Long in the dictionary, an int32 in the .proto.
    with pytest.raises(EncodeError) as caught:
        encode_message(ResponderMarkupVegaDir(num_notices=2**31), "json")
    assert caught.value.field == "numNotices"
    assert caught.value.reason.endswith("outside the wire range -2147483648..2147483647")


@pytest.mark.parametrize("encoding", ["json", "jsonf"])
def test_a_composite_primary_key_round_trips_through_json(encoding: Encoding) -> None:
    pkey = AccountRouteConfigPKey(accnt="A1", client_firm="FIRM", exec_brkr_code="XB")
    record = AccountRouteConfig(pkey=pkey, backup_route_code="r")
    assert decode(encode([record], encoding), encoding) == [record]


def test_decode_envelopes_and_frame_decoder_defaults() -> None:
    with pytest.raises(TypeError):
        decode_envelopes(b"[]", "json", None)  # type: ignore[misc]
    body = encode([_quote(150), _quote(155)], "jsonf")
    assert [e.frame for e in FrameDecoder("jsonf").feed_envelopes(body)] == [None, None]
    payload = encode_message(_quote(150), "proto")[14:]
    assert proto_decoder(OptionNbboQuote)(payload) == _quote(150)  # no meta unless asked


def test_json_text_fields_name_what_they_got() -> None:
    def message(value: object) -> bytes:
        return orjson.dumps({"header": {"mTyp": "AccountRouteConfig"}, "message": value})

    with pytest.raises(DecodeError, match="expected a string, got int 5"):
        decode(message({"backupRouteCode": 5}), "json")
    with pytest.raises(DecodeError, match=f"text of {MAX_PAYLOAD + 1} characters"):
        decode(message({"backupRouteCode": "x" * (MAX_PAYLOAD + 1)}), "json")
    longest = "x" * MAX_PAYLOAD  # an unknown enum name as long as text may be is kept
    (record,) = decode(
        orjson.dumps({"header": {"mTyp": "OptionNbboQuote"}, "message": {"updateType": longest}}),
        "json",
    )
    assert isinstance(record, OptionNbboQuote) and record.update_type is not None
    assert record.update_type.wire_name == longest


def test_protobuf_refuses_a_decoded_integer_outside_its_fields_range() -> None:
    # bidMask is a UInt carried as int64: upb takes 2**40, srmlink's range check does not.
    pb = protobuf_class(OptionNbboQuote)(bid_mask=2**40)
    frame = encode_frame("P", OptionNbboQuote.MSG_NUM, pb.SerializeToString())
    with pytest.raises(DecodeError) as caught:
        decode(frame, "proto")
    assert (caught.value.message_type, caught.value.field) == ("OptionNbboQuote", "bidMask")


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_records_of_a_mutable_type_holding_just_a_key_are_not_shared(encoding: Encoding) -> None:
    # MsgTickerKey has one field, a TickerKey, but is a mutable message: each record its own.
    record = MsgTickerKey(ticker_key=TickerKey("EQT", "NMS", "AAPL"))
    first, second = decode(encode([record, record], encoding), encoding)
    assert first == second == record and first is not second
