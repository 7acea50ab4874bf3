"""Integration: SpiderRock's real published schema snapshots generate and resolve."""

from __future__ import annotations

import contextlib
import functools
import io
import json
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from srmlink.codegen.build import build_schema
from srmlink.codegen.ir import Message, Schema
from srmlink.codegen.sources import load_sources

from .conftest import SNAPSHOTS, run_python, snapshot_dir, snapshot_registry


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_every_getmsgtypes_entry_resolves(snapshot: str, staged: Callable[[Path], Path]) -> None:
    schema_dir = snapshot_dir(snapshot)
    msgtypes = schema_dir / "getmsgtypes.json"
    stage = staged(schema_dir)
    # Every name with a definition resolves to its class and number; the others stay known.
    out = run_python(
        stage,
        f"""
        import json, pathlib
        from srmlink.errors import UndefinedMessageError
        from srmlink.messages import registry
        path = pathlib.Path({str(msgtypes)!r})
        entries = json.loads(path.read_text()) if path.exists() else []
        resolved = undefined = 0
        for item in entries:
            msg = item["message"]
            try:
                cls = registry.by_name(msg["name"])
            except UndefinedMessageError:
                entry = registry.entry(msg["name"])
                assert entry.number == msg["mNum"], entry
                undefined += 1
                continue
            assert cls.MSG_NAME == msg["name"], (cls, msg)
            assert cls.MSG_NUM == msg["mNum"], (cls.MSG_NUM, msg)
            assert registry.by_number(msg["mNum"]) is cls
            resolved += 1
        print(json.dumps({{"resolved": resolved, "undefined": undefined,
                          "classes": len(registry), "entries": len(registry.entries())}}))
        """,
    )
    counts = json.loads(out)
    if snapshot == "2026-07":
        assert counts["resolved"] == 270
        assert counts["undefined"] == 0
    elif snapshot == "2023-05":
        assert counts["undefined"] == 2
        assert counts["resolved"] == 77
    assert counts["classes"] == len(list(build_schema(schema_dir).messages))


@pytest.mark.parametrize(
    ("snapshot", "name", "mnum"),
    [
        ("2026-07", "OptionNbboQuote", 2785),
        ("2026-07", "QueryResult", 3445),
        ("2026-07", "MLinkStream", 3380),
        ("2023-05", "OptionNbboQuote", 2745),
        ("2023-05", "QueryResult", 3320),
        ("2023-07", "OptionNbboQuote", 2785),
        ("2023-07", "MLinkAdmin", 3288),
        ("2023-07", "QueryResult", 3320),
    ],
)
def test_known_message_numbers(
    snapshot: str, name: str, mnum: int, staged: Callable[[Path], Path]
) -> None:
    stage = staged(snapshot_dir(snapshot))
    out = run_python(
        stage,
        f"""
        from srmlink.messages import registry
        cls = registry.by_name({name.lower()!r})
        print(cls.__name__, cls.MSG_NUM, registry.by_number({mnum}).__name__)
        """,
    )
    assert out.split() == [name, str(mnum), name]


def test_2026_dictionary_only_messages_have_classes(staged: Callable[[Path], Path]) -> None:
    schema_dir = snapshot_dir("2026-07")
    schema = build_schema(schema_dir)
    dict_only = [m.name for m in schema.messages if m.origin.value == "dictionary"]
    assert len(dict_only) >= 20
    out = run_python(
        staged(schema_dir),
        f"""
        from srmlink.messages import registry
        for name in {dict_only!r}:
            cls = registry.by_name(name)
            assert cls.SPEC.origin == "dictionary", name
            assert all(f.proto_number is None for f in cls.SPEC.fields), name
        print(len({dict_only!r}))
        """,
    )
    assert int(out) == len(dict_only)


