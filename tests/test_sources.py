"""Loaders: each schema source into its typed input model (codegen/sources)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srmlink.codegen.errors import SchemaError
from srmlink.codegen.sources import load_sources
from srmlink.codegen.sources.dictionary import (
    canonical_type,
    load_dictionary_csv,
    load_getschema,
)
from srmlink.codegen.sources.msgtypes import load_getlayout, load_msgtypes

HEADER_2026 = (
    "Message Name,mToken,Field Number (fNum),Field Name (name),Field Type (fType),"
    "Enum Set (eSet),Field Description (desc),Data Products\n"
)
HEADER_2023 = "Message Name,Message ID,Field Number,Field Name,Field Type,Field Description\n"


def _envelopes(mtyp: str, *messages: dict[str, object]) -> str:
    return json.dumps([{"header": {"mTyp": mtyp}, "message": m} for m in messages])


def test_csv_2026_reads_repeaters_and_esets(tmp_path: Path) -> None:
    path = tmp_path / "DataDictionaryMLink.csv"
    path.write_text(
        HEADER_2026
        + "Sub,MLinkWs,100,sessionID,Short,,(optional) id,\n"
        + 'Sub,MLinkWs,109,mode,Enum,"None,Yes,No",a mode,\n'
        + "Sub,MLinkWs,133,Subscribe,Repeater,,,\n"
        + "Sub,MLinkWs,136,msgName,String,,name,\n"
        + "Sub,MLinkWs,115,View,Repeater,,,\n"
        + "Sub,MLinkWs,121,view,String,,fields,\n"
    )
    (msg,) = load_dictionary_csv(path).messages
    assert msg.name == "Sub" and msg.token == "MLinkWs" and msg.mnum is None
    by_name = {(f.repeater, f.name): f for f in msg.fields}
    assert by_name[(None, "mode")].enum_set == ("None", "Yes", "No")
    assert by_name[(None, "Subscribe")].sr_type == "Repeater"
    assert by_name[("Subscribe", "msgName")].number == 136
    assert by_name[("View", "view")].repeater == "View"
    assert by_name[(None, "sessionID")].where == "DataDictionaryMLink.csv:2"


def test_csv_2023_reads_message_ids_and_typed_cells(tmp_path: Path) -> None:
    path = tmp_path / "DataDictionaryMLink.csv"
    path.write_text(
        HEADER_2023
        + "LiveAtmVol,1010,10,ekey,ExpiryKey,\n"
        + "LiveAtmVol,1010,103,uPrc,float,underlier price\n"
        + "LiveAtmVol,1010,106,side,enum:BuySell:None,\n"
        + "LiveAtmVol,1010,109,flags,flag:OpraMktType,\n"
        + "LiveAtmVol,1010,112,code,string:8,\n"
    )
    (msg,) = load_dictionary_csv(path).messages
    assert msg.mnum == 1010
    types = [(f.sr_type, f.enum_name) for f in msg.fields]
    assert types == [
        ("ExpiryKey", None),
        ("Float", None),
        ("Enum", "BuySell"),
        ("Flag", "OpraMktType"),
        ("String", None),
    ]


def test_canonical_type_keeps_unknown_types_for_the_report() -> None:
    assert canonical_type("ushort") == ("UShort", None)
    assert canonical_type("Quaternion") == ("Quaternion", None)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("a,b,c\n", "unrecognised data dictionary columns"),
        (HEADER_2023 + "X,notanumber,1,f,int,\n", "Message ID 'notanumber' is not a number"),
        (HEADER_2026 + "X,T,1\n", "DataDictionaryMLink.csv:2"),
        (HEADER_2026 + ",T,1,f,Int,,,\n", "needs a message name"),
    ],
)
def test_csv_errors_name_the_row(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "DataDictionaryMLink.csv"
    path.write_text(content)
    with pytest.raises(SchemaError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_dictionary_csv(path)


def test_getschema_is_the_same_model(tmp_path: Path) -> None:
    folder = tmp_path / "getschema"
    folder.mkdir()
    (folder / "Quote.json").write_text(
        json.dumps(
            [
                {
                    "header": {"mTyp": "FieldDesc"},
                    "message": {"name": "okey", "fNum": 10, "fType": "OptionKey", "isPkey": "Yes"},
                },
                {
                    "header": {"mTyp": "FieldDesc"},
                    "message": {
                        "name": "side",
                        "fNum": 100,
                        "fType": "Enum",
                        "eSet": "None,Buy,Sell",
                        "isPkey": "No",
                        "desc": "the side",
                    },
                },
                {
                    "header": {"mTyp": "FieldDesc"},
                    "message": {"name": "Legs", "fNum": 120, "fType": "Repeater", "isPkey": "No"},
                },
                {
                    "header": {"mTyp": "FieldDesc"},
                    "message": {
                        "name": "ratio",
                        "fNum": 123,
                        "fType": "Int",
                        "isPkey": "No",
                        "inRepeater": "Legs",
                    },
                },
                {"header": {"mTyp": "QueryResult"}, "message": {"result": "Ok"}},
            ]
        )
    )
    (msg,) = load_getschema([folder / "Quote.json"]).messages
    fields = {f.name: f for f in msg.fields}
    assert fields["okey"].is_pkey is True and fields["side"].is_pkey is False
    assert fields["side"].enum_set == ("None", "Buy", "Sell")
    assert fields["ratio"].repeater == "Legs"
    assert fields["Legs"].repeater is None


def test_getschema_2023_nests_repeater_children(tmp_path: Path) -> None:
    """A 2023 server describes a Repeater's children inside its FieldDesc (nm, fn, tName)."""
    path = tmp_path / "Quote.json"
    legs = [
        {"nm": "ratio", "fn": 123, "fType": "Int", "desc": "legs per unit"},
        {"nm": "side", "fn": 126, "fType": "Enum", "tName": "BuySell", "eSet": "None,Buy,Sell"},
    ]
    path.write_text(
        _envelopes(
            "FieldDesc",
            {"name": "price", "fNum": 100, "fType": "Float", "isPkey": "No"},
            {"name": "Legs", "fNum": 120, "fType": "Repeater", "isPkey": "No", "Repeater": legs},
        )
    )
    (msg,) = load_getschema([path]).messages
    rows = [(f.name, f.number, f.sr_type, f.enum_name, f.repeater) for f in msg.fields]
    assert rows == [
        ("price", 100, "Float", None, None),
        ("Legs", 120, "Repeater", None, None),
        ("ratio", 123, "Int", None, "Legs"),
        ("side", 126, "Enum", "BuySell", "Legs"),
    ]
    assert msg.fields[2].description == "legs per unit"
    assert msg.fields[3].enum_set == ("None", "Buy", "Sell")
    path.write_text(
        _envelopes("FieldDesc", {"name": "Legs", "fType": "Repeater", "Repeater": ["ratio"]})
    )
    with pytest.raises(SchemaError, match=r"Quote\.json\[0\]\.Repeater\[0\]"):
        load_getschema([path])


