"""The local server's getaggregate / getsummary helpers, against values worked out by hand.

The functions are pure (records and getters in, buckets and statistics out), so plain
dictionaries stand in for records here.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from srmlink.errors import QueryError
from srmlink.server.aggregate import (
    GroupTerm,
    Stats,
    bucket_keys,
    parse_group,
    parse_measures,
    stats,
)


def get(name: str) -> Any:
    return lambda record: record.get(name)


def keys_of(records: list[dict[str, Any]], terms: tuple[GroupTerm, ...]) -> dict[Any, list[int]]:
    """The buckets of ``records`` (each named by its ``id``), as bucket_keys groups them."""
    getters = [get(term.path) for term in terms]
    groups = bucket_keys(records, terms, getters)  # type: ignore[arg-type]
    return {key: [r["id"] for r in members] for key, members in groups.items()}


def test_group_terms_parse() -> None:
    assert parse_group("okey.tk|bidPrice:range:3, askSize:TOP:2") == (
        GroupTerm("okey.tk"),
        GroupTerm("bidPrice", "range", 3),
        GroupTerm("askSize", "top", 2),
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a:range:0", "group term 'a:range:0'"),
        ("a:median:3", "group term 'a:median:3'"),
        ("a:top:x", "group term 'a:top:x'"),
        ("a:top", "group term 'a:top'"),
        (" | ", "group needs 1 to 4 terms, got 0"),
        ("a|b|c|d|e", "group needs 1 to 4 terms, got 5"),
    ],
)
def test_bad_group_terms_are_named(text: str, reason: str) -> None:
    with pytest.raises(QueryError, match=reason):
        parse_group(text)


def test_four_group_terms_are_allowed() -> None:
    assert [t.path for t in parse_group("a|b|c|d")] == ["a", "b", "c", "d"]


def test_measures_parse_and_name_a_bad_statistic() -> None:
    assert parse_measures("bidSize:sum|askPrice|x:AVG,y:cnt") == ("bidSize", "askPrice", "x", "y")
    with pytest.raises(QueryError, match=r"measure 'x:median': the statistic must be one of"):
        parse_measures("x:median")


def test_range_buckets_split_the_span_into_equal_widths() -> None:
    # 0..10 in 4 buckets of 2.5; the maximum falls in the last bucket, not a fifth one.
    values = [0, 10, 5, 2.5, 7.4, None, math.nan, "text"]
    records = [{"id": i, "p": v} for i, v in enumerate(values)]
    assert keys_of(records, (GroupTerm("p", "range", 4),)) == {
        ("0..2.5",): [0],
        ("7.5..10",): [1],
        ("5..7.5",): [2, 4],
        ("2.5..5",): [3],
        ("",): [5, 6, 7],
    }


def test_range_of_equal_values_is_one_unit_wide() -> None:
    records = [{"id": 0, "p": 3.0}, {"id": 1, "p": 3}]
    assert keys_of(records, (GroupTerm("p", "range", 2),)) == {("3..4",): [0, 1]}


def test_range_without_numbers_groups_by_text() -> None:
    records = [{"id": 0, "p": None}, {"id": 1, "p": "A"}, {"id": 2, "p": math.inf}]
    assert keys_of(records, (GroupTerm("p", "range", 3),)) == {
        ("",): [0],
        ("A",): [1],
        ("inf",): [2],
    }


def test_values_are_keyed_by_their_text() -> None:
    records = [{"id": 0, "p": 2.0}, {"id": 1, "p": 2}, {"id": 2, "p": 2.5}, {"id": 3, "p": None}]
    assert keys_of(records, (GroupTerm("p"),)) == {("2",): [0, 1], ("2.5",): [2], ("",): [3]}


def test_top_keeps_the_most_frequent_values_in_first_seen_order() -> None:
    # k: c three times, b twice (kept); a and d once (dropped). s splits the kept ones.
    records = [{"id": i, "k": k, "s": i % 2} for i, k in enumerate("abccbcd")]
    groups = keys_of(records, (GroupTerm("k", "top", 2), GroupTerm("s")))
    assert list(groups.items()) == [
        (("b", "1"), [1]),
        (("c", "0"), [2]),
        (("c", "1"), [3, 5]),
        (("b", "0"), [4]),
    ]


def test_statistics_count_finite_numbers_only() -> None:
    assert stats([1, 2, True, math.inf, "3", None, 4.5, math.nan]) == Stats(3, 7.5, 2.5, 1.0, 4.5)
    assert stats([None, "x"]) == Stats(0, None, None, None, None)