def test_2023_05_undefined_names_stay_known(staged: Callable[[Path], Path]) -> None:
    out = run_python(
        staged(snapshot_dir("2023-05")),
        """
        from srmlink.messages import registry
        from srmlink.errors import UndefinedMessageError
        for name in ("ClientFirmConfig", "UserConfig"):
            entry = registry.entry(name)
            assert not entry.defined and entry.number is not None
            try:
                registry.by_name(name)
            except UndefinedMessageError as exc:
                assert name in str(exc)
            else:
                raise AssertionError(name)
        print(sorted(e.name for e in registry.undefined))
        """,
    )
    assert out.strip() == "['ClientFirmConfig', 'UserConfig']"


def test_2026_reconciliation_facts() -> None:
    schema = build_schema(snapshot_dir("2026-07"))
    kinds: dict[str, int] = {}
    for issue in schema.issues:
        kinds[issue.kind] = kinds.get(issue.kind, 0) + 1
    # protocol-notes.md measured several hundred number disagreements; each is reported.
    assert kinds["field-number-mismatch"] > 500
    assert kinds["message-only-in-dictionary"] >= 20
    assert kinds["message-only-in-proto"] >= 14
    nbbo = next(m for m in schema.messages if m.name == "OptionNbboQuote")
    wires = {f.wire_name: f for f in nbbo.fields}
    assert wires["bidPrice"].proto_number == 103
    assert wires["bidMask"].proto_number == 161 and wires["bidMask"].dict_number == 127
    assert nbbo.pkey is not None and [f.wire_name for f in nbbo.pkey.fields] == ["okey"]
    ready = next(e for e in schema.enums if e.name == "ReadyScan")
    assert [(m.wire_name, m.number) for m in ready.members] == [
        ("None", 0),
        ("Incremental", 2),
        ("FullScan", 3),
    ]
    subscribe = next(m for m in schema.messages if m.name == "MLinkSubscribe")
    assert [g.wire_name for g in subscribe.groups] == ["Subscribe", "Unsubscribe", "View"]
    group = subscribe.groups[0]
    assert [f.wire_name for f in group.fields] == ["msgName", "msgPKey", "highwaterTs"]


@functools.cache
def _schema(snapshot: str) -> Schema:
    return build_schema(snapshot_dir(snapshot))


def _message(snapshot: str, name: str) -> Message:
    return next(m for m in _schema(snapshot).messages if m.name == name)


def _groups(message: Message) -> dict[str, tuple[str, str, list[str]]]:
    """wire name -> (class name, parent's Python attribute, children's wire names)."""
    attrs = {f.group: f.py_name for f in message.fields if f.group is not None}
    return {
        g.wire_name: (g.class_name, attrs[g.class_name], [f.wire_name for f in g.fields])
        for g in message.groups
    }


# The spec's MLinkQuery sample and SpiderRock's clients spell these; 2023-05's proto still has
# the singular nested message MsgType (2023-07 renamed it MsgTypes and added msgName).
_QUERY_KEY_FILTERS = {
    "TKeyFilters": ("MLinkQueryTKeyFilters", "tkey_filters", ["tickerKey"]),
    "EKeyFilters": ("MLinkQueryEKeyFilters", "ekey_filters", ["expiryKey"]),
    "OKeyFilters": ("MLinkQueryOKeyFilters", "okey_filters", ["optionKey"]),
}
_QUERY_ITEM = ["msgType", "schemaHash", "localMsgType", "localMsgName", "view", "where"]


@pytest.mark.parametrize(
    ("snapshot", "msg_types"),
    [
        (
            "2023-07",
            {"MsgTypes": ("MLinkQueryMsgTypes", "msg_types", ["msgName", *_QUERY_ITEM])},
        ),
        ("2023-05", {"MsgType": ("MLinkQueryMsgType", "msg_type", _QUERY_ITEM)}),
    ],
)
def test_2023_query_repeaters_are_named_like_the_spec(
    snapshot: str, msg_types: dict[str, tuple[str, str, list[str]]]
) -> None:
    assert _groups(_message(snapshot, "MLinkQuery")) == {**_QUERY_KEY_FILTERS, **msg_types}


