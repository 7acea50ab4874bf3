"""Stream and REST benchmark (issue 11): srmlink's clients against raw clients with no srmlink
code, both talking to one local ``srmlink serve`` (a separate process on loopback).

- snapshot: ``-n`` OptionNbboQuote records, every option key distinct, loaded with postmsgs,
  queried over the WebSocket: ``AsyncMLinkStream.query`` (typed records, kept in a list)
  against a ``websockets`` client that sends the same MLinkStream request and counts the
  records by their 14-byte frame headers. Seconds from the request to the last record, wall
  clock (the server's encoding is in both), proto and jsonf.
- live: the server's demo feed (60 option quotes, 5 re-quoted every ``--tick`` seconds, each
  stamped with ``srcTimestamp`` when it is made), paced by SignalReady: a consumer of
  ``AsyncMLinkStream.subscribe`` against a raw client that parses each quote (Google's
  ``_pb2`` class, or orjson) and sends SignalReady after each checkpoint. Latency = when the
  consumer has the record - its ``srcTimestamp`` (one clock: same machine); the raw client's is
  the feed's own. "keeps up": receives at least 95% of the raw client's records/s.
- REST: getmsgs of ``--rest`` records, ``MLinkClient`` (proto, typed records) against
  ``httpx`` + ``orjson.loads`` of the same call on /rest/json.

Every path runs in this process, the paths taking turns, medians of ``--repeat`` runs with
their spread. Wall-clock figures swing with the machine's load: read them with the load
average printed at the start. Benchmarks are not tests: nothing fails on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from _bench import compile_pb2, goal, median, spread, temp_dir
from bench_codec import _quotes
from websockets.asyncio.client import ClientConnection, connect

from srmlink.messages import OptionNbboQuote, registry
from srmlink.stream import AsyncMLinkStream
from srmlink.testing import ServerProcess, start_server

QUOTE = "OptionNbboQuote"
ROWS = ["snapshot", "rest", "live"]


# ---- the raw clients: websockets / httpx and orjson, no srmlink code -------------------------


def _request(name: str, message: dict[str, object]) -> bytes:
    """One framed-JSON request (the server reads ``J`` frames on every framed connection)."""
    payload = orjson.dumps({"header": {"mTyp": name}, "message": message})
    return b"\r\nJ00000%06d%b" % (len(payload), payload)


STREAM_REQUEST = _request("MLinkStream", {"msgName": QUOTE, "queryID": 1})
SIGNAL_READY = _request("MLinkSignalReady", {"signalID": 1, "readyScan": "Incremental"})


def _frames(buffer: bytes) -> tuple[list[tuple[bytes, int, int]], bytes]:
    """(mNum digits, payload start, payload end) of every whole frame, and what is left."""
    out = []
    at, end = 0, len(buffer)
    while at + 14 <= end:
        stop = at + 14 + int(buffer[at + 8 : at + 14])
        if stop > end:
            break
        out.append((buffer[at + 3 : at + 8], at + 14, stop))
        at = stop
    return out, buffer[at:]


async def _raw_connect(server: ServerProcess, encoding: str) -> ClientConnection:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    return await connect(
        f"ws://{server.host}/mlink/{encoding}", additional_headers=headers, max_size=None
    )


async def _raw_snapshot(server: ServerProcess, encoding: str, n: int) -> tuple[float, float]:
    """Seconds (wall, CPU) for a raw client to receive ``n`` quotes of a snapshot."""
    wanted = b"%05d" % registry.by_name(QUOTE).MSG_NUM
    ws = await _raw_connect(server, encoding)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        await ws.send(STREAM_REQUEST)
        seen, rest = 0, b""
        while seen < n:
            frames, rest = _frames(rest + await ws.recv(decode=False))
            seen += sum(1 for mnum, _, _ in frames if mnum == wanted)
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await ws.close()


async def _raw_live(
    server: ServerProcess, encoding: str, seconds: float, parse: Callable[[bytes], int]
) -> list[int]:
    """Latencies (ns) of the feed's quotes a raw client receives in ``seconds``."""
    quote = b"%05d" % registry.by_name(QUOTE).MSG_NUM
    checkpoint = b"%05d" % registry.by_name("MLinkStreamCheckPt").MSG_NUM
    ws = await _raw_connect(server, encoding)
    latencies: list[int] = []
    try:
        await ws.send(STREAM_REQUEST)
        start = time.time_ns()
        stop = time.monotonic() + seconds
        rest = b""
        while time.monotonic() < stop:
            buffer = rest + await ws.recv(decode=False)
            frames, rest = _frames(buffer)
            signal = False
            for mnum, at, end in frames:
                if mnum == quote:
                    sent = parse(buffer[at:end])
                    if sent > start:  # the feed's, not the snapshot's
                        latencies.append(time.time_ns() - sent)
                signal = signal or mnum == checkpoint
            if signal:
                await ws.send(SIGNAL_READY)
    finally:
        await ws.close()
    return latencies


