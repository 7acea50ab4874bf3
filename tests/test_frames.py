"""srmlink.frames: Arrow schemas from the schema, messages <-> Arrow, wire bytes -> Arrow."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from srmlink import CallPut, OptionKey
from srmlink.codec import encode
from srmlink.errors import DecodeError
from srmlink.frames import (
    FrameConversionError,
    arrow_schema,
    decode_arrow,
    from_arrow,
    to_arrow,
    to_pandas,
    to_polars,
)
from srmlink.frames.parquet import RotatingParquetWriter
from srmlink.message import Message
from srmlink.messages import OptionNbboQuote, registry
from srmlink.messages.enums import UpdateType

from .conftest import SNAPSHOTS, snapshot_registry
from .roundtrip import instances

# The mapping the issue asks for, written out independently of srmlink.frames.schema.
EXPECTED = {
    "Float": pa.float32(),
    "Double": pa.float64(),
    "Byte": pa.uint8(),
    "Short": pa.int16(),
    "UShort": pa.uint16(),
    "Int": pa.int32(),
    "UInt": pa.uint32(),
    "Long": pa.int64(),
    "ULong": pa.uint64(),
    "String": pa.string(),
    "Text1": pa.string(),
    "Text2": pa.string(),
    "DateTime": pa.timestamp("us", tz="UTC"),
    "DateKey": pa.date32(),
    "TimeSpan": pa.duration("us"),
    "Enum": pa.dictionary(pa.int32(), pa.string()),
    "Flag": pa.dictionary(pa.int32(), pa.string()),
}
TICKER = [("asset_type", pa.string()), ("ticker_src", pa.string()), ("ticker", pa.string())]
EXPIRY = [*TICKER, ("expiration", pa.date32())]
OPTION = [*EXPIRY, ("strike", pa.float64()), ("call_put", pa.string())]
KEYS = {"TickerKey": TICKER, "ExpiryKey": EXPIRY, "OptionKey": OPTION}

AAPL = OptionKey("EQT", "NMS", "AAPL", dt.date(2026, 7, 17), 200, CallPut.CALL)


def _expected_type(sr_type: str, group: type | None) -> pa.DataType:
    if sr_type in KEYS:
        return pa.struct([pa.field(n, t) for n, t in KEYS[sr_type]])
    if sr_type == "Repeater":
        assert group is not None
        return pa.list_(
            pa.struct(
                [pa.field(f.name, _expected_type(f.sr_type, f.type)) for f in group.SPEC.fields]
            )
        )
    return EXPECTED[sr_type]


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_every_message_type_has_a_schema_typed_from_its_sr_types(
    snapshot: str, staged: Callable[[Path], Path]
) -> None:
    checked = 0
    for cls in snapshot_registry(staged, snapshot):
        schema = arrow_schema(cls)
        wire = arrow_schema(cls, names="wire")
        assert schema.metadata[b"message"] == cls.MSG_NAME.encode()
        expected_names = []
        for spec in cls.SPEC.fields:
            if spec.sr_type == "PKey":
                assert spec.type is not None
                for part in spec.type.SPEC.fields:
                    expected_names.append(part.name)
                    field = schema.field(schema.names[len(expected_names) - 1])
                    assert field.type == _expected_type(part.sr_type, part.type), (cls, part)
        own = [f for f in cls.SPEC.fields if f.sr_type != "PKey"]
        for spec in own:
            field = schema.field(len(expected_names) + own.index(spec))
            assert field.name == spec.name
            assert field.type == _expected_type(spec.sr_type, spec.type), (cls, spec)
            assert field.metadata[b"sr_type"] == spec.sr_type.encode()
            assert wire.field(len(expected_names) + own.index(spec)).name == spec.wire_name
        checked += 1
    assert checked > 50


def test_primary_key_parts_are_columns_and_keys_structs_of_typed_parts() -> None:
    schema = arrow_schema(OptionNbboQuote)
    assert schema.names[0] == "okey"
    okey = schema.field("okey")
    assert okey.type.field("expiration").type == pa.date32()
    assert okey.type.field("strike").type == pa.float64()
    assert okey.metadata[b"wire_name"] == b"okey"
    table = to_arrow(_quotes(2))
    assert table.column("okey").to_pylist()[1] == {
        "asset_type": "EQT",
        "ticker_src": "NMS",
        "ticker": "SPY",
        "expiration": dt.date(2026, 7, 17),
        "strike": 101.0,
        "call_put": "Put",
    }


def _quotes(count: int) -> list[OptionNbboQuote]:
    pkey_type = next(f.type for f in OptionNbboQuote.SPEC.fields if f.name == "pkey")
    assert pkey_type is not None
    out = []
    for i in range(count):
        key = OptionKey(
            "EQT", "NMS", ("AAPL", "SPY", "MSFT")[i % 3], dt.date(2026, 7, 17), 100 + i, CallPut.PUT
        )
        out.append(
            OptionNbboQuote(
                pkey=pkey_type(okey=key),
                update_type=UpdateType.PRC_CHANGE,
                bid_price=round(1.1 + i, 2),
                ask_price=round(1.12 + i, 2),
                bid_size=i,
            )
        )
    return out


def test_polars_and_pandas_filter_by_key_parts_without_parsing() -> None:

    quotes = _quotes(9)
    frame = to_polars(quotes)
    aapl = frame.filter(pl.col("okey").struct.field("ticker") == "AAPL")
    assert aapl.height == 3
    assert aapl["bid_size"].to_list() == [0, 3, 6]
    assert frame.schema["bid_price"] == pl.Float32
    pandas_frame = to_pandas(quotes)
    assert len(pandas_frame) == 9
    assert str(pandas_frame["update_type"].iloc[0]) == "PrcChange"


def test_float32_columns_read_back_as_the_value_json_carried() -> None:
    quotes = _quotes(3)
    back = from_arrow(to_arrow(quotes), OptionNbboQuote)
    assert back == quotes  # 1.1 stays 1.1, not 1.100000023841858
    assert encode(back, "json") == encode(quotes, "json")


def test_unknown_enum_values_survive_arrow() -> None:
    unknown_name = UpdateType.from_wire("NoSuchUpdate")
    unknown_number = UpdateType.from_number(97)
    quotes = [
        OptionNbboQuote(update_type=unknown_name),
        OptionNbboQuote(update_type=unknown_number),
    ]
    back = from_arrow(to_arrow(quotes), OptionNbboQuote)
    assert back[0].update_type is unknown_name
    assert back[1].update_type is unknown_number
    assert encode(back[:1], "json") == encode(quotes[:1], "json")
    assert encode(back[1:], "proto") == encode(quotes[1:], "proto")


def test_mixed_types_and_unknown_columns_are_errors() -> None:
    other = registry.by_name("QueryResult")()
    with pytest.raises(FrameConversionError, match="another type"):
        to_arrow([*_quotes(1), other], OptionNbboQuote)  # type: ignore[list-item]
    with pytest.raises(FrameConversionError, match="needs the message class"):
        to_arrow([])
    table = to_arrow(_quotes(2)).append_column("nope", pa.array([1, 2]))
    with pytest.raises(FrameConversionError, match="'nope'"):
        from_arrow(table, OptionNbboQuote)
    with pytest.raises(FrameConversionError, match=r"OptionNbboQuote\.bid_size"):
        to_arrow([OptionNbboQuote(bid_size=2**40)])


_FRAMED = [c for c in registry if c.MSG_NUM is not None and c.SPEC.origin != "dictionary"]


def _arrow_roundtrip(message: Message) -> Message:
    (back,) = from_arrow(to_arrow([message]), type(message))
    return back


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(_FRAMED).flatmap(lambda cls: instances(cls, proto=True)))
def test_messages_arrow_messages_wire_equal_in_every_encoding(message: Message) -> None:
    # As decoded from protobuf (float32 values exactly): the protobuf bytes come back equal.
    back = _arrow_roundtrip(message)
    assert encode([back], "proto") == encode([message], "proto")
    # As decoded from JSON (the shortest decimals): JSON and framed JSON come back equal.
    again = _arrow_roundtrip(back)
    for encoding in ("json", "jsonf"):
        assert encode([again], encoding) == encode([back], encoding)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(_FRAMED).flatmap(lambda cls: st.lists(instances(cls, proto=True), max_size=4))
)
def test_wire_to_arrow_equals_decoding_then_converting(messages: list[Message]) -> None:
    if not messages:
        return
    cls = type(messages[0])
    canonical = [_arrow_roundtrip(m) for m in messages]
    for encoding in ("jsonf", "json", "proto"):
        body = encode(canonical, encoding)  # type: ignore[arg-type]
        direct = decode_arrow(body, cls, encoding)  # type: ignore[arg-type]
        assert direct.schema == arrow_schema(cls)
        assert direct.to_pylist() == to_arrow(canonical, cls).to_pylist(), encoding


def test_wire_to_arrow_skips_other_types_and_names_bad_values() -> None:
    quotes = _quotes(5)
    result = registry.by_name("QueryResult")()
    body = encode([*quotes, result], "jsonf")
    table = decode_arrow(body, OptionNbboQuote, "jsonf")
    assert table.num_rows == 5
    assert table.column("okey").to_pylist()[0]["ticker"] == "AAPL"
    bad = orjson.loads(encode(quotes[:1], "json"))
    bad[0]["message"]["bidSize"] = "many"
    with pytest.raises(DecodeError) as caught:
        decode_arrow(orjson.dumps(bad), OptionNbboQuote, "json")
    assert caught.value.field is not None and "bidSize" in str(caught.value)


def test_a_missing_extra_is_named() -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "from srmlink.frames import MissingExtraError, to_arrow\n"
        "try:\n    to_arrow([], object)\n"
        "except MissingExtraError as exc:\n    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'srmlink[arrow]'" in out


def test_rotating_parquet_files_are_complete_and_hold_every_record(tmp_path: Path) -> None:
    now = [0.0]
    quotes = _quotes(25)
    with RotatingParquetWriter(
        tmp_path, OptionNbboQuote, max_records=10, batch_records=4, clock=lambda: now[0]
    ) as writer:
        for quote in quotes[:22]:
            writer.write(quote)
        # Only closed files are visible under their final name.
        assert sorted(p.name for p in tmp_path.glob("*.parquet")) == [p.name for p in writer.files]
        assert len(writer.files) == 2
        for quote in quotes[22:]:
            writer.write(quote)
    assert writer.written == 25
    assert not list(tmp_path.glob("*.partial"))
    tables = [pq.read_table(p) for p in writer.files]
    assert [t.num_rows for t in tables] == [10, 10, 5]
    assert from_arrow(pa.concat_tables(tables), OptionNbboQuote) == quotes


def test_parquet_rotation_by_time_even_when_idle(tmp_path: Path) -> None:
    now = [0.0]
    writer = RotatingParquetWriter(
        tmp_path, OptionNbboQuote, max_seconds=5, batch_records=1, clock=lambda: now[0]
    )
    writer.write(_quotes(1)[0])
    writer.tick()
    assert writer.files == []
    now[0] = 6.0
    writer.tick()
    assert len(writer.files) == 1
    writer.close()
    assert len(writer.files) == 1 and writer.written == 1
    with pytest.raises(ValueError, match="max_records"):
        RotatingParquetWriter(tmp_path, OptionNbboQuote, max_records=0)
