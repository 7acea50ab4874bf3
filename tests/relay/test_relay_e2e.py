"""``srmlink relay`` end to end: a real ``srmlink serve``, a real redis-server, worker
processes; the last-value cache must equal the server's state after crashes and outages."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from srmlink.codec import encode_message
from srmlink.messages import OptionNbboQuote
from srmlink.relay import RedisSink, RelayReader, WorkerConfig, run_worker
from srmlink.testing import TEST_API_KEY, ServerProcess

from .conftest import RedisServer, consume_in_group, quiet_server
from .test_relay_sink import quote

_STARTED = re.compile(r"worker (\d+) pid (\d+) stripes")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with quiet_server() as process:
        yield process


@contextlib.contextmanager
def running_worker(config: WorkerConfig) -> Iterator[list[object]]:
    """``run_worker`` with a Redis sink in a thread; the list gets its stats (or error)."""
    stop = threading.Event()
    outcome: list[object] = []

    async def go() -> None:
        sink = RedisSink(config.redis_url)
        try:
            outcome.append(await run_worker(config, sink, api_key=TEST_API_KEY, stop=stop.is_set))
        finally:
            await sink.close()

    def work() -> None:
        try:
            asyncio.run(go())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        yield outcome
    finally:
        stop.set()
        thread.join(timeout=30)


def server_state(server: ServerProcess) -> dict[str, OptionNbboQuote]:
    with server.client() as client:
        result = client.getmsgs(OptionNbboQuote, limit=10_000)
    return {str(m.pkey): m for m in result.messages}


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling with a deadline


def lvc_matches(reader: RelayReader, server: ServerProcess) -> Callable[[], bool]:
    return lambda: reader.lvc(OptionNbboQuote) == server_state(server)


def bump_every_quote(server: ServerProcess, by: float) -> None:
    """Post a new bid for every quote (every stripe the demo uses)."""
    quotes = list(server_state(server).values())
    with server.client() as client:
        client.postmsgs([attrs.evolve(q, bid_price=(q.bid_price or 0) + by) for q in quotes])


class Relay:
    """A running ``srmlink relay``: its process and the worker pids it announced."""

    def __init__(self, args: list[str], log: Path) -> None:
        env = {**os.environ, "SRMLINK_API_KEY": TEST_API_KEY, "PYTHONUNBUFFERED": "1"}
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "srmlink.cli", "relay", *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )
        self.started: queue.Queue[tuple[int, int]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = _STARTED.match(line)
            if match:
                self.started.put((int(match.group(1)), int(match.group(2))))

    def next_start(self, timeout: float = 20.0) -> tuple[int, int]:
        return self.started.get(timeout=timeout)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=10)  # it ends at the end of output
            assert self.process.stdout is not None
            self.process.stdout.close()
            self._log.close()
        return code


@pytest.mark.timeout(90)
def test_two_workers_fill_the_lvc_and_a_killed_worker_is_restarted(
    server: ServerProcess, redis_server: RedisServer, tmp_path: Path
) -> None:
    relay = Relay(
        ["OptionNbboQuote", "--redis", redis_server.url, "--workers", "2", "--host", server.url],
        tmp_path / "relay.log",
    )
    try:
        pids = dict(relay.next_start() for _ in range(2))
        assert sorted(pids) == [0, 1]
        with RelayReader(redis_server.url) as reader:
            wait_until(lvc_matches(reader, server), "the LVC to equal the server")
            assert len(reader.lvc(OptionNbboQuote)) == 60  # every demo quote, 3 stripes

            os.kill(pids[0], signal.SIGKILL)
            index, pid = relay.next_start()
            assert index == 0 and pid != pids[0]
            bump_every_quote(server, 0.25)
            wait_until(lvc_matches(reader, server), "the LVC to catch up after a restart")

            assert server.fault("drop") >= 1  # every MLink connection of both workers
            bump_every_quote(server, 0.5)
            wait_until(lvc_matches(reader, server), "the LVC to catch up after a drop")

            # Redis restarts empty: each worker notices (its marker is gone), exits and is
            # restarted, and the images fill the LVC again with nothing posted.
            redis_server.stop()
            redis_server.start()
            assert {relay.next_start()[0], relay.next_start()[0]} == {0, 1}
            wait_until(lvc_matches(reader, server), "the LVC to be refilled after a reset")
        ids = [i for ids in consume_in_group(redis_server.url, 2) for i in ids]
        raw = redis_server.client()
        assert len(ids) == len(set(ids)) == raw.xlen("srmlink:{OptionNbboQuote}:stream")
        assert len(ids) >= 60  # the images after the reset, at least
        raw.close()
    finally:
        code = relay.stop()
    assert code == 0, (tmp_path / "relay.log").read_text()
    assert TEST_API_KEY not in (tmp_path / "relay.log").read_text()


@pytest.mark.timeout(60)
def test_a_worker_rides_out_a_redis_outage(
    server: ServerProcess, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = WorkerConfig(
        "OptionNbboQuote",
        ("A", "F", "G"),
        redis_server.url,
        host=server.host,
        scheme="ws",
        max_buffer=50,  # smaller than what is posted during the outage: some is shed
        backoff=0.05,
        max_backoff=0.2,
    )
    with running_worker(config) as outcome, RelayReader(redis_server.url) as reader:
        wait_until(lvc_matches(reader, server), "the LVC to equal the server")
        raw = redis_server.client()
        # The image (60 quotes) may already overflow a buffer of 50 if it comes in one read.
        shed_before = int(raw.hget("srmlink:{OptionNbboQuote}:stats", "shed") or 0)
        length_before = raw.xlen("srmlink:{OptionNbboQuote}:stream")
        raw.close()
        # Redis is down while 120 records come in for a buffer of 50; it keeps its data.
        redis_server.stop(save=True)
        bump_every_quote(server, 1.0)
        bump_every_quote(server, 1.0)
        wait_until(lambda: "buffering and retrying" in caplog.text, "a failed publish")
        redis_server.start()
        wait_until(lvc_matches(reader, server), "the LVC to catch up after the outage")
        raw = redis_server.client()
        shed = int(raw.hget("srmlink:{OptionNbboQuote}:stats", "shed") or 0)
        relayed = raw.xlen("srmlink:{OptionNbboQuote}:stream") - length_before
        raw.close()
    stats = outcome[0]
    assert not isinstance(stats, BaseException), stats
    # Nothing silently dropped: each record posted is in the stream or counted as shed, in
    # Redis as in the worker.
    assert relayed + (shed - shed_before) == 120 and relayed >= 50
    assert stats.shed == shed and stats.failures >= 1  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_a_starting_worker_prunes_stale_keys_of_its_stripes_only(
    server: ServerProcess, redis_server: RedisServer
) -> None:
    # Left by an earlier run: a quote the server no longer has in the worker's stripe A, and
    # one in stripe E, which another worker owns.
    gone = quote("AAPL", 999, 1.0)
    other = quote("MSFT", 100, 1.0)
    raw = redis_server.client()
    for q in (gone, other):
        raw.hset("srmlink:{OptionNbboQuote}:lvc", str(q.pkey), encode_message(q, "proto"))
    raw.close()
    config = WorkerConfig(
        "OptionNbboQuote", ("A", "F", "G"), redis_server.url, host=server.host, scheme="ws"
    )
    with running_worker(config) as outcome, RelayReader(redis_server.url) as reader:
        expected = {**server_state(server), str(other.pkey): other}
        wait_until(lambda: reader.lvc(OptionNbboQuote) == expected, "the stale key pruned")
    assert not isinstance(outcome[0], BaseException), outcome


def run_relay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "srmlink.cli", "relay", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SRMLINK_API_KEY": TEST_API_KEY},
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(60)
def test_four_workers_over_stripe_halves_fill_the_lvc(
    server: ServerProcess, redis_server: RedisServer, tmp_path: Path
) -> None:
    args = ["--stripes", "A1,A2,F,G", "--workers", "4"]
    relay = Relay(
        ["OptionNbboQuote", "--redis", redis_server.url, "--host", server.url, *args],
        tmp_path / "relay.log",
    )
    try:
        assert sorted(relay.next_start()[0] for _ in range(4)) == [0, 1, 2, 3]
        with RelayReader(redis_server.url) as reader:
            wait_until(lvc_matches(reader, server), "the LVC to equal the server")
    finally:
        assert relay.stop() == 0, (tmp_path / "relay.log").read_text()


def test_overlapping_stripes_are_refused() -> None:
    done = run_relay("OptionNbboQuote", "--redis", "redis://127.0.0.1:1/0", "--stripes", "A,A1")
    assert done.returncode == 2 and "A1 overlap" in done.stderr


def test_an_unknown_message_type_is_refused_before_any_worker_starts() -> None:
    done = run_relay("NoSuchQuote", "--redis", "redis://127.0.0.1:1/0", "--workers", "2")
    assert done.returncode == 2 and "NoSuchQuote" in done.stderr
    assert "worker" not in done.stdout


@pytest.mark.timeout(60)
def test_a_refused_subscription_stops_the_relay_instead_of_restarting_forever(
    server: ServerProcess, redis_server: RedisServer
) -> None:
    done = run_relay(
        "OptionNbboQuote", "--where", "nosuchfield:eq:1", "--redis", redis_server.url,
        "--host", server.url, "--workers", "2",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "nosuchfield" in done.stderr and "cannot relay" in done.stderr
