"""srmlink's protobuf codec against Google's: SpiderRock's .proto files compiled by protoc.

srmlink builds its own descriptors from the reconciled schema; here the 2026-07 .proto files
are compiled with ``protoc --python_out`` and records built with Google's generated classes
are framed by hand, decoded by srmlink and compared field by field; srmlink's encoding is
parsed back by Google's classes. srmlink keeps its descriptors in a private pool, so the
generated modules (default pool) load beside it in this process.
"""

from __future__ import annotations

import importlib
import struct
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from grpc_tools import protoc

from srmlink.codec import MessageMeta, decode, decode_envelopes, encode
from srmlink.framing import split_frames
from srmlink.keys import CallPut, ExpiryKey, OptionKey, TickerKey
from srmlink.message import Message
from srmlink.registry import Registry

from .conftest import snapshot_dir, snapshot_registry

SNAPSHOT = "2026-07"
UTC_2026 = datetime(2026, 7, 1, 14, 30, 5, 123456, tzinfo=UTC)


class GoogleProtos:
    """The protoc-generated modules of one schema, importable while the fixture lives."""

    def __init__(self, root: Path) -> None:
        self.modules: dict[str, ModuleType] = {}
        for path in sorted(root.rglob("*.proto")):
            relative = path.relative_to(root).with_suffix("")
            module = importlib.import_module(".".join(relative.parts) + "_pb2")
            self.modules[relative.name] = module
        self.common = self.modules["spiderrock_common"]

    def message(self, name: str) -> Any:
        """The generated class of a top-level message (each .proto file holds one)."""
        return getattr(self.modules[name], name)

    def enum(self, name: str) -> int:
        """A value of spiderrock_common.proto by its protobuf name (ASSETTYPE_EQT ...)."""
        value = getattr(self.common, name)
        assert isinstance(value, int)
        return value


@pytest.fixture(scope="module")
def google(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoogleProtos]:
    root = snapshot_dir(SNAPSHOT) / "proto_files"
    out = tmp_path_factory.mktemp("protoc-python")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.proto"))
    include = resources.files("grpc_tools") / "_proto"  # google/protobuf/timestamp.proto ...
    assert protoc.main(["protoc", f"-I{root}", f"-I{include}", f"--python_out={out}", *files]) == 0
    sys.path.insert(0, str(out))
    try:
        yield GoogleProtos(root)
    finally:
        sys.path.remove(str(out))
        # Forget the generated modules (and their namespace packages): nothing else may
        # import them by accident. Their descriptors stay in the default pool.
        for name, module in list(sys.modules.items()):
            where = [getattr(module, "__file__", None) or "", *getattr(module, "__path__", [])]
            if any(str(w).startswith(str(out)) for w in where):
                del sys.modules[name]


@pytest.fixture(scope="module")
def registry(staged: Callable[[Path], Path]) -> Registry:
    return snapshot_registry(staged, SNAPSHOT)


def frame(mnum: int, record: Any) -> bytes:
    """The 14-byte header written out by hand, and Google's serialisation."""
    payload: bytes = record.SerializeToString()
    return b"\r\nP" + b"%05d" % mnum + b"%06d" % len(payload) + payload


def one(registry: Registry, name: str, body: bytes) -> Any:
    """The one message of ``body``, checked to be of class ``name``."""
    (message,) = decode(body, "proto", registry=registry)
    assert type(message) is registry.by_name(name)
    return message


def google_parse(google: GoogleProtos, message: Message) -> Any:
    """srmlink's protobuf frame of ``message``, parsed by Google's class. Its ``_meta`` is
    checked (srmlink sends the message type, nothing else) and cleared, so that the record
    compares with one built without it."""
    ((kind, mnum, payload, _),) = split_frames(encode([message], "proto"))
    assert (kind, mnum) == ("P", message.MSG_NUM)
    parsed = google.message(message.MSG_NAME).FromString(payload)
    assert parsed.HasField("_meta")
    assert parsed._meta == google.common.MessageMetadata(message_type=message.MSG_NAME)
    parsed.ClearField("_meta")
    return parsed