def test_msgtypes_2026_and_2023_shapes(tmp_path: Path) -> None:
    path = tmp_path / "getmsgtypes.json"
    path.write_text(
        _envelopes(
            "MsgDesc",
            {"name": "A", "mNum": 1, "mToken": "OptMktData"},
            {"name": "B", "mNum": 2, "schemaHash": "ABC", "mCat": "OptLiveRisk"},
        )
    )
    a, b = load_msgtypes(path).types
    assert (a.name, a.mnum, a.token, a.schema_hash) == ("A", 1, "OptMktData", None)
    assert (b.token, b.schema_hash) == ("OptLiveRisk", "ABC")
    path.write_text(_envelopes("MsgDesc", {"name": "C", "mNum": "x"}))
    with pytest.raises(SchemaError, match=r"getmsgtypes.json\[0\]: C has no numeric mNum"):
        load_msgtypes(path)


def test_getlayout(tmp_path: Path) -> None:
    path = tmp_path / "getlayout.json"
    path.write_text(
        json.dumps(
            [
                {"header": {"mTyp": "MsgLayout"}, "message": {"name": "A", "mNum": 7}},
                {
                    "header": {"mTyp": "FieldLayout"},
                    "message": {"name": "price", "fNum": 100, "fType": "Double"},
                },
            ]
        )
    )
    types, fields = load_getlayout(path)
    assert [(t.name, t.mnum) for t in types.types] == [("A", 7)]
    assert [(f.name, f.sr_type) for f in fields.messages[0].fields] == [("price", "Double")]


def test_load_sources_reports_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="holds no schema"):
        load_sources(tmp_path)
    with pytest.raises(SchemaError, match="does not exist"):
        load_sources(tmp_path / "nope")


def test_protoc_errors_are_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.proto").write_text('syntax = "proto3";\nmessage X { int32 = 1; }\n')
    with pytest.raises(SchemaError, match="protoc failed"):
        load_sources(tmp_path)
