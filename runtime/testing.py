"""A pytest plugin: a local MLink server in a separate process, and a client connected to it.

Installed with srmlink (entry point ``pytest11``), so in any project's tests::

    def test_quotes(mlink_client):
        result = mlink_client.getmsgs("OptionNbboQuote", where="bidsize:ge:1", limit=10)
        assert result.messages

``mlink_server`` (session scope) runs ``srmlink serve`` with demo data on a free loopback port
and yields a :class:`ServerProcess`; ``mlink_client`` (function scope) is an
:class:`~srmlink.MLinkClient` pointed at it, and ``mlink_stream`` an
:class:`~srmlink.stream.MLinkStream` (WebSocket) connected to it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import pytest
from attrs import frozen

# pytest loads this plugin in every session of every project that installs srmlink: the
# clients (httpx, websockets, codecs) are imported only when a fixture is used.
if TYPE_CHECKING:
    from .rest import MLinkClient
    from .stream import MLinkStream

__all__ = ["ServerProcess", "mlink_client", "mlink_server", "mlink_stream", "start_server"]

_READY = re.compile(r"REST on (http://\S+?)/rest/")
TEST_API_KEY = "srmlink-test-key"


@frozen
class ServerProcess:
    """A running ``srmlink serve``: its base URL, API key and process."""

    url: str
    api_key: str | None
    process: subprocess.Popen[str]
    output: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.output is not None:
            self.output.join(timeout=10)  # it closes the pipe at end of output

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, **kwargs: Any) -> MLinkClient:
        """An MLinkClient for this server (keyword arguments as MLinkClient's)."""
        from .rest import MLinkClient  # noqa: PLC0415

        return MLinkClient(self.api_key, host=self.host, scheme="http", **kwargs)

    def stream(self, **kwargs: Any) -> MLinkStream:
        """An unconnected MLinkStream for this server (keyword arguments as its)."""
        from .stream import MLinkStream  # noqa: PLC0415

        return MLinkStream(self.api_key, host=self.host, scheme="ws", **kwargs)

    def fault(self, kind: str, **params: str) -> int:
        """Inject a fault (server started with ``--faults``); returns connections affected."""
        return int(self._fault(kind, list(params.items()))["connections"])

    def delete(self, msgtype: str, pkeys: Sequence[str]) -> int:
        """Delete records by flat primary key (server started with ``--faults``): streams
        send the deletes; returns how many were deleted (all, or an HTTP error and none)."""
        params = [("msgtype", msgtype), *(("pkey", key) for key in pkeys)]
        return int(self._fault("delete", params)["deleted"])

    def _fault(self, kind: str, params: list[tuple[str, str]]) -> Any:
        import httpx  # noqa: PLC0415

        from .endpoints import tls_context  # noqa: PLC0415

        auth = [("apikey", self.api_key)] if self.api_key else []
        response = httpx.post(
            f"{self.url}/srmlink/fault/{kind}",
            params=[*auth, *params],
            timeout=10,
            verify=tls_context(),
        )
        response.raise_for_status()
        return response.json()


def start_server(
    *,
    api_key: str | None = TEST_API_KEY,
    demo: bool = True,
    port: int = 0,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    launcher: Sequence[str] | None = None,
    timeout: float = 60.0,
) -> ServerProcess:
    """Start ``srmlink serve`` on loopback (``port`` 0: a free one); wait until it is ready.

    ``extra`` adds command-line flags (``--faults``, ``--tick 0.05``...); ``env`` replaces
    the environment (for example a PYTHONPATH with other generated bindings); ``launcher``
    replaces the command that runs the CLI (default ``python -m srmlink.cli``).
    """
    args = [
        *(launcher or (sys.executable, "-m", "srmlink.cli")),
        "serve",
        "--port",
        str(port),
        "--demo" if demo else "--no-demo",
        *extra,
    ]
    if api_key:
        args += ["--api-key", api_key]
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = _READY.search(line)
            if match and not found:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        process.kill()
        raise RuntimeError(f"srmlink serve did not start: {''.join(lines)[-2000:]}")

    def drain(stream: IO[str]) -> None:
        # Keep reading so the server never blocks on a full pipe; close it at the end.
        with stream:
            for _ in stream:
                pass

    output = threading.Thread(target=drain, args=(process.stdout,), daemon=True)
    output.start()
    return ServerProcess(found[0], api_key, process, output)


@pytest.fixture(scope="session")
def mlink_server() -> Iterator[ServerProcess]:
    """A local MLink server with demo data, for the whole test session."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mlink_client(mlink_server: ServerProcess) -> Iterator[MLinkClient]:
    """An MLinkClient connected to :func:`mlink_server`."""
    client = mlink_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def mlink_stream(mlink_server: ServerProcess) -> Iterator[MLinkStream]:
    """An MLinkStream (WebSocket, sync) connected to :func:`mlink_server`."""
    stream = mlink_server.stream()
    stream.connect()
    try:
        yield stream
    finally:
        stream.close()