def f32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


# ---- hand-written records -----------------------------------------------------------------------


def test_option_nbbo_quote(google: GoogleProtos, registry: Registry) -> None:
    g = google.message("OptionNbboQuote")()
    g._meta.message_type = "OptionNbboQuote"  # sent by the server, not part of the record
    g._meta.time_sent = 1_782_000_000_000_000_000
    okey = g.pkey.okey
    okey.asset_type = google.enum("ASSETTYPE_EQT")
    okey.ticker_src = google.enum("TICKERSRC_NMS")
    okey.ticker = "AAPL"
    okey.expiration.year, okey.expiration.month, okey.expiration.day = 2026, 7, 17
    okey.strike = 150.5
    okey.call_put = google.enum("CALLPUT_CALL")
    g.update_type = google.enum("UPDATETYPE_PRC_CHANGE")
    g.bid_price, g.ask_price = 1.25, 1.5
    g.bid_size, g.ask_size = 10, 25
    g.cum_bid_size, g.cum_ask_size = 110, 2_000_000
    g.bid_exch = google.enum("OPTEXCH_CBOE")
    g.ask_exch = google.enum("OPTEXCH_ISE")
    g.bid_mask = 2**32 - 1  # the largest UInt (32 bits), sent as int64
    g.bid_mkt_type = google.enum("OPTMKTTYPE_CUST_INTEREST")
    g.bid_price2 = 1.2000000476837158  # float32 of 1.2
    g.bid_time = -1
    g.src_timestamp = 1_782_000_000_123_456_789
    assert registry.by_name("OptionNbboQuote").MSG_NUM == 2785

    q = one(registry, "OptionNbboQuote", frame(2785, g))
    assert q.pkey.okey == OptionKey("EQT", "NMS", "AAPL", date(2026, 7, 17), 150.5, CallPut.CALL)
    assert (q.update_type.wire_name, q.update_type.number) == ("PrcChange", 1)
    assert (q.bid_price, q.ask_price, q.bid_size, q.ask_size) == (1.25, 1.5, 10, 25)
    assert (q.cum_bid_size, q.cum_ask_size) == (110, 2_000_000)
    assert (q.bid_exch.wire_name, q.ask_exch.wire_name) == ("CBOE", "ISE")
    assert q.bid_mask == 2**32 - 1
    assert (q.bid_mkt_type.wire_name, q.bid_mkt_type.number) == ("CustInterest", 4)
    assert q.bid_price2 == f32(1.2)
    assert q.bid_time == -1
    assert q.src_timestamp == 1_782_000_000_123_456_789
    # Never set: proto3 sends nothing, srmlink leaves them unset.
    assert q.ask_mkt_type is None and q.ask_mask is None and q.net_timestamp is None

    back = google_parse(google, q)
    assert back.pkey.okey.ticker == "AAPL"
    assert back.pkey.okey.call_put == google.enum("CALLPUT_CALL")
    assert (back.pkey.okey.expiration.year, back.pkey.okey.expiration.day) == (2026, 17)
    assert back.update_type == google.enum("UPDATETYPE_PRC_CHANGE")
    assert (back.bid_price, back.cum_ask_size, back.bid_time) == (1.25, 2_000_000, -1)
    assert back.bid_exch == google.enum("OPTEXCH_CBOE")
    assert back.src_timestamp == 1_782_000_000_123_456_789
    g.ClearField("_meta")
    assert back == g


def test_every_message_encoded_carries_its_type_in_meta(
    google: GoogleProtos, registry: Registry
) -> None:
    # SpiderRock's clients parse a frame with one class and dispatch on _meta.message_type.
    checked = 0
    for cls in registry:
        if (
            cls.MSG_NUM is None
            or cls.SPEC.origin == "dictionary"
            or cls.MSG_NAME not in google.modules
        ):
            continue
        ((_, _, payload, _),) = split_frames(encode([cls()], "proto"))
        back = google.message(cls.MSG_NAME).FromString(payload)
        assert back._meta.message_type == cls.MSG_NAME
        checked += 1
    assert checked > 200


