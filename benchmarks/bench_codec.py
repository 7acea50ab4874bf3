"""Codec benchmark (issue 11): typed decode and encode against baselines with no srmlink code.

Decode rows: ``N`` OptionNbboQuote records, 16 fields set, every option key distinct. The
baseline is ``orjson.loads`` of every record's JSON payload, the frames already split by this
file's own few lines (not srmlink's splitter) and the dicts kept in a list; srmlink's rows
include its own splitting. "cold" clears srmlink's key caches before each run and decodes
``--cold`` records (500,000 distinct keys: more than any cache keeps, as on a full OPRA feed);
"warm" decodes ``-n`` records whose keys the decoder has seen. Every path runs interleaved in
this one process, median of ``--repeat`` runs with their spread.

Also: the three widest messages proto vs jsonf decode, and proto encode against
``orjson.dumps`` of the same dicts. Benchmarks are not tests: nothing fails on speed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from _bench import compile_pb2, goal, interleaved, median, table, temp_dir

from srmlink import CallPut, ExpiryKey, OptionKey, TickerKey
from srmlink.codec import clear_key_caches, decode, encode
from srmlink.codec.limits import float_limit, int_range
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, registry
from srmlink.messages.enums import OptExch, OptMktType, UpdateType

WIDE = ("LiveSurfaceCurve", "SymbolRiskSummaryV5", "SpdrMLegBrkrState")


def _quotes(n: int) -> list[OptionNbboQuote]:
    """``n`` quotes with 16 fields set, every option key distinct (up to 500 x 50 x ...)."""
    start = date(2026, 1, 2)
    exchanges = [e for e in OptExch if e.number]
    out = []
    for i in range(n):
        okey = OptionKey(
            "EQT",
            "NMS",
            f"T{i % 1000:03d}",
            start + timedelta(days=(i // 1000) % 50),
            float(1 + i // 50_000) + 0.5 * (i % 2),
            CallPut.CALL if i % 4 < 2 else CallPut.PUT,
        )
        price = (i % 5000) / 100 + 0.01
        out.append(
            OptionNbboQuote(
                pkey=OptionNbboQuotePKey(okey=okey),
                update_type=UpdateType.PRC_CHANGE,
                bid_price=price,
                ask_price=price + 0.05,
                bid_size=1 + i % 500,
                ask_size=1 + (i * 7) % 500,
                cum_bid_size=1 + i % 5000,
                cum_ask_size=1 + (i * 3) % 5000,
                bid_exch=exchanges[i % len(exchanges)],
                ask_exch=exchanges[(i * 3) % len(exchanges)],
                bid_mkt_type=OptMktType.ROTATION,
                bid_price2=price - 0.01,
                ask_price2=price + 0.06,
                bid_time=1 + i % 86_400_000,
                src_timestamp=1_682_362_339_832_326_900 + i,
                net_timestamp=1_682_362_339_832_266_300 + i,
            )
        )
    return out


def _payloads(body: bytes) -> list[bytes]:
    """The payloads of a framed body: 14-byte headers (CRLF, kind, 5-digit mNum, 6-digit
    length). The baseline's own splitter, so that no srmlink code is in its time."""
    out = []
    at, end = 0, len(body)
    while at < end:
        size = int(body[at + 8 : at + 14])
        out.append(body[at + 14 : at + 14 + size])
        at += 14 + size
    return out


def _value(spec: Any, i: int) -> Any:
    """A value every encoding carries exactly for one field, varied by ``i``."""
    sr = spec.sr_type
    if float_limit(spec) is not None:
        return float(i % 1000) + 0.5 if spec.proto_type not in ("int32", "int64") else float(i)
    bounds = int_range(spec)
    if bounds is not None:
        return max(bounds[0], min(bounds[1], 1 + i % 100))
    if sr in ("String", "Text1", "Text2"):
        return f"text{i % 97}"
    if sr in ("Enum", "Flag"):
        members = [m for m in spec.type if m.number]
        return members[i % len(members)]
    if sr == "DateTime":
        return datetime(2026, 7, 1, tzinfo=UTC) + timedelta(seconds=i)
    if sr == "DateKey":
        return date(2026, 7, 1) + timedelta(days=i % 300)
    if sr == "TimeSpan":
        return timedelta(seconds=i % 3600)
    if sr == "TickerKey":
        return TickerKey("EQT", "NMS", f"W{i % 500}")
    if sr == "ExpiryKey":
        return ExpiryKey("EQT", "NMS", f"W{i % 500}", date(2026, 7, 1) + timedelta(days=i % 60))
    if sr == "OptionKey":
        expiry = date(2026, 7, 1) + timedelta(days=i % 60)
        return OptionKey("EQT", "NMS", f"W{i % 500}", expiry, float(i % 300), CallPut.CALL)
    if sr == "Repeater":
        return tuple(_filled(spec.type, i + k) for k in range(3))
    if sr == "PKey":
        return _filled(spec.type, i)
    raise TypeError(sr)


def _filled(cls: Any, i: int) -> Any:
    """An instance with every field protobuf carries set."""
    return cls(**{f.name: _value(f, i) for f in cls.SPEC.fields if f.proto_number is not None})


def _decode(body: bytes, encoding: str) -> Callable[[], object]:
    return lambda: decode(body, encoding)  # type: ignore[arg-type]


