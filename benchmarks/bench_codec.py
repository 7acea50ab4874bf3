"""Codec benchmark: decode and encode N varied OptionNbboQuote messages, printing us/msg and
ratios against untyped baselines measured in the same process (``nox -s bench``).

Targets (issue): typed framed-JSON decode <= 1.5x orjson.loads; typed protobuf decode <= 2.0x
orjson.loads; encode to framed JSON <= 1.2x orjson.dumps of the same dicts.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from collections.abc import Callable
from datetime import date

import orjson

from srmlink import CallPut, OptionKey
from srmlink.codec import FrameDecoder, clear_key_caches, decode, encode
from srmlink.framing import split_frames
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey
from srmlink.messages.enums import OptExch, OptMktType, UpdateType


def _quotes(n: int, seed: int = 7) -> list[OptionNbboQuote]:
    rng = random.Random(seed)
    tickers = ["AAPL", "SPY", "QQQ", "TSLA", "NVDA", "AMD", "@ES", "SPX", "_SPX", "IWM"]
    exchanges = [e for e in OptExch if e.number]
    out = []
    for i in range(n):
        price = round(rng.uniform(0.05, 50.0), 2)
        okey = OptionKey(
            "EQT",
            "NMS",
            rng.choice(tickers),
            date(2026, 1 + i % 12, 1 + i % 28),
            float(rng.randrange(50, 900)) / (1 if i % 3 else 2),
            CallPut.CALL if i % 2 else CallPut.PUT,
        )
        out.append(
            OptionNbboQuote(
                pkey=OptionNbboQuotePKey(okey=okey),
                update_type=UpdateType.PRC_CHANGE if i % 4 else UpdateType.SIZE_ONLY,
                bid_price=price,
                ask_price=round(price + 0.05, 2),
                bid_size=rng.randrange(1, 500),
                ask_size=rng.randrange(1, 500),
                cum_bid_size=rng.randrange(1, 5000),
                cum_ask_size=rng.randrange(1, 5000),
                bid_exch=rng.choice(exchanges),
                ask_exch=rng.choice(exchanges),
                bid_mask=rng.randrange(0, 1 << 20),
                ask_mask=rng.randrange(0, 1 << 20),
                bid_mkt_type=OptMktType.ROTATION,
                ask_mkt_type=OptMktType.CUST_INTEREST,
                bid_price2=round(price - 0.01, 2),
                ask_price2=round(price + 0.06, 2),
                cum_bid_size2=rng.randrange(1, 100),
                cum_ask_size2=rng.randrange(1, 100),
                bid_time=rng.randrange(0, 86_400_000),
                ask_time=rng.randrange(0, 86_400_000),
                src_timestamp=1_682_362_339_832_326_900 + i,
                net_timestamp=1_682_362_339_832_266_300 + i,
            )
        )
    return out


def _time(func: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        # Every repeat starts cold: no key remembered from the previous one.
        clear_key_caches()
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.n
    quotes = _quotes(n)
    jsonf = encode(quotes, "jsonf")
    proto = encode(quotes, "proto")
    payloads = [f[2] for f in split_frames(jsonf)]
    dicts = [orjson.loads(p) for p in payloads]

    def orjson_loads() -> object:
        loads = orjson.loads
        return [loads(f[2]) for f in split_frames(jsonf)]

    def json_loads() -> object:
        loads = json.loads
        return [loads(f[2]) for f in split_frames(jsonf)]

    def orjson_dumps() -> object:
        dumps = orjson.dumps
        return [dumps(d) for d in dicts]

    def stream(data: bytes, encoding: str) -> Callable[[], object]:
        def run() -> object:
            decoder = FrameDecoder(encoding)  # type: ignore[arg-type]
            out = []
            for i in range(0, len(data), 65536):
                out += decoder.feed(data[i : i + 65536])
            return out

        return run

    results = {
        "orjson.loads (untyped dicts, framing split)": _time(orjson_loads, args.repeat),
        "json.loads (untyped dicts, framing split)": _time(json_loads, args.repeat),
        "orjson.dumps (untyped dicts)": _time(orjson_dumps, args.repeat),
        "srmlink decode jsonf (typed)": _time(lambda: decode(jsonf, "jsonf"), args.repeat),
        "srmlink decode proto (typed)": _time(lambda: decode(proto, "proto"), args.repeat),
        "srmlink FrameDecoder jsonf 64 KiB chunks": _time(stream(jsonf, "jsonf"), args.repeat),
        "srmlink FrameDecoder proto 64 KiB chunks": _time(stream(proto, "proto"), args.repeat),
        "srmlink encode jsonf": _time(lambda: encode(quotes, "jsonf"), args.repeat),
        "srmlink encode proto": _time(lambda: encode(quotes, "proto"), args.repeat),
    }
    base_loads = results["orjson.loads (untyped dicts, framing split)"]
    base_json = results["json.loads (untyped dicts, framing split)"]
    base_dumps = results["orjson.dumps (untyped dicts)"]
    print(f"{n} OptionNbboQuote messages, best of {args.repeat}")
    print(f"{'':44} {'us/msg':>8} {'x orjson':>9} {'x json':>7}")
    for name, seconds in results.items():
        base = base_dumps if "encode" in name or "dumps" in name else base_loads
        print(
            f"{name:44} {seconds / n * 1e6:8.3f} {seconds / base:9.2f} {seconds / base_json:7.2f}"
        )
    print()
    targets = [
        ("typed framed-JSON decode", "srmlink decode jsonf (typed)", base_loads, 1.5),
        ("typed protobuf decode", "srmlink decode proto (typed)", base_loads, 2.0),
        ("encode to framed JSON", "srmlink encode jsonf", base_dumps, 1.2),
    ]
    for label, key, base, target in targets:
        ratio = results[key] / base
        verdict = "met" if ratio <= target else "NOT met"
        print(f"target {label}: {ratio:.2f}x (target <= {target}x): {verdict}")


if __name__ == "__main__":
    main()
