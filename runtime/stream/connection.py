"""One WebSocket of a logical stream: connect, log on, read, reconnect, close (bounded).

A stream has one connection, or one per stripe; each has its own
:class:`~srmlink.stream.protocol.ClientProtocol` (so each resumes from its own checkpoints'
``highwaterTs``) and feeds the stream's one event queue. Every wait here is an
``asyncio.timeout`` block or an ``asyncio.wait`` with a timeout, never ``asyncio.wait_for``:
on Python 3.11 wait_for returns a result that arrives as it is cancelled and swallows the
cancellation, which made close() wait forever for the reader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..endpoints import tls_context
from ..errors import (
    AuthError,
    FramingError,
    MLinkStreamError,
    MLinkTimeoutError,
    MLinkTransportError,
)
from .buffer import EventBuffer, Failure
from .cache import LastValueCache
from .events import Reconnected
from .protocol import ClientProtocol

__all__ = ["Connection", "Settings"]

log = logging.getLogger("srmlink.stream")
# The websockets connection logs here: at DEBUG it prints every frame, and the frames we
# send include MLinkLogon with the credentials, so outgoing payloads are not logged.
WIRE_LOG = logging.getLogger("srmlink.stream.websockets")


class _HideSentPayloads(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if str(record.msg).startswith(">") and isinstance(args, tuple) and args:
            frame = args[0]
            data = getattr(frame, "data", None)
            if isinstance(data, bytes | bytearray) and len(args) == 1:
                opcode = getattr(frame, "opcode", None)
                name = getattr(opcode, "name", "frame")
                record.args = (f"{name} [{len(data)} bytes, payload not logged]",)
        return True


WIRE_LOG.addFilter(_HideSentPayloads())


class Settings(Protocol):
    """What a connection reads from the stream that owns it."""

    url: str
    reconnect_attempts: int
    backoff: float
    max_backoff: float
    heartbeat_timeout: float | None
    open_timeout: float
    close_timeout: float
    cache: LastValueCache | None
    closed: bool

    @property
    def queue(self) -> EventBuffer: ...

    def headers(self) -> dict[str, str]: ...

    def safe(self, exc: BaseException) -> str: ...


class Connection:
    """One WebSocket of a stream (``stripe``: the stripe it carries, None for all)."""

    def __init__(self, owner: Settings, protocol: ClientProtocol, stripe: str | None) -> None:
        self.owner = owner
        self.protocol = protocol
        self.stripe = stripe
        self.ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._logged_on: asyncio.Future[None] | None = None
        # The Reconnected event of a reconnect in progress: queued by the new connection's
        # reader once logged on, before any of its events, so it marks the seam exactly.
        self._announce: Reconnected | None = None
        self._send_lock = asyncio.Lock()

    async def open(self) -> None:
        """Upgrade, log on, resume subscriptions; raises on failure and leaves nothing open."""
        owner = self.owner
        try:
            async with asyncio.timeout(owner.open_timeout):
                ws = await connect(
                    owner.url,
                    additional_headers=owner.headers(),
                    max_size=None,
                    open_timeout=owner.open_timeout,
                    close_timeout=owner.close_timeout,
                    logger=WIRE_LOG,
                    ssl=tls_context() if owner.url.startswith("wss:") else None,
                )
        except TimeoutError as exc:
            raise MLinkTimeoutError(f"connecting to {owner.url} timed out") from exc
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            raise MLinkTransportError(f"cannot connect to {owner.url}: {owner.safe(exc)}") from exc
        self.ws = ws
        logged_on = self._logged_on = asyncio.get_running_loop().create_future()
        try:
            for frame in self.protocol.connection_made():
                await self.send(frame)
            if not self.protocol.authenticates:
                logged_on.set_result(None)
            self._reader = asyncio.get_running_loop().create_task(self._read(ws))
            async with asyncio.timeout(owner.open_timeout):
                await asyncio.shield(logged_on)
        except TimeoutError as exc:
            await self._shut(ws)
            raise MLinkTimeoutError(f"no logon answer from {owner.url}") from exc
        except BaseException:
            await self._shut(ws)
            raise

    async def _shut(self, ws: ClientConnection) -> None:
        reader, self._reader = self._reader, None
        await stop_task(reader, self.owner.close_timeout)
        await close_socket(ws, self.owner.close_timeout)

    async def close(self) -> None:
        """Stop reconnecting and reading, then close the socket; each step bounded."""
        # A reconnect in progress may open a socket and start a reader: stop it first.
        reconnecting, self._reconnecting = self._reconnecting, None
        await stop_task(reconnecting, self.owner.close_timeout)
        reader, self._reader = self._reader, None
        await stop_task(reader, self.owner.close_timeout)
        if self.ws is not None:
            await close_socket(self.ws, self.owner.close_timeout)

    async def send(self, frame: bytes) -> None:
        ws = self.ws
        if ws is None:
            raise MLinkTransportError("not connected")
        text = self.protocol.encoding == "json"
        async with self._send_lock:
            await ws.send(frame.decode() if text else frame)

    @property
    def wants_signal(self) -> bool:
        """Whether this connection waits for a SignalReady the consumer may now send."""
        p = self.protocol
        return p.paced and p.logged_on and p.outstanding_signal is None and self.ws is not None

    async def _read(self, ws: ClientConnection) -> None:
        """Receive frames into the queue until the connection ends; then reconnect or fail."""
        owner = self.owner
        reason: str
        try:
            while True:
                async with asyncio.timeout(owner.heartbeat_timeout):
                    frame = await ws.recv()
                data = frame.encode() if isinstance(frame, str) else frame
                events = self.protocol.receive(data)
                await self._announce_once()
                if owner.cache is not None:
                    for event in events:
                        owner.cache.apply(event)
                # A frame's events in one step: no await or task switch per record.
                await owner.queue.put(events)
                if self.protocol.logged_on and self._logged_on and not self._logged_on.done():
                    self._logged_on.set_result(None)
        except asyncio.CancelledError:
            raise
        except (AuthError, MLinkStreamError) as exc:
            self.fail(exc)
            await close_socket(ws, owner.close_timeout)
            return
        except TimeoutError:
            reason = f"no frame for {owner.heartbeat_timeout} s (stalled server)"
        except FramingError as exc:
            reason = f"corrupt frame stream: {exc}"
        except websockets.exceptions.ConnectionClosed as exc:
            reason = f"connection closed: {owner.safe(exc)}"
        except OSError as exc:
            reason = f"connection failed: {owner.safe(exc)}"
        await close_socket(ws, owner.close_timeout)
        if owner.closed:
            return
        log.warning("srmlink stream %s: %s", owner.url, reason)
        if self._logged_on is not None and not self._logged_on.done():
            self.fail(MLinkTransportError(f"{owner.url}: {reason}"))
            return
        # Held on self: the event loop keeps only a weak reference to a task.
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect(reason))

    async def _announce_once(self) -> None:
        """Queue the pending Reconnected event once this connection is logged on."""
        announce = self._announce
        if announce is not None and (self.protocol.logged_on or not self.protocol.authenticates):
            self._announce = None
            await self.owner.queue.put((announce,))

    def fail(self, error: BaseException) -> None:
        """End the session with ``error`` (seen by connect() or by the consumer, in order)."""
        if self._logged_on is not None and not self._logged_on.done():
            self._logged_on.set_exception(error)
            self._logged_on.exception()  # retrieved here too: the consumer may never wait
        self.owner.queue.put_nowait((Failure(error),))

    async def _reconnect(self, reason: str) -> None:
        owner = self.owner
        delay = owner.backoff
        for attempt in range(1, owner.reconnect_attempts + 1):
            await asyncio.sleep(delay)
            if owner.closed:
                return
            self._announce = Reconnected(attempt, reason, self.stripe)
            try:
                await self.open()
            except (AuthError, MLinkStreamError) as exc:
                self.fail(exc)
                return
            except MLinkTransportError as exc:
                log.info("srmlink stream reconnect %d failed: %s", attempt, owner.safe(exc))
                delay = min(delay * 2, owner.max_backoff)
                continue
            # Queued already if the new connection has delivered anything.
            await self._announce_once()
            return
        self.fail(
            MLinkTransportError(
                f"{owner.url}: {reason}; gave up after {owner.reconnect_attempts} "
                "reconnect attempts"
            )
        )


async def stop_task(task: asyncio.Task[None] | None, timeout: float) -> None:
    """Cancel ``task`` and wait at most ``timeout`` s for it to end (never forever)."""
    if task is None or task is asyncio.current_task():
        return
    task.cancel()
    await asyncio.wait({task}, timeout=timeout)
    if not task.done():
        log.warning("srmlink stream: a task ignored cancellation for %s s", timeout)
    elif not task.cancelled():
        task.exception()  # reported through the event queue already; retrieved here


async def close_socket(ws: ClientConnection, timeout: float) -> None:
    """The close handshake, within ``timeout`` s; a wedged peer gets its socket dropped."""
    try:
        async with asyncio.timeout(timeout):
            await ws.close()
    except (TimeoutError, websockets.exceptions.WebSocketException, OSError):
        ws.transport.abort()


async def gather_all(calls: list[Callable[[], Coroutine[Any, Any, None]]]) -> None:
    """Run ``calls`` concurrently; every one finishes before the first error is raised."""
    results = await asyncio.gather(*(call() for call in calls), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
