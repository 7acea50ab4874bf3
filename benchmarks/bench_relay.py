"""Relay benchmark: N OptionNbboQuote records, every option key distinct, through the Redis
sink (frame encoding + one pipelined MULTI/EXEC of XADD and HSET per 1,000 records) into a
private redis-server, then read back by one consumer of a consumer group (XREADGROUP, decode,
XACK) and as a whole last-value cache (HSCAN, decode).

First a worker's own work per record in one process (CPU time): frames decoded by the
stream protocol into sink entries, encoded again or carrying their frames as received.
Prints records/s (wall clock: Redis is a separate process) and the LVC's memory per series
(Redis ``MEMORY USAGE`` of the hash / N), the figures docs/scale.md scales up. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from bench_frames import _quotes

from srmlink.codec import encode
from srmlink.messages import OptionNbboQuote, registry
from srmlink.relay import RedisSink, RelayReader, lvc_key, resume_key, stream_key
from srmlink.relay.sink import Buffer, entry_of
from srmlink.stream import AsyncMLinkStream, Record
from srmlink.stream.protocol import ClientProtocol
from srmlink.testing import ServerProcess, start_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.relay.conftest import RedisServer  # the tests' redis-server runner


async def _raw_image(server: ServerProcess, n: int) -> float:
    """Seconds for a plain stream client (all stripes) to receive ``n`` quotes."""
    start = time.perf_counter()
    async with AsyncMLinkStream(
        server.api_key, host=server.host, scheme="ws", stripes=True
    ) as stream:
        seen = 0
        async for _ in await stream.subscribe(OptionNbboQuote):
            seen += 1
            if seen >= n:
                break
    return time.perf_counter() - start


def _relay_image(server: ServerProcess, url: str, n: int, workers: int) -> float:
    """Seconds for ``srmlink relay --workers N`` to bring ``n`` quotes into the LVC, from its
    first record (process start-up left out)."""
    raw = redis.Redis.from_url(url)
    # Nothing left by a previous run: not its keys, nor a highwaterTs to resume from.
    raw.delete(*(key("OptionNbboQuote") for key in (lvc_key, stream_key, resume_key)))
    args = ["OptionNbboQuote", "--redis", url, "--workers", str(workers), "--host", server.url]
    relay = subprocess.Popen(
        [sys.executable, "-m", "srmlink.cli", "relay", *args],
        env={**os.environ, "SRMLINK_API_KEY": server.api_key or ""},
        stdout=subprocess.DEVNULL,
    )
    try:
        while not raw.hlen(lvc_key("OptionNbboQuote")):
            time.sleep(0.001)  # polling
        start = time.perf_counter()
        while raw.hlen(lvc_key("OptionNbboQuote")) < n:
            time.sleep(0.01)  # polling
        return time.perf_counter() - start
    finally:
        relay.terminate()
        relay.wait()
        raw.close()


def _end_to_end(url: str, quotes: list[OptionNbboQuote]) -> None:
    """The image of ``quotes`` from a local ``srmlink serve``: a plain stream client, then
    a relay worker over all stripes."""
    server = start_server(extra=["--tick", "0"], timeout=120)
    try:
        with server.client() as client:
            for start in range(0, len(quotes), 5_000):
                client.postmsgs(quotes[start : start + 5_000])
        n = len(quotes)
        rate = n / asyncio.run(_raw_image(server, n))
        print(f"stream client, 11 stripes (decode): {rate:>10,.0f} records/s")
        for workers in (1, 2):
            rate = n / _relay_image(server, url, n, workers)
            print(f"srmlink relay --workers {workers} into the LVC: {rate:>10,.0f} records/s")
    finally:
        server.stop()


def _worker_path(quotes: list[OptionNbboQuote], *, raw_frames: bool) -> float:
    """Records/s of a worker's own work on each record, no I/O: the stream protocol decodes
    frames as received (1,000 per WebSocket message) into records, and each becomes a sink
    entry, encoded again or (``raw_frames``) carrying its frame as received. CPU time of
    this process, so other load on the machine counts less."""
    frames = [encode(quotes[i : i + 1000], "proto") for i in range(0, len(quotes), 1000)]
    protocol = ClientProtocol(registry, "proto", None, raw_frames=raw_frames)
    start = time.process_time()
    for data in frames:
        for event in protocol.receive(data):
            assert isinstance(event, Record) and isinstance(event.message, OptionNbboQuote)
            entry_of(event.message, "proto", frame=event.frame)
    return len(quotes) / (time.process_time() - start)


async def _publish(url: str, quotes: list[OptionNbboQuote], batch: int) -> float:
    sink = RedisSink(url, maxlen=len(quotes))
    buffer = Buffer(len(quotes))
    start = time.perf_counter()
    for q in quotes:
        buffer.add(entry_of(q, "proto"))
    while buffer:
        taken = buffer.batch(batch)
        await sink.publish(taken)
        buffer.done(taken)
    elapsed = time.perf_counter() - start
    await sink.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=100_000, help="records (default 100,000)")
    args = parser.parse_args()
    quotes = _quotes(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            for raw_frames in (False, True):
                rate = _worker_path(quotes, raw_frames=raw_frames)
                how = "raw frames" if raw_frames else "re-encoded"
                print(f"worker path (receive, decode, entry; {how}): {rate:>10,.0f} records/s")
            elapsed = asyncio.run(_publish(server.url, quotes, 1_000))
            print(f"publish (encode + XADD + HSET): {args.n / elapsed:>10,.0f} records/s")
            raw = server.client()
            lvc_bytes = int(raw.memory_usage(lvc_key("OptionNbboQuote"), samples=0) or 0)
            raw.close()
            print(f"LVC memory: {lvc_bytes / args.n:,.0f} bytes per series (MEMORY USAGE / n)")
            _end_to_end(server.url, quotes[: args.n // 2])
            with RelayReader(server.url) as reader:
                entries = reader.stream(
                    OptionNbboQuote, group="bench", consumer="c1", count=1000, idle_timeout=0.2
                )
                start = time.perf_counter()
                read = sum(1 for _ in entries)
                elapsed = time.perf_counter() - start - 0.2  # less the idle wait at the end
                print(f"consumer group read (decode, XACK): {read / elapsed:>10,.0f} records/s")
                start = time.perf_counter()
                size = len(reader.lvc(OptionNbboQuote))
                elapsed = time.perf_counter() - start
                print(f"LVC read (HSCAN, decode): {size / elapsed:>10,.0f} records/s")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
