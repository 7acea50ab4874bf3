"""The schema diff: golden changelogs, classification rules and the real snapshot pairs.

The golden changelogs in ``tests/schema_change/expected/`` are the diff of the two small
hand-made schemas ``tests/schema_change/old`` -> ``new``, which exercise every kind of change.
After an intended change to the diff or its rendering, rewrite them with
``python -m tests.schema_change.regenerate`` and review the result before committing.
"""

from __future__ import annotations

import json

import attrs
import pytest

from srmlink.codegen.build import build_schema
from srmlink.codegen.diff import Change, ChangeKind, SchemaDiff, diff_schemas
from srmlink.codegen.ir import EnumMember, EnumType, Field, Group, Message, Origin, Schema

from .conftest import snapshot_dir
from .schema_change.regenerate import EXPECTED, NEW, golden_diff, render_changelogs

REGENERATE = "python -m tests.schema_change.regenerate"
# Kinds only a lock comparison produces (it has fingerprints, not fields).
LOCK_ONLY = {ChangeKind.MESSAGE_FIELDS_CHANGED, ChangeKind.ENUM_VALUES_CHANGED}


def test_changelogs_match_golden_files() -> None:
    for name, text in render_changelogs().items():
        expected = (EXPECTED / name).read_text(encoding="utf-8")
        assert text == expected, f"{name} differs from the golden file; run `{REGENERATE}`"


def test_small_schemas_exercise_every_kind() -> None:
    counts = golden_diff().counts()
    assert set(counts) == set(ChangeKind) - LOCK_ONLY
    # Both classifications of the kinds whose impact depends on the details.
    assert counts[ChangeKind.MNUM_CHANGED] == (2, 1)
    assert counts[ChangeKind.FIELD_RETYPED] == (2, 3)


def test_golden_facts() -> None:
    by_where = {(c.kind, c.where): c for c in golden_diff().changes}
    nbbo = by_where[ChangeKind.MNUM_CHANGED, "OptionNbboQuote"]
    assert (nbbo.old, nbbo.new, nbbo.breaking) == ("2745", "2785", True)
    moved = by_where[ChangeKind.TOKEN_MOVED, "LiveImpliedQuote"]
    assert not moved.breaking
    assert moved.note == "module srmlink.messages.opt_live_risk -> srmlink.messages.opt_analytics"
    years = by_where[ChangeKind.FIELD_RETYPED, "LiveImpliedQuote.years"]
    assert years.breaking and "float -> double" in years.note
    assert not by_where[ChangeKind.FIELD_RETYPED, "StockPrintMarkup.avg_price"].breaking
    assert (ChangeKind.FIELD_ADDED, "MLinkSubscribe.subscribe[].highwater_ts") in by_where
    assert by_where[ChangeKind.MESSAGE_RENAMED_BY_CASE, "MLinkAdmin"].old == "MlinkAdmin"


def test_no_changes_between_equal_schemas() -> None:
    schema = build_schema(NEW)
    diff = diff_schemas(schema, schema)
    assert diff.changes == ()
    assert "No changes." in diff.to_markdown()
    assert json.loads(diff.to_json())["summary"] == {"breaking": 0, "compatible": 0, "kinds": {}}


def test_json_summary_agrees_with_changes() -> None:
    diff = golden_diff()
    data = json.loads(diff.to_json())
    assert data["old"] == "old" and data["new"] == "new"
    assert len(data["changes"]) == len(diff.changes)
    assert data["summary"]["breaking"] == sum(c["breaking"] for c in data["changes"])
    kinds = data["summary"]["kinds"]
    assert kinds["mnum-changed"] == {"breaking": 2, "compatible": 1}


def test_order_does_not_depend_on_input_order() -> None:
    diff = golden_diff()
    shuffled = SchemaDiff(diff.old_label, diff.new_label, reversed(diff.changes))
    assert shuffled == diff


def test_markdown_escapes_table_cells() -> None:
    change = Change(ChangeKind.FIELD_RETYPED, True, "M", "f", "a|b", "c", "x\ny")
    text = SchemaDiff("o", "n", [change]).to_markdown()
    assert "| breaking | `M.f` | a\\|b | c | x y |" in text


# --- classification rules, on one-field schemas -------------------------------------------


def _field(sr_type: str, proto_type: str | None, *, enum: str | None = None) -> Field:
    return Field(
        py_name="value",
        wire_name="value",
        sr_type=sr_type,
        proto_name="value" if proto_type else None,
        proto_number=100 if proto_type else None,
        proto_type=proto_type,
        dict_number=100,
        enum=enum,
        group=None,
        description="",
        origin=Origin.BOTH if proto_type else Origin.DICTIONARY,
    )


def _schema(
    *fields: Field, pkey: tuple[Field, ...] = (), enums: tuple[EnumType, ...] = ()
) -> Schema:
    message = Message(
        name="Quote",
        mnum=1000,
        token="OptMktData",
        module="opt_mkt_data",
        description="",
        pkey=Group("QuotePKey", "pkey", "pkey", pkey) if pkey else None,
        fields=fields,
        groups=(),
        origin=Origin.BOTH,
        proto_file=None,
    )
    return Schema("s", "0", (message,), enums, (), ())


