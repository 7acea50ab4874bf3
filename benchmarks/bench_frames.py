"""Wire -> Arrow benchmark: N OptionNbboQuote records, every option key distinct.

Prints seconds and ratios against the baseline, all in one process, interleaved, medians of
``--repeat`` runs with their spread:

- baseline: ``orjson.loads`` of every record's JSON payload, the frames already split (no
  srmlink code in it) and the dicts kept in a list, as the other paths keep what they build;
- ``decode_arrow`` of the framed-JSON and plain-JSON bodies (Arrow's JSON reader, columnar);
- ``decode_arrow`` of the protobuf body (decoded into messages first: no columnar reader);
- objects first: ``to_arrow(decode(body))``, cold (key caches cleared) and warm.

Goal (issue 12): wire -> Arrow <= 1.0x the baseline for jsonf and proto. Not a test: the suite
never fails on speed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

import orjson

from srmlink import CallPut, OptionKey
from srmlink.codec import clear_key_caches, decode, encode
from srmlink.frames import decode_arrow, to_arrow
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey
from srmlink.messages.enums import UpdateType


def _quotes(n: int) -> list[OptionNbboQuote]:
    start = date(2026, 1, 2)
    out = []
    for i in range(n):
        # Distinct keys: 1,000 tickers x 50 expiries x strikes.
        okey = OptionKey(
            "EQT",
            "NMS",
            f"T{i % 1000:03d}",
            start + timedelta(days=(i // 1000) % 50),
            float(1 + i // 50_000) + 0.5 * (i % 2),
            CallPut.CALL if i % 4 < 2 else CallPut.PUT,
        )
        price = (i % 5000) / 100
        out.append(
            OptionNbboQuote(
                pkey=OptionNbboQuotePKey(okey=okey),
                update_type=UpdateType.PRC_CHANGE,
                bid_price=price,
                ask_price=price + 0.05,
                bid_size=i % 500,
                ask_size=(i * 7) % 500,
                cum_bid_size=i % 5000,
                cum_ask_size=(i * 3) % 5000,
                bid_mask=i % 4096,
                ask_mask=(i * 5) % 4096,
                bid_price2=price - 0.01,
                ask_price2=price + 0.06,
                bid_time=i % 86_400_000,
                ask_time=(i + 1) % 86_400_000,
                src_timestamp=1_682_362_339_832_326_900 + i,
                net_timestamp=1_682_362_339_832_266_300 + i,
            )
        )
    return out


def _once(func: Callable[[], object], cold: bool) -> float:
    if cold:
        clear_key_caches()
    gc.collect()
    start = time.perf_counter()
    kept = func()
    elapsed = time.perf_counter() - start
    del kept
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.n
    quotes = _quotes(n)
    bodies = {e: encode(quotes, e) for e in ("jsonf", "json", "proto")}  # type: ignore[arg-type]
    del quotes
    payloads = [orjson.dumps(item) for item in orjson.loads(bodies["json"])]

    def baseline() -> object:
        loads = orjson.loads
        return [loads(p) for p in payloads]

    paths: dict[str, tuple[Callable[[], object], bool]] = {
        "orjson.loads per record (baseline)": (baseline, False),
        "decode_arrow jsonf (columnar)": (
            lambda: decode_arrow(bodies["jsonf"], OptionNbboQuote),
            False,
        ),
        "decode_arrow json (columnar)": (
            lambda: decode_arrow(bodies["json"], OptionNbboQuote, "json"),
            False,
        ),
        "decode_arrow proto, cold keys": (
            lambda: decode_arrow(bodies["proto"], OptionNbboQuote, "proto"),
            True,
        ),
        "to_arrow(decode jsonf), cold keys": (
            lambda: to_arrow(decode(bodies["jsonf"], "jsonf"), OptionNbboQuote),  # type: ignore[arg-type]
            True,
        ),
        "to_arrow(decode jsonf), warm keys": (
            lambda: to_arrow(decode(bodies["jsonf"], "jsonf"), OptionNbboQuote),  # type: ignore[arg-type]
            False,
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.repeat):
        for name, (func, cold) in paths.items():  # interleaved: load shifts hit every path
            times[name].append(_once(func, cold))
    base = statistics.median(times["orjson.loads per record (baseline)"])
    print(f"wire -> Arrow, {n:,} OptionNbboQuote records (distinct keys), median of {args.repeat}")
    print(f"{'':40} {'s':>8} {'spread':>8} {'x base':>7}")
    for name, samples in times.items():
        median = statistics.median(samples)
        spread = max(samples) - min(samples)
        print(f"{name:40} {median:8.3f} {spread:8.3f} {median / base:7.2f}")
    print()
    for label, name in (
        ("jsonf wire -> Arrow", "decode_arrow jsonf (columnar)"),
        ("proto wire -> Arrow", "decode_arrow proto, cold keys"),
    ):
        ratio = statistics.median(times[name]) / base
        print(
            f"goal {label} <= 1.0x orjson.loads: {ratio:.2f}x {'pass' if ratio <= 1.0 else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
