"""A real redis-server per test module: loopback, a free port, no persistence, a temp dir."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from srmlink.messages import OptionNbboQuote
from srmlink.relay import RelayReader
from srmlink.testing import ServerProcess, start_server


class RedisServer:
    """A ``redis-server`` child process on 127.0.0.1; ``stop``/``start`` for outage tests."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed: the relay tests need it "
                "(Debian: apt-get install -y redis-server; .ci/run installs it)"
            )
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        pytest.fail(f"redis-server did not answer PING on port {self.port}")
                    time.sleep(0.02)  # polling with a deadline
        finally:
            client.close()

    def stop(self, *, save: bool = False) -> None:
        """Kill the server (its data is lost), or with ``save`` shut it down writing an RDB
        file that the next :meth:`start` loads (an outage after which the data is back)."""
        if self.process is None:
            return
        if save:
            client = self.client()
            try:
                client.shutdown(save=True)
            finally:
                client.close()
        else:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty redis-server for one test, stopped at teardown."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def consume_in_group(url: str, consumers: int) -> list[list[str]]:
    """The entry ids each of ``consumers`` threads of one consumer group read, until the
    stream has been idle for half a second."""
    seen: list[list[str]] = [[] for _ in range(consumers)]

    def consume(index: int) -> None:
        with RelayReader(url) as reader:
            for entry in reader.stream(
                OptionNbboQuote, group="g", consumer=f"c{index}", count=10, block=0.1,
                idle_timeout=0.5,
            ):  # fmt: skip
                assert isinstance(entry.message, OptionNbboQuote)
                seen[index].append(entry.id)

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(consumers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return seen


@contextlib.contextmanager
def quiet_server() -> Iterator[ServerProcess]:
    """``srmlink serve`` with nothing ticking and the fault endpoints (deletes included)."""
    process = start_server(extra=["--tick", "0", "--faults"])
    try:
        yield process
    finally:
        process.stop()