@pytest.mark.parametrize(
    ("old", "new", "breaking"),
    [
        (_field("Int", "int32"), _field("Long", "int64"), False),
        (_field("UShort", "uint32"), _field("Int", "int32"), False),
        (_field("Byte", "int32"), _field("UShort", "uint32"), False),
        (_field("Long", "int64"), _field("Int", "int32"), True),
        (_field("Int", "int32"), _field("UInt", "uint32"), True),
        (_field("UInt", "uint32"), _field("Int", "int32"), True),
        (_field("Float", "float"), _field("Double", "double"), True),
        (_field("Float", None), _field("Double", None), False),
        (_field("Double", "double"), _field("Float", "float"), True),
        (_field("String", "string"), _field("Text2", "string"), False),
        (_field("Int", "int32"), _field("String", "string"), True),
        (_field("Enum", "enum", enum="A"), _field("Enum", "enum", enum="B"), True),
    ],
)
def test_retype_classification(old: Field, new: Field, breaking: bool) -> None:
    (change,) = diff_schemas(_schema(old), _schema(new)).changes
    assert change.kind is ChangeKind.FIELD_RETYPED
    assert change.breaking is breaking


def test_primary_key_change_is_reported_once() -> None:
    key = _field("OptionKey", "OptionKey")
    extra = attrs.evolve(_field("Long", "int64"), py_name="seq")
    diff = diff_schemas(_schema(pkey=(key,)), _schema(pkey=(key, extra)))
    assert [(c.kind, c.breaking) for c in diff.changes] == [(ChangeKind.PRIMARY_KEY_CHANGED, True)]


def test_enum_value_number_gained_is_compatible() -> None:
    def enum(number: int | None) -> EnumType:
        members = (EnumMember("NONE", "None", 0), EnumMember("OK", "Ok", number))
        return EnumType("Result", "result", False, members, "", Origin.BOTH)

    (change,) = diff_schemas(_schema(enums=(enum(None),)), _schema(enums=(enum(1),))).changes
    assert change.kind is ChangeKind.ENUM_VALUE_RENUMBERED and not change.breaking


# --- the real snapshots ------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> dict[str, Schema]:
    return {name: build_schema(snapshot_dir(name)) for name in ("2023-05", "2023-07", "2026-07")}


# The pinned counts below follow from the reconciler as much as from the diff: a deliberate
# change of a reconciliation rule may move them (re-measure, and check the change makes sense).
def _counts(diff: SchemaDiff) -> dict[str, tuple[int, int]]:
    return {kind.value: counts for kind, counts in diff.counts().items()}


def test_real_2023_05_to_2026_07(real: dict[str, Schema]) -> None:
    diff = diff_schemas(real["2023-05"], real["2026-07"])
    renumbered = {
        c.subject: (c.old, c.new, c.breaking)
        for c in diff.changes
        if c.kind is ChangeKind.MNUM_CHANGED
    }
    assert renumbered["OptionNbboQuote"] == ("2745", "2785", True)
    assert renumbered["QueryResult"] == ("3320", "3445", True)
    assert _counts(diff) == {
        "message-added": (0, 213),
        "message-removed": (8, 0),
        "mnum-changed": (71, 1),
        "token-moved": (0, 15),
        "primary-key-changed": (16, 0),
        "field-added": (0, 664),
        "field-removed": (288, 0),
        "field-retyped": (139, 77),
        "wire-name-changed": (40, 0),
        "proto-number-changed": (1514, 0),
        "enum-added": (0, 146),
        "enum-removed": (251, 0),
        "enum-value-added": (0, 1161),
        "enum-value-removed": (901, 0),
        "enum-value-renumbered": (112, 0),
    }


def test_real_2023_07_to_2026_07(real: dict[str, Schema]) -> None:
    diff = diff_schemas(real["2023-07"], real["2026-07"])
    by_where = {(c.kind, c.where): c for c in diff.changes}
    # The 2023-07 dictionary gives QueryResult no number; it takes the spec's 3320 (the REST
    # examples of that era, codegen/known_numbers.py), so 2026's 3445 is a renumbering.
    query = by_where[ChangeKind.MNUM_CHANGED, "QueryResult"]
    assert (query.old, query.new, query.breaking) == ("3320", "3445", True)
    assert (ChangeKind.MNUM_CHANGED, "OptionNbboQuote") not in by_where  # 2785 in both
    assert _counts(diff) == {
        "message-added": (0, 224),
        "message-removed": (7, 0),
        "mnum-changed": (12, 15),  # 12 control messages renumbered from the spec's numbers
        "token-moved": (0, 3),
        # ProductDefinitionV2's legs sit in its Legs group (inferred from the proto: the 2023
        # dictionary has no Repeater rows), not duplicated into its primary key.
        "primary-key-changed": (1, 0),
        "field-added": (0, 235),
        "field-removed": (44, 0),
        "field-retyped": (22, 20),
        "proto-number-changed": (432, 9),
        "enum-added": (0, 258),
        "enum-removed": (14, 0),
        "enum-value-added": (0, 948),
        "enum-value-removed": (796, 0),
        "enum-value-renumbered": (86, 0),
    }
    assert diff_schemas(real["2026-07"], real["2026-07"]).changes == ()
