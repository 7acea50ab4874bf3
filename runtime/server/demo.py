"""Demo data for the local server: a few tickers with option chains whose quotes tick."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import date
from typing import Any

from ..keys import CallPut, OptionKey, TickerKey
from ..message import Message
from ..records import has_field
from .rest import RestHandler

__all__ = ["DEMO_TICKERS", "seed", "tick_forever"]

DEMO_TICKERS = {"AAPL": 190.0, "SPY": 520.0, "QQQ": 440.0}
_EXPIRIES = (date(2026, 12, 18), date(2027, 1, 15))
_STRIKE_STEPS = (-10, -5, 0, 5, 10)


def _pkey(handler: RestHandler, name: str, key: Any) -> Any:
    """The primary-key object of a single-part key message type."""
    pkey_type = handler.registry.by_name(name).SPEC.field("pkey").type
    assert pkey_type is not None
    return pkey_type(**{pkey_type.SPEC.fields[0].name: key})


def _quote(
    handler: RestHandler, okey: OptionKey, underlier: float, rng: random.Random, stamped: bool
) -> Message:
    intrinsic = max(0.0, (underlier - okey.strike) * (1 if okey.call_put is CallPut.CALL else -1))
    mid = round(intrinsic + rng.uniform(0.5, 6.0), 2)
    # When the quote was made: what a client measures the feed's latency from.
    stamp = {"srcTimestamp": time.time_ns()} if stamped else {}
    return handler.make(
        "OptionNbboQuote",
        pkey=_pkey(handler, "OptionNbboQuote", okey),
        updateType="PrcChange",
        bidPrice=round(mid - 0.05, 2),
        askPrice=round(mid + 0.05, 2),
        bidSize=rng.randrange(1, 200),
        askSize=rng.randrange(1, 200),
        **stamp,
    )


def _stamped(handler: RestHandler) -> bool:
    """Whether this schema's OptionNbboQuote has ``srcTimestamp``."""
    return has_field(handler.registry.by_name("OptionNbboQuote"), "srcTimestamp")


def seed(handler: RestHandler, seed_value: int = 1) -> list[OptionKey]:
    """Put the demo chains (and stock quotes, where the schema has them) into the store."""
    rng = random.Random(seed_value)
    stamped = _stamped(handler)
    keys: list[OptionKey] = []
    for symbol, spot in DEMO_TICKERS.items():
        for expiry in _EXPIRIES:
            for step in _STRIKE_STEPS:
                for side in (CallPut.CALL, CallPut.PUT):
                    okey = OptionKey("EQT", "NMS", symbol, expiry, round(spot + step), side)
                    handler.store.put(_quote(handler, okey, spot, rng, stamped))
                    keys.append(okey)
        if "StockBookQuote" in handler.registry:
            ticker = TickerKey("EQT", "NMS", symbol)
            handler.store.put(
                handler.make(
                    "StockBookQuote",
                    pkey=_pkey(handler, "StockBookQuote", ticker),
                    bidPrice1=round(spot - 0.01, 2),
                    askPrice1=round(spot + 0.01, 2),
                )
            )
    return keys


async def tick_forever(
    handler: RestHandler, keys: list[OptionKey], interval: float = 0.2, seed_value: int = 2
) -> None:
    """Re-quote a few random options every ``interval`` seconds, until cancelled."""
    rng = random.Random(seed_value)
    spots = dict(DEMO_TICKERS)
    stamped = _stamped(handler)
    while True:
        await asyncio.sleep(interval)
        for symbol in spots:
            spots[symbol] *= 1 + rng.uniform(-0.001, 0.001)
        for okey in rng.sample(keys, k=min(5, len(keys))):
            handler.store.put(_quote(handler, okey, spots[okey.ticker], rng, stamped))