def test_a_deleted_record_decodes_as_a_typed_delete(
    google: GoogleProtos, registry: Registry
) -> None:
    g = google.message("OptionNbboQuote")()
    g._meta.message_type = "OptionNbboQuote"
    g._meta.is_deleted = True
    g._meta.time_sent, g._meta.sender_id = 1_782_000_000_000_000_000, 42
    g._meta.from_cache, g._meta.encoded_time, g._meta.server_rcvd_time = True, 5, 6
    okey = g.pkey.okey
    okey.asset_type = google.enum("ASSETTYPE_EQT")
    okey.ticker_src = google.enum("TICKERSRC_NMS")
    okey.ticker = "AAPL"
    okey.expiration.year, okey.expiration.month, okey.expiration.day = 2026, 7, 17
    okey.strike, okey.call_put = 150.5, google.enum("CALLPUT_CALL")
    live = google.message("OptionNbboQuote")(pkey=g.pkey, bid_size=3)
    body = frame(2785, g) + frame(2785, live)
    deleted, kept = decode_envelopes(body, "proto", registry=registry)
    assert deleted.deleted and not kept.deleted
    assert deleted.meta == MessageMeta(
        message_type="OptionNbboQuote",
        is_deleted=True,
        time_sent=1_782_000_000_000_000_000,
        sender_id=42,
        from_cache=True,
        encoded_time=5,
        server_rcvd_time=6,
    )
    assert kept.meta is None  # Google sends no _meta unless it is set
    assert deleted.message.pkey.okey.ticker == "AAPL"  # type: ignore[union-attr]
    # _meta is not a field of the record: the bare decode is the record alone.
    assert decode(body, "proto", registry=registry)[0] == deleted.message


def test_option_print_timestamp(google: GoogleProtos, registry: Registry) -> None:
    g = google.message("OptionPrint")()
    okey = g.pkey.okey
    okey.asset_type, okey.ticker_src = google.enum("ASSETTYPE_IDX"), google.enum("TICKERSRC_CBOT")
    okey.ticker = "SPX_"
    okey.expiration.year, okey.expiration.month, okey.expiration.day = 2026, 12, 18
    okey.strike, okey.call_put = 6000.0, google.enum("CALLPUT_PUT")
    g.prt_price, g.prt_size = 2.5, 7
    g.prt_orders = 65_535  # the largest UShort, sent as uint32
    g.timestamp.FromDatetime(UTC_2026)
    p = one(registry, "OptionPrint", frame(2800, g))
    assert p.pkey.okey == OptionKey("IDX", "CBOT", "SPX_", date(2026, 12, 18), 6000.0, CallPut.PUT)
    assert str(p.pkey.okey) == "SPX_-CBOT-IDX-2026-12-18-6000-P"
    assert (p.prt_price, p.prt_size, p.prt_orders) == (2.5, 7, 65_535)
    assert p.timestamp == UTC_2026
    back = google_parse(google, p)
    assert back.timestamp.ToDatetime(tzinfo=UTC) == UTC_2026
    assert back == g