def _raw_rest(server: ServerProcess, n: int) -> tuple[float, float]:
    params = {"cmd": "getmsgs", "msgtype": QUOTE, "limit": str(n), "apikey": server.api_key}
    with httpx.Client() as http:
        wall, cpu = time.perf_counter(), time.process_time()
        response = http.get(f"{server.url}/rest/json", params=params)
        records = orjson.loads(response.content)
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
    if len(records) < n:
        raise RuntimeError(f"raw getmsgs returned {len(records)} items, not {n}")
    return elapsed


# ---- srmlink's clients ---------------------------------------------------------------------


def _stream(server: ServerProcess, encoding: str) -> AsyncMLinkStream:
    return AsyncMLinkStream(server.api_key, host=server.host, scheme="ws", encoding=encoding)  # type: ignore[arg-type]


async def _srmlink_snapshot(server: ServerProcess, encoding: str, n: int) -> tuple[float, float]:
    async with _stream(server, encoding) as stream:
        wall, cpu = time.perf_counter(), time.process_time()
        records = await stream.query(OptionNbboQuote)
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
    if len(records) != n:
        raise RuntimeError(f"srmlink query returned {len(records)} records, not {n}")
    return elapsed


async def _srmlink_live(server: ServerProcess, encoding: str, seconds: float) -> list[int]:
    latencies: list[int] = []
    async with _stream(server, encoding) as stream:
        quotes = await stream.subscribe(OptionNbboQuote)
        start = time.time_ns()
        stop = time.monotonic() + seconds
        async for record in quotes:
            sent = record.message.src_timestamp or 0
            if sent > start:
                latencies.append(time.time_ns() - sent)
            if time.monotonic() >= stop:
                break
    return latencies


def _srmlink_rest(server: ServerProcess, n: int) -> tuple[float, float]:
    with server.client(encoding="proto") as client:
        wall, cpu = time.perf_counter(), time.process_time()
        result = client.getmsgs(OptionNbboQuote, limit=n)
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
    if len(result.messages) != n:
        raise RuntimeError(f"srmlink getmsgs returned {len(result.messages)} records, not {n}")
    return elapsed


# ---- rows ----------------------------------------------------------------------------------


def _turns(
    paths: dict[str, Callable[[], tuple[float, float]]], repeat: int
) -> dict[str, tuple[list[float], list[float]]]:
    """(wall, CPU) seconds of every run of every path, the paths taking turns."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in paths}
    for _ in range(repeat):
        for name, run in paths.items():
            wall, cpu = run()
            times[name][0].append(wall)
            times[name][1].append(cpu)
    return times


def _print(title: str, times: dict[str, tuple[list[float], list[float]]], per: int) -> None:
    print(f"\n{title}")
    print(f"{'':44} {'wall s':>8} {'spread':>7} {'us/rec':>7} {'CPU s':>8} {'spread':>7}")
    for name, (wall, cpu) in times.items():
        m = median(wall)
        print(
            f"{name:44} {m:8.3f} {spread(wall):7.0%} {m / per * 1e6:7.2f} "
            f"{median(cpu):8.3f} {spread(cpu):7.0%}"
        )


def _snapshot_rows(server: ServerProcess, args: argparse.Namespace) -> None:
    for encoding in ("proto", "jsonf"):
        paths = {
            f"raw websockets, count records ({encoding})": lambda e=encoding: asyncio.run(
                _raw_snapshot(server, e, args.n)
            ),
            f"AsyncMLinkStream.query ({encoding})": lambda e=encoding: asyncio.run(
                _srmlink_snapshot(server, e, args.n)
            ),
        }
        times = _turns(paths, args.repeat)
        _print(f"WebSocket snapshot, {args.n:,} {QUOTE} ({encoding})", times, args.n)
        raw, typed = (median(wall) for wall, _ in times.values())
        goal(f"WebSocket snapshot {encoding}, x the raw client (wall)", typed / raw, 1.5)


def _percentile(values: list[int], q: float) -> float:
    """The ``q`` quantile of ``values`` in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


