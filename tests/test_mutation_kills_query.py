"""Exact-value tests of srmlink.query written against mutants."""

from __future__ import annotations

import pytest

from srmlink.errors import QueryError
from srmlink.messages import OptionNbboQuote
from srmlink.query import field_getter
from srmlink.query.resolve import _close_matches


def test_at_most_three_suggestions() -> None:
    # Four names each one letter away from "abcd": all alike, only three are offered.
    suggestions = _close_matches("abcd", ["abcx", "abxd", "axcd", "xbcd"])
    assert len(suggestions) == 3
    assert set(suggestions) < {"abcx", "abxd", "axcd", "xbcd"}
    assert _close_matches("abcd", ["zzzz", "abcd"]) == ["abcd"]


def test_an_unknown_first_part_of_a_path_is_the_one_named() -> None:
    with pytest.raises(QueryError, match=r"^OptionNbboQuote: no field 'bogus'$"):
        field_getter(OptionNbboQuote, "bogus.tk")
