"""The generator's naming rules (codegen/naming.py)."""

from __future__ import annotations

import pytest

from srmlink.codegen.naming import (
    enum_member_name,
    module_name,
    normalise,
    pascal,
    proto_enum_suffix,
    proto_json_name,
    safe_attribute,
    snake,
)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("bidPrice", "bid_price"),
        ("atmEMA", "atm_ema"),
        ("sessionID", "session_id"),
        ("msgPKey", "msg_p_key"),
        ("VaRsu2e", "va_rsu2e"),
        ("cumBidSize2", "cum_bid_size2"),
        ("Subscribe", "subscribe"),
        ("pricingSource_V7", "pricing_source_v7"),
        ("MLinkStream", "mlink_stream"),
    ],
)
def test_snake(wire: str, expected: str) -> None:
    assert snake(wire) == expected


@pytest.mark.parametrize(
    ("proto", "expected"),
    [
        ("bid_price", "bidPrice"),
        ("msg_pKey", "msgPKey"),
        ("session_iD", "sessionID"),
        ("atm_ema", "atmEma"),
        ("ticker__v7", "tickerV7"),
    ],
)
def test_proto_json_name_follows_protoc(proto: str, expected: str) -> None:
    assert proto_json_name(proto) == expected


def test_normalise_matches_across_sources() -> None:
    assert normalise("bid_price") == normalise("bidPrice") == normalise("BIDPRICE")
    assert normalise("msg_pKey") == normalise("msgPKey")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("class", "class_"),
        ("type", "type_"),
        ("date", "date_"),
        ("fields", "fields_"),
        ("bid_price", "bid_price"),
        ("2nd", "n2nd"),
        ("match", "match_"),
    ],
)
def test_safe_attribute(name: str, expected: str) -> None:
    assert safe_attribute(name) == expected


def test_enum_and_module_names() -> None:
    assert enum_member_name("PrcChange") == "PRC_CHANGE"
    assert enum_member_name("None") == "NONE"
    assert enum_member_name("V7_Stable") == "V7_STABLE"
    assert enum_member_name("USDCents") == "USD_CENTS"
    assert enum_member_name("2x") == "N2X"
    assert module_name("OptMktData") == "opt_mkt_data"
    assert module_name("MLinkWs") == "mlink_ws"
    assert proto_enum_suffix("UpdateType", "UPDATETYPE_PRC_CHANGE") == "PRC_CHANGE"
    assert pascal("PRC_CHANGE") == "PrcChange"
    assert pascal("msg_types") == "MsgTypes"
