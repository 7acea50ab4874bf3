"""Stripes: exclusive slices of the feed, so several connections can share one stream.

MLinkStream's ``stripeFilter`` names one stripe; a connection per stripe in :data:`STRIPES`
together receives every record exactly once. A record's stripe comes from its first security
key (the primary key's TickerKey / ExpiryKey / OptionKey part, else the first key field),
tested in this order:

- ``X``: futures: asset type ``FUT``, or a futures ticker source (CME, ICE, CFE, CBOT, NYMEX,
  COMEX).
- ``S``: the SPX family: ticker ``SPX``, ``SPXW``, ``SPXPM``, ``SPXQ`` or ``XSP``.
- ``M``: indexes: asset type ``IDX``, or an index ticker source (CIDX, DJI, RUT).
- ``A`` .. ``H``: everything else by ticker range, the ticker upper-cased and compared by code
  point, the starting ticker inclusive and the ending one exclusive:

  ====== ========== ========== ==================== =========================
  stripe from       to         first half           second half
  ====== ========== ========== ==================== =========================
  A      (start)    ``C``      A1: .. ``B``         A2: ``B`` .. ``C``
  B      ``C``      ``F``      B1: ``C`` .. ``D``   B2: ``D`` .. ``F``
  C      ``F``      ``I``      C1: ``F`` .. ``G``   C2: ``G`` .. ``I``
  D      ``I``      ``M``      D1: ``I`` .. ``K``   D2: ``K`` .. ``M``
  E      ``M``      ``P``      E1: ``M`` .. ``N``   E2: ``N`` .. ``P``
  F      ``P``      ``S``      F1: ``P`` .. ``Q``   F2: ``Q`` .. ``S``
  G      ``S``      ``U``      G1: ``S`` .. ``T``   G2: ``T`` .. ``U``
  H      ``U``      (end)      H1: ``U`` .. ``W``   H2: ``W`` ..
  ====== ========== ========== ==================== =========================

  So digits and ``#`` spreads fall in A, ``_`` synthetics in H, and a record without any
  security key (empty ticker) in A (A1).

The sub-codes ``A1`` .. ``H2`` split each ticker-range stripe into two exact halves (every
record of ``A`` is in exactly one of ``A1`` and ``A2``).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from .errors import QueryError
from .message import Message

__all__ = ["STRIPES", "SUB_STRIPES", "check_stripe", "in_stripe", "stripe_of"]

STRIPES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "H", "M", "S", "X")

_FUTURES_SOURCES = frozenset({"CME", "ICE", "CFE", "CBOT", "NYMEX", "COMEX"})
_INDEX_SOURCES = frozenset({"CIDX", "DJI", "RUT"})
_SPX_FAMILY = frozenset({"SPX", "SPXW", "SPXPM", "SPXQ", "XSP"})
# Where each ticker-range stripe starts (A starts before every ticker), and where its second
# half starts.
_RANGES = ("A", "B", "C", "D", "E", "F", "G", "H")
_STARTS = ("", "C", "F", "I", "M", "P", "S", "U")
_HALVES = ("B", "D", "G", "K", "N", "Q", "T", "W")

SUB_STRIPES: tuple[str, ...] = tuple(f"{code}{half}" for code in _RANGES for half in "12")
_KNOWN = frozenset(STRIPES) | frozenset(SUB_STRIPES)
_KEY_TYPES = ("TickerKey", "ExpiryKey", "OptionKey")


def _security_key(message: Message) -> Any:
    """The first security key of a record: its primary key's parts first, then its fields."""
    pkey = getattr(message, "pkey", None)
    sources = (pkey, message) if pkey is not None and hasattr(pkey, "SPEC") else (message,)
    for source in sources:
        for spec in source.SPEC.fields:
            if spec.sr_type in _KEY_TYPES:
                value = getattr(source, spec.name)
                if value is not None:
                    return value
    return None


def _ticker(message: Message) -> str:
    key = _security_key(message)
    return str(key.ticker).upper() if key is not None else ""


def _range_index(ticker: str) -> int:
    return bisect_right(_STARTS, ticker) - 1


def stripe_of(message: Message) -> str:
    """The one stripe of :data:`STRIPES` that ``message`` belongs to."""
    key = _security_key(message)
    ticker = str(key.ticker).upper() if key is not None else ""
    if key is not None:
        asset, source = str(key.asset_type).upper(), str(key.ticker_src).upper()
        if asset == "FUT" or source in _FUTURES_SOURCES:
            return "X"
        if ticker in _SPX_FAMILY:
            return "S"
        if asset == "IDX" or source in _INDEX_SOURCES:
            return "M"
    return _RANGES[_range_index(ticker)]


def check_stripe(code: str) -> str:
    """The stripe code ``code`` normalised (upper case, trimmed).

    Raises:
        QueryError: ``code`` is neither one of :data:`STRIPES` nor a sub-code ``A1`` .. ``H2``.
    """
    normal = code.strip().upper()
    if normal not in _KNOWN:
        raise QueryError(
            f"unknown stripe {code!r}: one of {' '.join(STRIPES)} or {SUB_STRIPES[0]}.."
            f"{SUB_STRIPES[-1]}"
        )
    return normal


def in_stripe(message: Message, code: str) -> bool:
    """Whether ``message`` belongs to stripe ``code`` (a stripe or a half, ``A1``).

    Raises:
        QueryError: an unknown stripe code.
    """
    normal = check_stripe(code)
    stripe = stripe_of(message)
    if stripe != normal[0]:
        return False
    if len(normal) == 1:
        return True
    second = _ticker(message) >= _HALVES[_RANGES.index(stripe)]
    return second == (normal[1] == "2")