def _live_rows(server: ServerProcess, args: argparse.Namespace, pb_quote: Any) -> None:
    parsers: dict[str, Callable[[bytes], int]] = {
        "proto": lambda payload: int(pb_quote.FromString(payload).src_timestamp),
        "jsonf": lambda payload: int(orjson.loads(payload)["message"].get("srcTimestamp", 0)),
    }
    for encoding in ("proto", "jsonf"):
        paths: dict[str, Callable[[], list[int]]] = {
            f"raw websockets + {'Google _pb2' if encoding == 'proto' else 'orjson'} "
            f"({encoding})": lambda e=encoding: asyncio.run(
                _raw_live(server, e, args.seconds, parsers[e])
            ),
            f"AsyncMLinkStream.subscribe ({encoding})": lambda e=encoding: asyncio.run(
                _srmlink_live(server, e, args.seconds)
            ),
        }
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in paths}
        for _ in range(args.repeat):
            for name, run in paths.items():
                latencies = run()
                if not latencies:
                    raise RuntimeError(f"{name}: no record of the feed in {args.seconds} s")
                rate = len(latencies) / args.seconds
                runs[name].append((rate, _percentile(latencies, 0.5), _percentile(latencies, 0.99)))
        print(
            f"\nlive stream, demo feed --tick {args.tick:g}, {args.seconds:g} s a run ({encoding})"
        )
        print(f"{'':44} {'rec/s':>8} {'spread':>7} {'p50 ms':>8} {'p99 ms':>8} {'spread':>7}")
        figures = {}
        for name, rows in runs.items():
            rates, p50s, p99s = ([row[i] for row in rows] for i in range(3))
            figures[name] = (median(rates), median(p50s), median(p99s))
            print(
                f"{name:44} {median(rates):8.0f} {spread(rates):7.0%} {median(p50s):8.2f} "
                f"{median(p99s):8.2f} {spread(p99s):7.0%}"
            )
        raw, typed = figures.values()
        missed = max(0.0, 1 - typed[0] / raw[0]) * 100
        goal(f"live {encoding}: records/s short of the raw client's (keeps up)", missed, 5, " %")
        goal(
            f"live {encoding}: p99 latency over the raw client's p99", typed[2] - raw[2], 50, " ms"
        )


def _rest_rows(server: ServerProcess, args: argparse.Namespace) -> None:
    paths = {
        "raw httpx + orjson.loads (json)": lambda: _raw_rest(server, args.rest),
        "MLinkClient.getmsgs (proto)": lambda: _srmlink_rest(server, args.rest),
    }
    times = _turns(paths, args.repeat)
    _print(f"REST getmsgs, {args.rest:,} {QUOTE}", times, args.rest)
    raw, typed = (median(wall) for wall, _ in times.values())
    goal("REST getmsgs proto, x raw httpx + orjson on json (wall)", typed / raw, 0.8)


def _loaded(n: int) -> ServerProcess:
    """A server without demo data holding ``n`` quotes, every option key distinct."""
    # A snapshot goes out as one WebSocket frame: more than the default 16 MiB (jsonf).
    extra = ["--tick", "0", "--max-queued-bytes", str(1 << 30)]
    server = start_server(demo=False, extra=extra, timeout=120)
    quotes = _quotes(n)
    with server.client() as client:
        for start in range(0, n, 5_000):
            client.postmsgs(quotes[start : start + 5_000])
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="snapshot records")
    parser.add_argument("--rest", type=int, default=10_000, help="getmsgs records")
    parser.add_argument(
        "--tick", type=float, default=0.00001, help="demo feed tick, s (10 us: as fast as it goes)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="live run length")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a fifth of the sizes, 3 runs")
    parser.add_argument(
        "--rows", nargs="+", choices=ROWS, default=ROWS, help="the rows to run (default all)"
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.rest, args.seconds, args.repeat = 20_000, 2_000, 2.0, 3
    print(
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; median of "
        f"{args.repeat} interleaved runs; spread = (max - min) / median"
    )
    if "snapshot" in args.rows or "rest" in args.rows:
        server = _loaded(max(args.n, args.rest))
        try:
            if "snapshot" in args.rows:
                _snapshot_rows(server, args)
            if "rest" in args.rows:
                _rest_rows(server, args)
        finally:
            server.stop()
    if "live" not in args.rows:
        return
    with temp_dir() as out:
        compile_pb2(out)
        sys.path.insert(0, out)
        pb_quote = importlib.import_module("OptMktData.OptionNbboQuote_pb2").OptionNbboQuote
        server = start_server(extra=["--tick", str(args.tick)])
        try:
            _live_rows(server, args, pb_quote)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
