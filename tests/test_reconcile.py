"""Reconciliation rules, pinned on the small hand-written schema and tiny inline ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srmlink.codegen.build import build_schema, generate
from srmlink.codegen.ir import Issue, Origin, Schema
from srmlink.codegen.stage import stage_package

from .conftest import SMALL_SCHEMA, run_python


@pytest.fixture(scope="module")
def small() -> Schema:
    return build_schema(SMALL_SCHEMA)


def _issues(schema: Schema, kind: str) -> list[Issue]:
    return [i for i in schema.issues if i.kind == kind]


def _where(schema: Schema, kind: str) -> set[tuple[str | None, str | None]]:
    return {(i.message, i.field) for i in _issues(schema, kind)}


def test_every_disagreement_is_reported(small: Schema) -> None:
    assert _where(small, "field-number-mismatch") == {("WidgetQuote", "bidSize")}
    assert _where(small, "wire-name-not-camelcase") == {("WidgetQuote", "atmEMA")}
    assert _where(small, "field-only-in-dictionary") == {("WidgetQuote", "legacyCode")}
    assert _where(small, "field-only-in-proto") == {("WidgetQuote", "proto_only_field")}
    assert _where(small, "type-mismatch") == {("WidgetQuote", "askPrice")}
    assert _where(small, "message-only-in-dictionary") == {("WidgetNote", None)}
    assert _where(small, "message-only-in-proto") == {("WidgetAudit", None)}
    assert _where(small, "msgtype-undefined") == {("GhostMessage", None)}
    assert _where(small, "message-without-number") == {("WidgetStats", None)}
    assert _where(small, "pkey-inferred") == {("WidgetNote", None)}
    details = " ".join(i.detail for i in small.issues)
    assert "Market.Dark" in details and "Market.MARKET_LEGACY" in details


def test_fields_carry_both_sources(small: Schema) -> None:
    quote = next(m for m in small.messages if m.name == "WidgetQuote")
    by_wire = {f.wire_name: f for f in quote.fields}
    bid = by_wire["bidSize"]
    assert (bid.proto_number, bid.dict_number, bid.py_name) == (109, 110, "bid_size")
    assert by_wire["atmEMA"].py_name == "atm_ema" and by_wire["atmEMA"].proto_name == "atm_ema"
    assert by_wire["legacyCode"].origin is Origin.DICTIONARY
    assert by_wire["protoOnlyField"].origin is Origin.PROTO
    assert by_wire["class"].py_name == "class_"
    assert by_wire["Legs"].group == "WidgetQuoteLegs"
    (legs,) = quote.groups
    assert [f.wire_name for f in legs.fields] == ["legKey", "isBuy", "ratio"]
    definition = next(m for m in small.messages if m.name == "WidgetDefinition")
    assert definition.pkey is not None
    assert [f.wire_name for f in definition.pkey.fields] == ["ekey", "market", "venue"]


def test_enums_take_numbers_from_the_proto(small: Schema) -> None:
    enums = {e.name: e for e in small.enums}
    ready = [(m.wire_name, m.number) for m in enums["ReadyScan"].members]
    assert sorted(ready) == [("FullScan", 3), ("Incremental", 2), ("None", 0)]
    market = {m.wire_name: m.number for m in enums["Market"].members}
    assert market == {"None": 0, "Lit": 1, "Auction": 2, "Legacy": 9, "Dark": None}
    assert enums["QuoteFlag"].is_flag
    assert enums["ProtoOnlyMode"].origin is Origin.PROTO
    assert enums["Level"].origin is Origin.DICTIONARY


def test_composite_key_round_trips_through_text(tmp_path: Path) -> None:
    stage = stage_package(tmp_path, generate(SMALL_SCHEMA, None).files)
    out = run_python(
        stage,
        """
        from srmlink.messages import WidgetDefinitionPKey
        from srmlink.errors import KeyParseError
        text = "AAPL-NMS-EQT-2026-07-17|Lit|XNAS"
        key = WidgetDefinitionPKey.parse(text)
        assert str(key) == text and key.market.wire_name == "Lit"
        assert WidgetDefinitionPKey.parse(str(key)) == key and hash(key) == hash(
            WidgetDefinitionPKey.parse(text))
        # A separator or backslash inside a part is escaped; an empty part is one not set.
        odd = WidgetDefinitionPKey(ekey=key.ekey, market=None, venue="X|Y\\\\Z")
        assert str(odd) == "AAPL-NMS-EQT-2026-07-17||X\\\\|Y\\\\\\\\Z"
        assert WidgetDefinitionPKey.parse(str(odd)) == odd
        for bad in ("AAPL-NMS-EQT-2026-07-17|Lit", "AAPL-NMS-EQT-2026-13-17|Lit|X",
                    "AAPL-NMS-EQT-2026-07-17|Nope|X"):
            try:
                WidgetDefinitionPKey.parse(bad)
            except KeyParseError as exc:
                assert exc.text == bad and 0 <= exc.position <= len(bad)
            else:
                raise AssertionError(bad)
        print("ok")
        """,
    )
    assert out.strip() == "ok"


HEADER_2023 = "Message Name,Message ID,Field Number,Field Name,Field Type,Field Description\n"


def test_getmsgtypes_wins_over_the_dictionary(tmp_path: Path) -> None:
    (tmp_path / "DataDictionaryMLink.csv").write_text(
        HEADER_2023 + "Quote,2745,100,bidPrice,float,bid\nquote_b,10,100,x,int,\n"
    )
    (tmp_path / "getmsgtypes.json").write_text(
        json.dumps(
            [
                {"header": {"mTyp": "MsgDesc"}, "message": {"name": n, "mNum": m, "mToken": "T"}}
                for n, m in (("Quote", 2785), ("Quote_B", 10))
            ]
        )
    )
    schema = build_schema(tmp_path)
    quote = next(m for m in schema.messages if m.name == "Quote")
    assert quote.mnum == 2785
    (issue,) = _issues(schema, "mnum-disagreement")
    assert issue.message == "Quote" and "2785" in issue.detail and "2745" in issue.detail
    assert _where(schema, "name-case-mismatch") == {("Quote_B", None)}


def test_control_message_numbers_fall_back_only_where_no_source_has_one(tmp_path: Path) -> None:
    (tmp_path / "DataDictionaryMLink.csv").write_text(
        HEADER_2023
        + "QueryResult,4000,100,result,int,\n"
        + "MLinkAdmin,,100,adminCommand,int,\n"
        + "MLinkLogon,,100,apiKey,string,\n"
        + "Other,3289,100,x,int,\n"
        + "MLinkNew,,100,y,int,\n"
    )
    schema = build_schema(tmp_path)
    mnums = {m.name: m.mnum for m in schema.messages}
    # The schema's own number wins; 3289 belongs to Other here; MLinkNew is not in the table.
    assert mnums == {
        "QueryResult": 4000,
        "MLinkAdmin": 3288,
        "MLinkLogon": None,
        "Other": 3289,
        "MLinkNew": None,
    }
    (fallback,) = _issues(schema, "mnum-fallback")
    assert fallback.message == "MLinkAdmin" and "3288" in fallback.detail
    without = {i.message: i.detail for i in _issues(schema, "message-without-number")}
    assert set(without) == {"MLinkLogon", "MLinkNew"}
    assert "3289" in without["MLinkLogon"]