def test_repeated_groups(google: GoogleProtos, registry: Registry) -> None:
    g = google.message("MLinkSubscribe")()
    g.subscribe_iD = 42
    g.compression = google.enum("MLINKCOMPRESSION_FIELD_CHANGES_ONLY")
    g.do_reset = google.enum("YESNO_YES")
    subscriptions = [
        ("OptionNbboQuote", "AAPL-NMS-EQT-2026-07-17-150.5-C", -1),
        ("StockBookQuote", "AAPL-NMS-EQT", 1_782_000_000_000_000_000),
    ]
    for name, pkey, ts in subscriptions:
        sub = g.subscribe.add()
        sub.msg_name, sub.msg_pKey, sub.highwater_ts = name, pkey, ts
    view = g.view.add()
    view.msg_name, view.view = "StockBookQuote", "bidPrice,askPrice"
    s = one(registry, "MLinkSubscribe", frame(3386, g))
    assert s.subscribe_id == 42
    assert (s.compression.wire_name, s.do_reset.wire_name) == ("FieldChangesOnly", "Yes")
    assert [(x.msg_name, x.msg_p_key, x.highwater_ts) for x in s.subscribe] == subscriptions
    assert [(x.msg_name, x.view) for x in s.view] == [("StockBookQuote", "bidPrice,askPrice")]
    assert s.unsubscribe is None  # an empty repeated field is absent on the wire
    back = google_parse(google, s)
    assert [x.msg_pKey for x in back.subscribe] == [
        "AAPL-NMS-EQT-2026-07-17-150.5-C",
        "AAPL-NMS-EQT",
    ]
    assert back == g


def test_composite_primary_key(google: GoogleProtos, registry: Registry) -> None:
    g = google.message("StockExchImbalanceV2")()
    ticker = g.pkey.ticker
    ticker.asset_type, ticker.ticker_src = (
        google.enum("ASSETTYPE_EQT"),
        google.enum("TICKERSRC_NMS"),
    )
    ticker.ticker = "AAPL"
    g.pkey.auction_time.FromDatetime(datetime(2026, 7, 1, 20, 0, tzinfo=UTC))
    g.pkey.auction_type = google.enum("AUCTIONREASON_CLOSING")
    g.pkey.exchange = google.enum("PRIMARYEXCHANGE_NYSE")
    g.reference_px, g.paired_qty, g.total_imbalance_qty = 187.25, 120_000, -5_000
    m = one(registry, "StockExchImbalanceV2", frame(3020, g))
    assert m.pkey.ticker == TickerKey("EQT", "NMS", "AAPL")
    assert m.pkey.auction_time == datetime(2026, 7, 1, 20, 0, tzinfo=UTC)
    assert (m.pkey.auction_type.wire_name, m.pkey.exchange.wire_name) == ("Closing", "NYSE")
    assert str(m.pkey) == "AAPL-NMS-EQT|2026-07-01T20:00:00+00:00|Closing|NYSE"
    assert (m.reference_px, m.paired_qty, m.total_imbalance_qty) == (187.25, 120_000, -5_000)
    assert google_parse(google, m) == g


def test_duration_and_date_key(google: GoogleProtos, registry: Registry) -> None:
    g = google.message("LiveSurfaceCurve")()
    ekey = g.pkey.ekey
    ekey.asset_type, ekey.ticker_src = google.enum("ASSETTYPE_FUT"), google.enum("TICKERSRC_CME")
    ekey.ticker = "@ES"
    ekey.expiration.year, ekey.expiration.month, ekey.expiration.day = 2026, 9, 18
    g.time.FromTimedelta(timedelta(hours=-1, microseconds=250))
    g.timestamp.FromDatetime(UTC_2026)
    c = one(registry, "LiveSurfaceCurve", frame(1035, g))
    assert c.pkey.ekey == ExpiryKey("FUT", "CME", "@ES", date(2026, 9, 18))
    assert c.time == timedelta(hours=-1, microseconds=250)
    assert c.timestamp == UTC_2026
    assert google_parse(google, c) == g


# ---- every token: every field set from Google's descriptors --------------------------------------

