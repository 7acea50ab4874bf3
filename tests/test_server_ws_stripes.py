"""Stripes (srmlink.stripes): every record is in exactly one stripe, and each ticker-range
stripe is split exactly by its two halves."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, strategies as st

from srmlink import OptionKey, TickerKey
from srmlink.errors import QueryError
from srmlink.keys import CallPut
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, registry
from srmlink.server import LiveStore, RestHandler
from srmlink.server.demo import seed
from srmlink.stripes import STRIPES, SUB_STRIPES, check_stripe, in_stripe, stripe_of

SOURCES = ("NMS", "CBOE", "CME", "ICE", "CFE", "CBOT", "NYMEX", "COMEX", "CIDX", "DJI", "RUT")
ASSETS = ("EQT", "IDX", "FUT", "SYN", "BND")
SYMBOL = st.text(
    alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcz0123456789@#_."), min_size=1, max_size=8
)


def quote(asset: str, source: str, ticker: str) -> OptionNbboQuote:
    okey = OptionKey(asset, source, ticker, date(2026, 12, 18), 100, CallPut.CALL)
    return OptionNbboQuote(pkey=OptionNbboQuotePKey(okey=okey), bid_price=1.0)


def assert_exactly_one(message: object) -> None:
    homes = [code for code in STRIPES if in_stripe(message, code)]  # type: ignore[arg-type]
    assert homes == [stripe_of(message)], homes  # type: ignore[arg-type]
    if homes[0] in "ABCDEFGH":
        halves = [code for code in SUB_STRIPES if in_stripe(message, code)]  # type: ignore[arg-type]
        assert halves in ([f"{homes[0]}1"], [f"{homes[0]}2"]), halves
    else:
        assert not any(in_stripe(message, code) for code in SUB_STRIPES)  # type: ignore[arg-type]


@given(st.sampled_from(ASSETS), st.sampled_from(SOURCES), SYMBOL)
def test_any_ticker_is_in_exactly_one_stripe(asset: str, source: str, ticker: str) -> None:
    assert_exactly_one(quote(asset, source, ticker))


def test_every_demo_record_is_in_exactly_one_stripe() -> None:
    handler = RestHandler(LiveStore(), registry)
    seed(handler)
    seen = set()
    for name in handler.store.names():
        for record in handler.store.records(name):
            assert_exactly_one(record)
            seen.add(stripe_of(record))
    assert seen == {"A", "F", "G"}  # AAPL, QQQ, SPY


@pytest.mark.parametrize(
    ("asset", "source", "ticker", "stripe", "half"),
    [
        ("EQT", "NMS", "AAPL", "A", "A1"),
        ("EQT", "NMS", "BAC", "A", "A2"),
        ("EQT", "NMS", "C", "B", "B1"),  # the starting ticker is inclusive
        ("EQT", "NMS", "EZZZ", "B", "B2"),
        ("EQT", "NMS", "F", "C", "C1"),
        ("EQT", "NMS", "IBM", "D", "D1"),
        ("EQT", "NMS", "MSFT", "E", "E1"),
        ("EQT", "NMS", "QQQ", "F", "F2"),
        ("EQT", "NMS", "SPY", "G", "G1"),
        ("EQT", "NMS", "TSLA", "G", "G2"),
        ("EQT", "NMS", "UBER", "H", "H1"),
        ("EQT", "NMS", "ZM", "H", "H2"),
        ("SYN", "NMS", "_AAPL", "H", "H2"),  # "_" sorts after Z
        ("EQT", "NMS", "#AB12cd34", "A", "A1"),
        ("EQT", "NMS", "SPXW", "S", None),
        ("IDX", "CBOE", "SPX", "S", None),
        ("EQT", "NMS", "XSP", "S", None),
        ("IDX", "CBOE", "VIX", "M", None),
        ("EQT", "RUT", "RUT", "M", None),
        ("FUT", "CME", "@ES", "X", None),
        ("EQT", "CFE", "VX", "X", None),
        ("FUT", "CBOE", "SPX", "X", None),  # futures first, even for an SPX root
    ],
)
def test_documented_ranges(
    asset: str, source: str, ticker: str, stripe: str, half: str | None
) -> None:
    record = quote(asset, source, ticker)
    assert stripe_of(record) == stripe
    if half is not None:
        assert in_stripe(record, half) and in_stripe(record, half.lower())


def test_a_record_without_a_security_key_is_in_a1() -> None:
    record = registry.by_name("MLinkAdmin")()
    assert stripe_of(record) == "A" and in_stripe(record, "A1")
    ticker_only = registry.by_name("StockBookQuote")
    pkey = ticker_only.SPEC.field("pkey").type
    assert pkey is not None
    stock = ticker_only(pkey=pkey(ticker=TickerKey("EQT", "NMS", "MSFT")))
    assert stripe_of(stock) == "E"


@pytest.mark.parametrize("code", ["Q", "A3", "I1", "", "AB"])
def test_unknown_codes_are_refused_naming_them(code: str) -> None:
    with pytest.raises(QueryError, match=f"unknown stripe {code!r}"):
        check_stripe(code)
    with pytest.raises(QueryError):
        in_stripe(quote("EQT", "NMS", "AAPL"), code)
