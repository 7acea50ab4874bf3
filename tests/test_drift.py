"""Schema drift: the server's getmsgtypes records against the generated registry."""

from __future__ import annotations

import warnings

import pytest

from srmlink.drift import DriftItem, DriftKind, check_drift, warn_on_drift
from srmlink.errors import SchemaDriftWarning
from srmlink.registry import MessageEntry, Registry

REGISTRY = Registry(
    "srmlink.messages",
    [
        MessageEntry("OptionNbboQuote", 2785, "OptMktData", "opt_mkt_data"),
        MessageEntry("QueryResult", 3445, "MLinkRest", "mlink_rest", "676ED92444B74907"),
        MessageEntry("UserConfig", 1850, "ClientConfig", None),
    ],
)
SAME = [
    {"name": "OptionNbboQuote", "mNum": 2785, "mToken": "OptMktData"},
    {"name": "QueryResult", "mNum": 3445, "mToken": "MLinkRest", "schemaHash": "676ED92444B74907"},
    {"name": "UserConfig", "mNum": 1850, "mToken": "ClientConfig"},
]


def test_identical_types_drift_nothing() -> None:
    assert check_drift(SAME, REGISTRY) == ()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_on_drift(SAME, REGISTRY) == ()
    assert caught == []


def test_names_match_case_insensitively_and_2023_mcat_counts_as_token() -> None:
    records: list[dict[str, object]] = [
        {"name": "optionnbboquote", "mNum": "2785", "mCat": "OptMktData"},
        {"name": "QueryResult", "mNum": 3445},
        {"name": "UserConfig", "mNum": 1850, "mToken": ""},
    ]
    assert check_drift(records, REGISTRY) == ()


def test_differences_are_listed_in_order() -> None:
    records: list[dict[str, object]] = [
        {"name": "OptionNbboQuote", "mNum": 2745, "mCat": "OptLiveRisk"},
        {"name": "StockBookQuote", "mNum": 3000, "mToken": "EqtMktData"},
        {"name": "UserConfig", "mNum": 1850, "mToken": "ClientConfig"},
        {"mNum": 1},  # no name: not a message type
    ]
    assert check_drift(records, REGISTRY) == (
        DriftItem(DriftKind.UNKNOWN_TO_REGISTRY, "StockBookQuote", server="3000"),
        DriftItem(DriftKind.MISSING_ON_SERVER, "QueryResult", registry="3445"),
        DriftItem(DriftKind.MNUM_DIFFERS, "OptionNbboQuote", "2745", "2785"),
        DriftItem(DriftKind.TOKEN_DIFFERS, "OptionNbboQuote", "OptLiveRisk", "OptMktData"),
    )


def test_schema_hash_is_compared_where_both_sides_have_one() -> None:
    records: list[dict[str, object]] = [
        # The registry has no hash for OptionNbboQuote: nothing to compare.
        {"name": "OptionNbboQuote", "mNum": 2785, "schemaHash": "6C05C402A61F93A0"},
        {"name": "QueryResult", "mNum": 3445, "schemaHash": "1FC00598397D9A93"},
        # The server sends none for UserConfig (2026 servers send none at all).
        {"name": "UserConfig", "mNum": 1850, "schemaHash": ""},
    ]
    assert check_drift(records, REGISTRY) == (
        DriftItem(
            DriftKind.SCHEMA_HASH_DIFFERS, "QueryResult", "1FC00598397D9A93", "676ED92444B74907"
        ),
    )
    assert str(check_drift(records, REGISTRY)[0]) == (
        "QueryResult (schemaHash differs: server 1FC00598397D9A93, bindings 676ED92444B74907)"
    )


def test_drift_warns_exactly_once() -> None:
    records = [
        {"name": "OptionNbboQuote", "mNum": 2745, "mToken": "OptMktData"},
        {"name": "QueryResult", "mNum": 3320, "mToken": "MLinkRest"},
        {"name": "StockBookQuote", "mNum": 3000, "mToken": "EqtMktData"},
        {"name": "UserConfig", "mNum": 1850, "mToken": "ClientConfig"},
    ]
    with pytest.warns(SchemaDriftWarning) as caught:
        items = warn_on_drift(records, REGISTRY)
    assert len(caught) == 1
    assert [i.kind for i in items] == [
        DriftKind.UNKNOWN_TO_REGISTRY,
        DriftKind.MNUM_DIFFERS,
        DriftKind.MNUM_DIFFERS,
    ]
    text = str(caught[0].message)
    assert "1 unknown to the bindings, 2 mNum differs" in text
    assert "OptionNbboQuote (mNum differs: server 2745, bindings 2785)" in text
    assert "srmlink generate" in text
    assert caught[0].filename == __file__


def test_long_drift_is_summarised() -> None:
    records = [{"name": f"New{i}", "mNum": 5000 + i} for i in range(10)]
    with pytest.warns(SchemaDriftWarning, match="and 5 more") as caught:
        warn_on_drift([*SAME, *records], REGISTRY)
    assert len(caught) == 1


def test_a_malformed_answer_warns_instead_of_raising() -> None:
    with pytest.warns(SchemaDriftWarning, match="could not compare") as caught:
        assert warn_on_drift([None], REGISTRY) == ()  # type: ignore[list-item]
    assert len(caught) == 1


def test_drift_warning_is_a_user_warning() -> None:
    assert issubclass(SchemaDriftWarning, UserWarning)