# One framed protobuf message type per token of the 2026-07 schema (the one with the widest mix
# of field types), and a few more: quotes, Duration, the REST result, repeated groups.
SWEEP = [
    "UserDividendOverride",
    "RFQQuoteBroadcast",
    "OptionPositionRecordV5",
    "OptionTheoVol",
    "SpdrParentOrder",
    "StockEarningsCalendar",
    "StockExchImbalanceV2",
    "StockCloseMark",
    "StockPrint",
    "StockMinuteBar",
    "TickerDefinition",
    "FuturePrintSet",
    "FutureCloseMark",
    "FuturePrint",
    "FuturePrintProbability",
    "FutureMinuteBar",
    "ProductDefinitionV2",
    "GlobalDividends",
    "MsgDesc",
    "MLinkStream",
    "NationsIndexPrice",
    "OptionPrintSet",
    "SpdrAuctionState",
    "OptionCloseMark",
    "OptionPrint",
    "OptionQuoteProbability",
    "OptionMarketSummary",
    "LiveSurfaceFixedTerm",
    "RootDefinition",
    "OptionItemDef",
    "AuctionPrint",
    "LiveExpirySurface",
    "SpreadDefinition",
    "SpreadExchOrder",
    "SpreadBookQuote",
    "StockPrintProbability",
    "WshFutureQuarters",
    "OptionNbboQuote",
    "StockBookQuote",
    "FutureBookQuote",
    "LiveSurfaceCurve",
    "MarketHoursConfig",
    "QueryResult",
    "MLinkSubscribe",
]

_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION = "google.protobuf.Duration"
_KEYS = {
    "spiderrock.protobuf.TickerKey": TickerKey,
    "spiderrock.protobuf.ExpiryKey": ExpiryKey,
    "spiderrock.protobuf.OptionKey": OptionKey,
}


def fill(google: GoogleProtos, record: Any, salt: int = 0) -> None:
    """Set every field of ``record`` (and of its nested records) to a non-default value that
    differs from field to field; repeated groups get two elements."""
    for fd in record.DESCRIPTOR.fields:
        if fd.name == "_meta":
            record._meta.message_type, record._meta.sender_id = record.DESCRIPTOR.name, 7
            continue
        if fd.type != FieldDescriptor.TYPE_MESSAGE:
            assert not fd.is_repeated  # SpiderRock repeats groups only
            setattr(record, fd.name, scalar(fd, salt))
        elif fd.is_repeated:
            for i in range(2):
                fill_message(google, getattr(record, fd.name).add(), salt + i + 1)
        else:
            fill_message(google, getattr(record, fd.name), salt)


def fill_message(google: GoogleProtos, sub: Any, salt: int) -> None:
    name = sub.DESCRIPTOR.full_name
    if name == _TIMESTAMP:
        sub.seconds, sub.nanos = 1_782_000_000 + salt * 86_400 + 17, 123_456_000
    elif name == _DURATION:
        sub.seconds, sub.nanos = -(3_600 + salt), -250_000_000
    elif name == "spiderrock.protobuf.DateKey":
        sub.year, sub.month, sub.day = 2026, 7, 17 + salt
    elif name in _KEYS:
        sub.asset_type, sub.ticker_src = google.enum("ASSETTYPE_EQT"), google.enum("TICKERSRC_NMS")
        sub.ticker = f"AAPL{salt}" if salt else "AAPL"
        if name != "spiderrock.protobuf.TickerKey":
            fill_message(google, sub.expiration, salt)
        if name == "spiderrock.protobuf.OptionKey":
            sub.strike, sub.call_put = 150.5 + salt, google.enum("CALLPUT_PUT")
    else:
        fill(google, sub, salt)


def scalar(fd: FieldDescriptor, salt: int) -> Any:
    n = fd.number + salt
    sign = -1 if n % 2 else 1
    if fd.type == FieldDescriptor.TYPE_FLOAT:
        return sign * (n % 1000 + 0.25)  # exact in 32 bits
    if fd.type == FieldDescriptor.TYPE_DOUBLE:
        return sign * n / 7
    # Integers within the narrowest SpiderRock type each protobuf type carries (int32: Byte,
    # int64: Int / UInt, uint32: UShort): wider values are out of the field's wire range.
    # The hand-written records above send the wide ones.
    if fd.type == FieldDescriptor.TYPE_INT32:
        return 1 + n % 255
    if fd.type == FieldDescriptor.TYPE_INT64:
        return 2**31 - 1 - n if sign > 0 else 100_000 + n
    if fd.type == FieldDescriptor.TYPE_UINT32:
        return 65_535 - n % 1000
    if fd.type == FieldDescriptor.TYPE_STRING:
        return f"s{n} \r\n é|{fd.name}"
    if fd.type == FieldDescriptor.TYPE_ENUM:
        assert fd.enum_type is not None
        values = [v.number for v in fd.enum_type.values if v.number]
        return values[n % len(values)]
    raise AssertionError(f"no value for {fd.full_name} (type {fd.type})")


