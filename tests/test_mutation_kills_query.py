"""Exact-value tests of srmlink.query written against mutants."""

from __future__ import annotations

from srmlink.query.resolve import _close_matches


def test_at_most_three_suggestions() -> None:
    # Four names each one letter away from "abcd": all alike, only three are offered.
    suggestions = _close_matches("abcd", ["abcx", "abxd", "axcd", "xbcd"])
    assert len(suggestions) == 3
    assert set(suggestions) < {"abcx", "abxd", "axcd", "xbcd"}
    assert _close_matches("abcd", ["zzzz", "abcd"]) == ["abcd"]
