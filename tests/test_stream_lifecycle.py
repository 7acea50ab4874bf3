"""The stream clients' lifecycle: every close is bounded, nothing outlives a client.

Closing while frames arrive is where Python 3.11's ``asyncio.wait_for`` swallowed the
cancellation of the reader (it returned the frame instead), so ``close()`` waited forever;
these tests close many clients at once against a server that ticks every few milliseconds.
The thread and file-descriptor counts cover every way a client ends: connected and closed,
refused credentials, nothing listening, bad arguments, and dropped without ``close()``.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from srmlink.errors import AuthError, MLinkTransportError
from srmlink.messages import OptionNbboQuote
from srmlink.stream import MLinkStream, Record
from srmlink.testing import ServerProcess, start_server

KEY = "lifecycle-key"
CLIENTS = 50
# A third of the demo's options: every client gets a steady flow, the server keeps up.
AAPL = "okey.tk:eq:AAPL"


@pytest.fixture(scope="module")
def fast_server() -> Iterator[ServerProcess]:
    """Quotes tick every 10 ms, so frames are in flight whenever a client closes."""
    server = start_server(api_key=KEY, extra=["--tick", "0.01", "--heartbeat", "1"])
    try:
        yield server
    finally:
        server.stop()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(expected_threads: int, expected_fds: int, deadline: float = 10.0) -> tuple[int, int]:
    """Thread and fd counts once background work has wound down (polled, bounded)."""
    end = time.monotonic() + deadline
    while True:
        gc.collect()
        counts = threading.active_count(), open_fds()
        if counts <= (expected_threads, expected_fds) or time.monotonic() > end:
            return counts
        time.sleep(0.02)


# The clients run in a fresh interpreter: in the suite's process (hundreds of MB of loaded
# bindings and test state) the same setup took over 180 s on a busy machine, 15-27 s alone.
CLOSE_TOGETHER = """
import asyncio, sys, time
from srmlink.messages import OptionNbboQuote
from srmlink.stream import AsyncMLinkStream

host, key, clients, where = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

async def run() -> float:
    streams = [AsyncMLinkStream(key, host=host, scheme="ws") for _ in range(clients)]
    try:
        async with asyncio.timeout(150):  # the setup: generous on a loaded machine
            await asyncio.gather(*(s.connect() for s in streams))
            await asyncio.gather(
                *(s.subscribe(OptionNbboQuote, where=where, active_latency=0) for s in streams)
            )
            for stream in streams:  # frames are flowing to every client
                await stream.next_event(timeout=30)
    except BaseException:
        await asyncio.gather(*(s.close() for s in streams))
        raise
    started = time.monotonic()
    async with asyncio.timeout(30):  # what is tested: the close is bounded
        await asyncio.gather(*(s.close() for s in streams))
    return time.monotonic() - started

print(f"{asyncio.run(run()):.3f}")
"""


# 50 clients with AAPL's options each (a frame every 10 ms): with the 3.11 bug put back
# (asyncio.wait_for in the reader, an unbounded wait in close) the close hangs on every run;
# 200 such clients asked one process to decode 30,000 records a second and took minutes.
@pytest.mark.timeout(240)
def test_many_async_clients_close_together_while_frames_arrive(
    fast_server: ServerProcess,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CLOSE_TOGETHER, fast_server.host, KEY, str(CLIENTS), AAPL],
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float(proc.stdout) < 30


def test_sync_clients_close_while_frames_arrive(fast_server: ServerProcess) -> None:
    threads, fds = threading.active_count(), open_fds()
    streams = [fast_server.stream() for _ in range(20)]
    try:
        for stream in streams:
            stream.connect()
            stream.subscribe(OptionNbboQuote, where=AAPL, active_latency=0)
        for stream in streams:
            while not isinstance(stream.next_event(timeout=30), Record):
                pass
    except BaseException:
        for stream in streams:
            stream.close()
        raise
    closers = [threading.Thread(target=stream.close) for stream in streams]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(timeout=30)
    assert not any(closer.is_alive() for closer in closers)
    assert settle(threads, fds) <= (threads, fds)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cycles(server: ServerProcess) -> list[Callable[[], None]]:
    """One of each way a sync client can start and end."""
    dead = f"127.0.0.1:{unused_port()}"

    def closed() -> None:
        with server.stream() as stream:
            stream.subscribe(OptionNbboQuote)
            assert isinstance(stream.next_event(timeout=10), object)

    def wrong_key() -> None:
        stream = MLinkStream("wrong-key", host=server.host, scheme="ws")
        with pytest.raises(AuthError):
            stream.connect()

    def wrong_key_in_with() -> None:
        with pytest.raises(AuthError), MLinkStream("wrong-key", host=server.host, scheme="ws"):
            pass

    def nothing_listening() -> None:
        with pytest.raises(MLinkTransportError):
            MLinkStream(KEY, host=dead, scheme="ws", open_timeout=2).connect()

    def bad_argument() -> None:
        with pytest.raises(ValueError, match="encoding"):
            MLinkStream(KEY, host=server.host, encoding="xml")  # type: ignore[arg-type]

    def dropped() -> None:
        stream = server.stream()
        stream.connect()
        stream.subscribe(OptionNbboQuote)
        stream.next_event(timeout=10)
        # no close(): the finalizer stops the loop thread and the connection

    return [closed, wrong_key, wrong_key_in_with, nothing_listening, bad_argument, dropped]


def test_no_thread_or_socket_survives_a_client(fast_server: ServerProcess) -> None:
    kinds = cycles(fast_server)
    kinds[0]()  # imports and lazily built tables are not leaks
    threads, fds = threading.active_count(), open_fds()
    for i in range(100):
        kinds[i % len(kinds)]()
    assert settle(threads, fds) <= (threads, fds)
