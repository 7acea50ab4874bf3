"""Exact-value tests of srmlink.keys written against mutants: every date and strike boundary
with the position and reason of its error, so a moved bound (``<= 12`` -> ``<= 11``) fails.

The well-formed dates take a fast path; these cases reach the checks that explain a failure.
"""

from __future__ import annotations

import math

import pytest

from srmlink.errors import KeyParseError
from srmlink.keys import CallPut, ExpiryKey, OptionKey, TickerKey

HEAD = "AAPL-NMS-EQT-"


@pytest.mark.parametrize(
    "expiry",
    ["2026-01-01", "2026-12-31", "2024-02-29", "0001-01-01", "9999-12-31"],
)
def test_valid_dates_at_the_bounds(expiry: str) -> None:
    assert str(ExpiryKey.parse(HEAD + expiry)) == HEAD + expiry


@pytest.mark.parametrize(
    ("expiry", "position", "reason"),
    [
        ("0000-01-01", 13, "year 0000 does not exist"),
        ("2026-00-01", 18, "month 0 is not 01-12"),
        ("2026-13-01", 18, "month 13 is not 01-12"),
        # A bad day in the first and the last month: the month check must let both through.
        ("2026-01-32", 21, "day 32 is not in 2026-01"),
        ("2026-12-32", 21, "day 32 is not in 2026-12"),
        ("2026-01-00", 21, "day 0 is not in 2026-01"),
        ("2023-02-29", 21, "day 29 is not in 2023-02"),
        ("2024-02-30", 21, "day 30 is not in 2024-02"),
        ("2026-04-31", 21, "day 31 is not in 2026-04"),
        ("20266-01-01", 13, "year '20266' is not 4 digits"),
        ("2026-1-01", 18, "month '1' is not 2 digits"),
        ("2026-01-0x", 21, "day '0x' is not 2 digits"),
        # Ten characters that Python's fromisoformat reads as an ISO week date (2026-12-18):
        # not the YYYY-MM-DD the spec writes, so refused, not turned into some day.
        ("2026-W51-5", 18, "month 'W51' is not 2 digits"),
    ],
)
def test_bad_dates_name_the_part_and_its_position(expiry: str, position: int, reason: str) -> None:
    with pytest.raises(KeyParseError) as caught:
        ExpiryKey.parse(HEAD + expiry)
    assert (caught.value.position, caught.value.reason) == (position, "expiration: " + reason)


@pytest.mark.parametrize(
    ("strike", "expected"),
    [("0", 0.0), ("12.50", 12.5), ("0.001", 0.001), ("999999", 999_999.0)],
)
def test_strike_text(strike: str, expected: float) -> None:
    key = OptionKey.parse(f"{HEAD}2026-12-31-{strike}-C")
    assert key.strike == expected


@pytest.mark.parametrize(
    ("strike", "reason"),
    [
        ("1e999", "'1e999' is not a decimal number such as 500 or 12.5"),
        ("9" * 400, "9" * 20 + "... is too large"),
    ],
)
def test_bad_strike_text(strike: str, reason: str) -> None:
    with pytest.raises(KeyParseError) as caught:
        OptionKey.parse(f"{HEAD}2026-12-31-{strike}-C")
    assert (caught.value.position, caught.value.reason) == (24, "strike: " + reason)


@pytest.mark.parametrize(
    ("expiry", "reason"),
    [("2026-13-01", "month 13 is not 01-12"), ("2026-1-1", "month '1' is not 2 digits")],
)
def test_expiry_from_json_explains_a_bad_date(expiry: str, reason: str) -> None:
    # The fast path takes well-formed dates only; any other goes to the checks that explain.
    with pytest.raises(KeyParseError) as caught:
        ExpiryKey.from_json({"at": "EQT", "ts": "NMS", "tk": "AAPL", "dt": expiry})
    assert caught.value.reason == f"member 'dt' (expiration): {reason}"


@pytest.mark.parametrize(
    ("text", "position", "found"),
    [("AAPL-NMS-EQT", 12, 3), ("AAPL-NMS-EQT-2026-01-02-5", 25, 7)],
)
def test_too_few_parts_counts_them(text: str, position: int, found: int) -> None:
    with pytest.raises(KeyParseError) as caught:
        OptionKey.parse(text)
    assert (caught.value.position, caught.value.reason) == (
        position,
        f"expected SSSS-TS-AT-YYYY-MM-DD-XXXX-CP, found {found} of its 8 '-'-separated parts",
    )


@pytest.mark.parametrize("ticker", ["", "A B", "A|B", "A\tB"])
def test_a_bad_ticker_from_protobuf_is_refused(ticker: str) -> None:
    # The protobuf path skips the validators only for a ticker that is a valid symbol.
    with pytest.raises((ValueError, KeyParseError)):
        TickerKey.from_proto_tuple((1, 1, ticker))


def test_a_bad_month_in_the_first_year_is_named_as_the_month() -> None:
    with pytest.raises(KeyParseError) as caught:
        ExpiryKey.parse(HEAD + "0001-13-01")
    assert (caught.value.position, caught.value.reason) == (18, "expiration: month 13 is not 01-12")


def test_a_negative_zero_strike_from_json_is_zero() -> None:
    obj = {"at": "EQT", "ts": "NMS", "tk": "AAPL", "dt": "2026-12-18", "xx": -0.0, "cp": "Call"}
    key = OptionKey.from_json(obj)
    assert math.copysign(1.0, key.strike) == 1.0
    assert str(key) == "AAPL-NMS-EQT-2026-12-18-0-C"


@pytest.mark.parametrize("strike", [math.inf, math.nan, -1.0])
def test_a_bad_strike_from_protobuf_is_refused(strike: float) -> None:
    with pytest.raises((ValueError, KeyParseError)):
        OptionKey.from_proto_tuple((1, 1, "AAPL", (2026, 12, 18), strike, 1))


def test_call_put_orders_strictly_by_number() -> None:
    assert CallPut.CALL < CallPut.PUT and not CallPut.PUT < CallPut.CALL
    assert not CallPut.CALL < CallPut.CALL


def test_a_negative_zero_strike_from_protobuf_is_zero() -> None:
    key = OptionKey.from_proto_tuple((1, 1, "AAPL", (2026, 12, 18), -0.0, 1))
    assert math.copysign(1.0, key.strike) == 1.0


def test_a_bad_ticker_in_a_protobuf_expiry_key_is_refused() -> None:
    with pytest.raises((ValueError, KeyParseError)):
        ExpiryKey.from_proto_tuple((1, 1, "A B", (2026, 12, 18)))