def test_2026_repeaters_keep_the_dictionary_names() -> None:
    subscribe = _groups(_message("2026-07", "MLinkSubscribe"))
    assert {wire: attr for wire, (_, attr, _) in subscribe.items()} == {
        "Subscribe": "subscribe",
        "Unsubscribe": "unsubscribe",
        "View": "view",
    }
    # Proto-only: the nested message's name, as the dictionary writes versioned names.
    underlying = _groups(_message("2026-07", "RootDefinition"))["Underlying_V7"]
    assert underlying[:2] == ("RootDefinitionUnderlyingV7", "underlying_v7")


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_proto_repeaters_are_named_after_their_nested_message(snapshot: str) -> None:
    schema = _schema(snapshot)
    protos = load_sources(snapshot_dir(snapshot)).protos
    assert protos is not None
    nested = {
        (m.name, f.name): f.type_name
        for m in protos.messages
        for f in m.fields
        if f.repeated and f.type == "message" and f.type_name in {n.name for n in m.nested}
    }
    named = {(m.name, g.proto_name): g.wire_name for m in schema.messages for g in m.groups}
    assert nested and {k: named[k] for k in nested} == nested


def test_2023_07_control_messages_take_published_numbers() -> None:
    schema = _schema("2023-07")
    fallbacks = {i.message: i.detail for i in schema.issues if i.kind == "mnum-fallback"}
    numbered = {m.name: m.mnum for m in schema.messages if m.name in fallbacks}
    assert {m.name: m.mnum for m in schema.messages if m.token == "MLinkWs"} == {
        "MLinkAdmin": 3288,
        "MLinkLogon": 3289,
        "MLinkQuery": 3310,
        "MLinkResponse": 3385,
        "MLinkSignalReady": 3316,
        "MLinkDataAck": 3317,
    }
    # Each use is reported with its evidence: every MLinkWs message, and the REST ones the
    # published material numbers (AggregateNumeric, MsgLayout ... stay without).
    assert numbered == {
        **{m.name: m.mnum for m in schema.messages if m.token == "MLinkWs"},
        "MLinkApiKey": 3319,
        "QueryResult": 3320,
        "MLinkCount": 3321,
        "MsgTickerKey": 3323,
        "MsgExpiryKey": 3324,
        "MsgOptionKey": 3325,
        "MsgDesc": 3330,
        "FieldDesc": 3331,
        "PostAck": 3339,
    }
    assert "mlink-api.md" in fallbacks["MLinkResponse"]
    assert "2023-05 getmsgtypes" in fallbacks["MLinkAdmin"]
    numbers = [m.mnum for m in schema.messages if m.mnum is not None]
    assert len(numbers) == len(set(numbers))


@pytest.mark.parametrize("snapshot", ["2026-07", "2023-05"])
def test_numbered_snapshots_need_no_fallback(snapshot: str) -> None:
    assert not [i for i in _schema(snapshot).issues if i.kind == "mnum-fallback"]


def test_field_descriptions_reach_help(staged: Callable[[Path], Path]) -> None:
    quote = snapshot_registry(staged, "2026-07").by_name("OptionNbboQuote")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        help(quote)
    text = " ".join(out.getvalue().replace("|", " ").split())
    # The dictionary's description of bidExch, in the Attributes section help() prints.
    assert "Attributes:" in text
    assert "bid_exch: first (or largest remaining) exchange at bid price. Wire ``bidExch``" in text
    bid_exch = attrs.fields_dict(quote)["bid_exch"]
    assert bid_exch.metadata == {
        "description": "first (or largest remaining) exchange at bid price",
        "sr_type": "Enum",
    }


def test_long_descriptions_survive_line_splitting(staged: Callable[[Path], Path]) -> None:
    registry = snapshot_registry(staged, "2026-07")
    long = [
        (m.name, f.py_name, " ".join(f.description.split()))
        for m in _schema("2026-07").messages
        for f in m.fields
        if len(f.description) > 80
    ]
    assert len(long) > 50
    assert [
        (name, attr, attrs.fields_dict(registry.by_name(name))[attr].metadata["description"])
        for name, attr, _ in long
    ] == long