def expected(fd: FieldDescriptor, value: Any) -> Any:
    """What srmlink should make of one Google field value (not a nested record)."""
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        assert fd.message_type is not None
        name = fd.message_type.full_name
        if name == _TIMESTAMP:
            return value.ToDatetime(tzinfo=UTC)
        if name == _DURATION:
            return value.ToTimedelta()
        if name == "spiderrock.protobuf.DateKey":
            return date(value.year, value.month, value.day)
        return key(fd.message_type, value)
    return value


def key(descriptor: Descriptor, value: Any) -> Any:
    """A key object from Google's key record, its enums read by their protobuf names."""

    def named(field: str, prefix: str) -> str:
        enum = descriptor.fields_by_name[field].enum_type
        assert enum is not None
        return enum.values_by_number[getattr(value, field)].name.removeprefix(prefix)

    parts: list[Any] = [named("asset_type", "ASSETTYPE_"), named("ticker_src", "TICKERSRC_")]
    parts.append(value.ticker)
    if "expiration" in descriptor.fields_by_name:
        e = value.expiration
        parts.append(date(e.year, e.month, e.day))
    if "strike" in descriptor.fields_by_name:
        parts += [value.strike, CallPut[named("call_put", "CALLPUT_")]]
    return _KEYS[descriptor.full_name](*parts)


def compare(obj: Any, record: Any, path: str) -> int:
    """Assert that srmlink's ``obj`` holds what Google's ``record`` holds; count the values."""
    specs = {f.proto_number: f for f in type(obj).SPEC.fields if f.proto_number is not None}
    seen = set()
    count = 0
    for fd, value in record.ListFields():
        if fd.name == "_meta":
            continue
        spec = specs[fd.number]
        seen.add(fd.number)
        got = getattr(obj, spec.name)
        where = f"{path}.{spec.name}"
        if spec.sr_type == "Repeater":
            assert len(got) == len(value), where
            count += sum(compare(o, r, f"{where}[]") for o, r in zip(got, value, strict=True))
        elif spec.sr_type == "PKey":
            count += compare(got, value, where)
        elif fd.type == FieldDescriptor.TYPE_ENUM:
            assert got.number == value, where
            count += 1
        else:
            assert got == expected(fd, value), where
            count += 1
    unset = [f.name for f in type(obj).SPEC.fields if f.proto_number not in seen]
    assert all(getattr(obj, name) is None for name in unset), path
    return count


@pytest.mark.parametrize("name", SWEEP)
def test_every_field_both_ways(name: str, google: GoogleProtos, registry: Registry) -> None:
    cls = registry.by_name(name)
    assert cls.MSG_NUM is not None
    record = google.message(name)()
    fill(google, record)
    decoded = one(registry, name, frame(cls.MSG_NUM, record))
    count = compare(decoded, record, name)
    assert count >= len([f for f in record.DESCRIPTOR.fields if f.name != "_meta"])
    record.ClearField("_meta")
    assert google_parse(google, decoded) == record


def test_sweep_covers_every_token(registry: Registry) -> None:
    framed = {c.TOKEN for c in registry if c.MSG_NUM is not None and c.SPEC.origin != "dictionary"}
    assert {registry.by_name(name).TOKEN for name in SWEEP} == framed
    assert len(SWEEP) >= 10