def _loads(payloads: list[bytes]) -> Callable[[], object]:
    def run() -> object:
        loads = orjson.loads
        return [loads(p) for p in payloads]

    return run


def _parse(pb: Any, payloads: list[bytes]) -> Callable[[], object]:
    def run() -> object:
        parse = pb.FromString
        return [parse(p) for p in payloads]

    return run


def _decode_rows(args: argparse.Namespace, pb_quote: Any) -> None:
    size = max(args.n, args.cold)
    quotes = _quotes(size)
    bodies = {}
    for label, count in (("warm", args.n), ("cold", args.cold)):
        for encoding in ("jsonf", "proto"):
            bodies[label, encoding] = encode(quotes[:count], encoding)  # type: ignore[arg-type]
    del quotes
    paths: dict[str, Callable[[], object]] = {}
    before: dict[str, Callable[[], None]] = {}
    for label in ("warm", "cold"):
        json_payloads = _payloads(bodies[label, "jsonf"])
        paths[f"orjson.loads, {label} set (baseline)"] = _loads(json_payloads)
        paths[f"upb FromString alone, {label} set"] = _parse(
            pb_quote, _payloads(bodies[label, "proto"])
        )
        for encoding in ("jsonf", "proto"):
            name = f"srmlink decode {encoding}, {label}"
            paths[name] = _decode(bodies[label, encoding], encoding)
            if label == "cold":
                before[name] = clear_key_caches
    for encoding in ("jsonf", "proto"):  # warm: the keys have been seen
        decode(bodies["warm", encoding], encoding)  # type: ignore[arg-type]
    times = interleaved(paths, args.repeat, before)
    for label, count in (("warm", args.n), ("cold", args.cold)):
        part = {k: v for k, v in times.items() if label in k}
        table(
            f"decode, {label}: {count:,} OptionNbboQuote, 16 fields", part, next(iter(part)), count
        )
    print()
    for label, limit in (("warm", 1.0), ("cold", 1.3)):
        base = median(times[f"orjson.loads, {label} set (baseline)"])
        for encoding in ("jsonf", "proto"):
            ratio = median(times[f"srmlink decode {encoding}, {label}"]) / base
            goal(f"{encoding} decode (split included), {label}, x orjson.loads", ratio, limit)


def _wide_rows(args: argparse.Namespace) -> None:
    times: dict[str, list[float]] = {}
    for name in WIDE:
        cls = registry.by_name(name)
        items = [_filled(cls, i) for i in range(args.wide)]
        fields = sum(1 for f in cls.SPEC.fields if f.proto_number is not None)
        paths = {
            f"{name} ({fields} fields) jsonf": _decode(encode(items, "jsonf"), "jsonf"),
            f"{name} ({fields} fields) proto": _decode(encode(items, "proto"), "proto"),
        }
        for encoding in ("jsonf", "proto"):  # keys warm: these rows measure the fields
            paths[f"{name} ({fields} fields) {encoding}"]()
        times.update(interleaved(paths, args.repeat))
    table(f"wide messages, {args.wide:,} records each, decode", times, next(iter(times)), args.wide)
    print()
    for name in WIDE:
        jsonf, proto = (v for k, v in times.items() if k.startswith(name + " "))
        goal(f"{name} proto decode, x its jsonf decode", median(proto) / median(jsonf), 1.2)


def _encode_rows(args: argparse.Namespace, pb_quote: Any) -> None:
    quotes = _quotes(args.n)
    body = encode(quotes, "jsonf")
    dicts = [orjson.loads(p) for p in _payloads(body)]
    google = [pb_quote.FromString(p) for p in _payloads(encode(quotes, "proto"))]

    def dumps() -> object:
        d = orjson.dumps
        return [d(x) for x in dicts]

    def serialize() -> object:
        return [m.SerializeToString() for m in google]

    paths: dict[str, Callable[[], object]] = {
        "orjson.dumps of the same dicts (baseline)": dumps,
        "Google SerializeToString (parsed messages)": serialize,
        "srmlink encode proto": lambda: encode(quotes, "proto"),
        "srmlink encode jsonf": lambda: encode(quotes, "jsonf"),
    }
    times = interleaved(paths, args.repeat)
    table(f"encode, {args.n:,} OptionNbboQuote", times, next(iter(times)), args.n)
    print()
    base = median(times["orjson.dumps of the same dicts (baseline)"])
    goal("proto encode, x orjson.dumps", median(times["srmlink encode proto"]) / base, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=60_000, help="records, warm rows and encode")
    parser.add_argument("--cold", type=int, default=500_000, help="records (distinct keys), cold")
    parser.add_argument("--wide", type=int, default=2_000, help="records per wide message")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a fifth of the sizes, 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.n, args.cold, args.wide, args.repeat = 12_000, 100_000, 400, 3
    with temp_dir() as out:
        compile_pb2(out)
        sys.path.insert(0, out)
        pb_quote = importlib.import_module("OptMktData.OptionNbboQuote_pb2").OptionNbboQuote
        print(f"median of {args.repeat} interleaved runs; spread = (max - min) / median")
        _decode_rows(args, pb_quote)
        _wide_rows(args)
        _encode_rows(args, pb_quote)


if __name__ == "__main__":
    main()
