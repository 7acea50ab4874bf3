"""The local MLink-compatible server: aiohttp transport over the I/O-free handlers.

``/rest/{json,jsonf,proto}`` is served by :class:`RestHandler`, ``/mlink/{json,jsonf,proto}``
(WebSocket) by one :class:`StreamSession` per connection; both read the same
:class:`LiveStore`. Requests are logged with credentials redacted (aiohttp's own access log,
which prints raw URLs, is off).

Paths are matched case-insensitively (``/rest/JSON`` and ``/REST/Jsonf`` work, as on the
real service). REST requests authenticate with ``apikey=`` (a key, key + password or session
key) or ``Authorization: Bearer`` (a JWT or a key); the WebSocket upgrade with a bearer token
or an MLinkLogon message. No credential reaches a log line or a 400 body (:mod:`.auth`,
:mod:`.safe_http`).

With ``faults=True`` (``srmlink serve --faults``) the server also takes
``POST /srmlink/fault/{drop,stall,garbage}`` (authenticated like REST), to test how an
application copes: every open WebSocket is cut without a close handshake, stops sending
(``?seconds=N``, a finite number >= 0; default for good), or receives bytes that are not a
frame. ``POST /srmlink/fault/delete?msgtype=NAME&pkey=KEY...`` deletes records (MLink's API
has no delete request; streams send each delete with ``_meta.is_deleted``, protobuf only).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import WSCloseCode, WSMsgType, web
from attrs import frozen

from ..auth import redact
from ..codec import Encoding, encode_message
from ..errors import EncodeError
from ..message import Message
from ..registry import Registry
from .demo import seed, tick_forever
from .rest import RestHandler
from .safe_http import SafeAppRunner
from .session import StreamSession
from .store import Deleted, LiveStore, UnknownRecordError

__all__ = ["LocalServer", "StreamLimits", "create_app"]

log = logging.getLogger("srmlink.server")
_CONTENT_TYPES = {
    "json": "application/json",
    "jsonf": "text/plain",
    "proto": "application/octet-stream",
}
_FAULTS = ("drop", "stall", "garbage")


def _bearer(request: web.Request) -> str:
    """The token of an ``Authorization: Bearer`` header ("" when there is none)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _stall_seconds(text: str | None) -> float | None:
    """The ``seconds`` of a stall fault: None (for good) or a finite number >= 0."""
    if text is None or text == "":
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"seconds must be a number, not {text[:40]!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise web.HTTPBadRequest(text=f"seconds must be finite and >= 0, not {text[:40]!r}")
    return seconds


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only listens on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _encoding(request: web.Request) -> Encoding:
    encoding = request.match_info["encoding"].lower()
    if encoding not in _CONTENT_TYPES:
        raise web.HTTPNotFound(text=f"unknown encoding {encoding!r}")
    return encoding  # type: ignore[return-value]


@frozen
class StreamLimits:
    """What one WebSocket client may cost the server (``srmlink serve`` flags of the same
    names).

    Attributes:
        max_message_bytes: largest incoming WebSocket message, also before logon; a larger
            one is refused before it is buffered (close 1009).
        logon_timeout: seconds a connection may stay without logging on (then close 1008).
        max_connections: open WebSocket connections at once; more are refused (HTTP 503).
        max_queued_bytes: encoded bytes waiting for a slow client; beyond, it is
            disconnected (close 1008 saying so). Live updates never queue up to this: they
            coalesce per primary key while the client is behind.
    """

    max_message_bytes: int = 1 << 20
    logon_timeout: float = 10.0
    max_connections: int = 256
    max_queued_bytes: int = 16 << 20


class _Connection:
    """One WebSocket connection: reads requests, pumps due batches and heartbeats.

    Everything to send goes through one queue drained by a writer task, so a client that
    does not read never blocks this connection's reading, and its queue is bounded
    (:attr:`StreamLimits.max_queued_bytes`). Live updates are taken from the session only
    when the queue is empty: while a client is behind, its updates coalesce instead.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session: StreamSession,
        heartbeat: float,
        transport: asyncio.Transport | None,
        limits: StreamLimits,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.session = session
        self.encoding: Encoding = session.encoding
        self.heartbeat = heartbeat
        self.limits = limits
        self.stalled_until: float | None = None
        self._wake = asyncio.Event()
        self._outgoing: deque[str | bytes] = deque()
        self._queued = 0
        self._has_output = asyncio.Event()
        self._sent = asyncio.Event()  # set while nothing is queued or being written
        self._sent.set()
        session.wake = self._wake.set

    def stall(self, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        self.stalled_until = float("inf") if seconds is None else loop.time() + seconds

    def _stalled(self) -> bool:
        return (
            self.stalled_until is not None
            and asyncio.get_running_loop().time() < self.stalled_until
        )

    def _encoded(self, messages: Sequence[Message | Deleted]) -> list[str | bytes]:
        """The frames carrying ``messages``; a record that cannot be encoded for this client
        is logged and skipped, never stopping the batch. A delete goes to protobuf clients
        as its last value with ``_meta.is_deleted``; MLink documents no delete flag for
        JSON, so a JSON client is not told (the key is gone from REST and from a new
        stream's image)."""
        parts: list[bytes] = []
        for item in messages:
            deleted = isinstance(item, Deleted)
            message = item.message if isinstance(item, Deleted) else item
            if deleted and self.encoding != "proto":
                continue
            try:
                parts.append(encode_message(message, self.encoding, deleted=deleted))
            except (EncodeError, ValueError, TypeError, OverflowError) as exc:
                # ValueError / TypeError / OverflowError: what the encoders raise for a value
                # out of range (a 2**64 integer, a string over a frame's length).
                log.error(
                    "skipping a %s record that cannot be encoded as %s: %s",
                    message.MSG_NAME,
                    self.encoding,
                    type(exc).__name__,
                )
        if self.encoding == "json":
            # The json protocol carries exactly one message per WebSocket frame.
            return [part.decode() for part in parts]
        return [b"".join(parts)] if parts else []

    async def send(self, messages: Sequence[Message | Deleted]) -> None:
        """Queue ``messages`` as one batch (a snapshot is never interleaved with another
        stream's batch, so a client can attribute records to its query)."""
        if not messages or self._stalled() or self.ws.closed:
            return
        for frame in self._encoded(messages):
            self._outgoing.append(frame)
            self._queued += len(frame)
        self._sent.clear()
        self._has_output.set()
        if self._queued > self.limits.max_queued_bytes:
            log.warning("closing a WebSocket: %d bytes queued for a slow client", self._queued)
            self._outgoing.clear()
            reason = f"client too slow: over {self.limits.max_queued_bytes} bytes queued"
            await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=reason.encode())

    async def _write(self) -> None:
        while not self.ws.closed:
            await self._has_output.wait()
            self._has_output.clear()
            while self._outgoing and not self.ws.closed:
                frame = self._outgoing.popleft()
                self._queued -= len(frame)
                try:
                    if isinstance(frame, str):
                        await self.ws.send_str(frame)
                    else:
                        await self.ws.send_bytes(frame)
                except (ConnectionError, RuntimeError):
                    # The peer went away mid-send; the reader notices and ends the connection.
                    self._outgoing.clear()
                    self._queued = 0
            self._sent.set()
            self._wake.set()  # the queue drained: live updates may go out

    async def _close(self, reason: str) -> None:
        """Close (policy violation) once what is queued has gone out, waiting a bounded time:
        a client told why should hear it, but one that does not read is not waited for."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sent.wait(), 5.0)
        await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=reason.encode())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._pump()), loop.create_task(self._write())]
        if not self.session.authorised:
            tasks.append(loop.create_task(self._logon_deadline()))
        try:
            await self.send(self.session.opening())
            await self._read()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.session.close()

    async def _logon_deadline(self) -> None:
        await asyncio.sleep(self.limits.logon_timeout)
        if not self.session.authorised and not self.ws.closed:
            log.warning("closing a WebSocket: no logon within %s s", self.limits.logon_timeout)
            await self._close(f"no logon within {self.limits.logon_timeout:g} s")

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type == WSMsgType.ERROR:
                # aiohttp refused the frame (too big) and is closing with the reason.
                log.warning("closing a WebSocket: %s", type(frame.data).__name__)
                break
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            data = frame.data.encode() if frame.type == WSMsgType.TEXT else frame.data
            await self.send(self.session.feed(data))
            if self.session.closing:
                await self._close("logon failed")
                return
            self._wake.set()

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat
        while not self.ws.closed:
            deadline = self.session.next_deadline()
            wait = next_beat - loop.time()
            if deadline is not None:
                wait = min(wait, deadline - self.session.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.0))
            self._wake.clear()
            if self._sent.is_set():
                # Only when the client has taken everything: until then updates coalesce.
                await self.send(self.session.due())
            if loop.time() >= next_beat:
                next_beat = loop.time() + self.heartbeat
                await self.send(self.session.heartbeat())


def _fault_endpoint(
    handler: RestHandler, connections: set[_Connection]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /srmlink/fault/{kind}``: drop, stall or corrupt every open WebSocket."""

    async def fault(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        key = next((v for k, v in request.query.items() if k.lower() == "apikey"), "")
        if not (handler.authorised(_bearer(request)) or handler.authorised_key(key)):
            raise web.HTTPUnauthorized(text="fault injection needs the server's API key or a JWT")
        if kind == "delete":
            return _delete(handler, request)
        if kind not in _FAULTS:
            raise web.HTTPNotFound(
                text=f"unknown fault {kind!r}; one of {', '.join(_FAULTS)}, delete"
            )
        seconds = _stall_seconds(request.query.get("seconds")) if kind == "stall" else None
        targets = list(connections)
        for connection in targets:
            if kind == "drop":
                if connection.transport is not None:
                    connection.transport.abort()
            elif kind == "stall":
                connection.stall(seconds)
            else:
                await connection.ws.send_bytes(b"\r\nJ0x!?garbage-not-a-frame")
        log.warning("fault injected: %s on %d connection(s)", kind, len(targets))
        return web.json_response({"fault": kind, "connections": len(targets)})

    return fault


def _delete(handler: RestHandler, request: web.Request) -> web.Response:
    """``POST /srmlink/fault/delete?msgtype=NAME&pkey=K&pkey=...``: delete records (all or
    none) as MLink would, so clients see deletes: MLink's API has no delete request, so this
    is the local server's own admin call."""
    name = request.query.get("msgtype", "")
    keys = request.query.getall("pkey", [])
    if name not in handler.registry:
        raise web.HTTPBadRequest(text=f"delete: unknown msgtype {name[:80]!r}")
    if not keys:
        raise web.HTTPBadRequest(text="delete: no pkey given (pkey=FLAT-KEY, repeatable)")
    try:
        handler.store.delete(name, keys)
    except UnknownRecordError as exc:
        raise web.HTTPNotFound(text=f"delete: {exc}") from None
    log.warning("deleted %d %s record(s)", len(keys), name)
    return web.json_response({"fault": "delete", "deleted": len(keys)})


def create_app(
    handler: RestHandler,
    *,
    heartbeat: float = 10.0,
    faults: bool = False,
    limits: StreamLimits | None = None,
) -> web.Application:
    """The aiohttp application: REST, WebSocket and (optionally) fault injection."""
    limits = limits or StreamLimits()
    connections: set[_Connection] = set()

    async def rest(request: web.Request) -> web.Response:
        encoding = _encoding(request)
        body = await request.read() if request.method == "POST" else b""
        # The handler is pure and fast; run it inline (one event loop, no shared-state locks).
        data = handler.handle(encoding, dict(request.query), body, bearer=_bearer(request))
        log.info("%s %s -> %d bytes", request.method, redact(str(request.rel_url)), len(data))
        return web.Response(body=data, content_type=_CONTENT_TYPES[encoding])

    async def stream(request: web.Request) -> web.WebSocketResponse:
        encoding = _encoding(request)
        if len(connections) >= limits.max_connections:
            log.warning("refusing a WebSocket: %d connections open", len(connections))
            raise web.HTTPServiceUnavailable(
                text=f"connection limit reached ({limits.max_connections} WebSockets open)"
            )
        # The size limit applies from the first frame, logged on or not: aiohttp refuses a
        # larger frame from its header, before buffering any of it.
        ws = web.WebSocketResponse(max_msg_size=limits.max_message_bytes)
        authorised = handler.authorised(_bearer(request))
        session = StreamSession(handler, encoding, authorised=authorised)
        connection = _Connection(ws, session, heartbeat, request.transport, limits)
        connections.add(connection)  # before any await: the cap holds for concurrent upgrades
        try:
            await ws.prepare(request)
            log.info(
                "WebSocket /mlink/%s opened (%s)",
                encoding,
                "authorised" if authorised else "awaiting logon",
            )
            await connection.run()
        finally:
            connections.discard(connection)
        return ws

    fault = _fault_endpoint(handler, connections)

    async def route(request: web.Request) -> web.StreamResponse:
        # MLink's paths are case-insensitive (SpiderRock's samples write /rest/JSON).
        section = request.match_info["section"].lower()
        if section == "rest":
            return await rest(request)
        if section == "mlink" and request.method == "GET":
            return await stream(request)
        raise web.HTTPNotFound(text=f"no such endpoint: /{section[:40]}/...; use /rest or /mlink")

    app = web.Application()
    app.router.add_route("*", "/{section}/{encoding}", route)
    if faults:
        app.router.add_post("/srmlink/fault/{kind}", fault)
    return app


class LocalServer:
    """Runs the app on ``host:port`` (port 0 picks a free one) with optional demo data.

    Args:
        registry: the generated registry whose message types it serves.
        api_key: when given, only this key (``KEY`` or ``KEY.PASSWORD``) and keys the server
            issues are accepted (others get AuthError).
        jwt_secret: accept HS256 JWTs signed with this secret (REST bearer, WebSocket).
        demo: seed demo option chains and keep their quotes ticking every ``tick`` seconds.
        heartbeat: seconds between MLinkHeartbeat messages on each WebSocket.
        faults: enable the fault-injection endpoints.
        limits: what one WebSocket client may cost (defaults: :class:`StreamLimits`).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        jwt_secret: str | None = None,
        demo: bool = True,
        tick: float = 0.2,
        heartbeat: float = 10.0,
        faults: bool = False,
        limits: StreamLimits | None = None,
    ) -> None:
        self.handler = RestHandler(LiveStore(), registry, api_key, jwt_secret=jwt_secret)
        self.host = host
        self.port = port
        self.demo = demo
        self.tick = tick
        self.heartbeat = heartbeat
        self.faults = faults
        self.limits = limits or StreamLimits()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"LocalServer({self.url!r}, demo={self.demo})"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving (and ticking demo quotes)."""
        app = create_app(
            self.handler, heartbeat=self.heartbeat, faults=self.faults, limits=self.limits
        )
        self.handler.keys.protect()
        if self.faults and not is_loopback(self.host):
            log.warning(
                "fault injection is ON and the server listens on %s, not loopback: anyone "
                "with the API key on that network can drop, stall or corrupt every stream",
                self.host,
            )
        self._runner = SafeAppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]
        if self.demo:
            keys = seed(self.handler)
            if self.tick > 0:
                self._ticker = asyncio.get_running_loop().create_task(
                    tick_forever(self.handler, keys, self.tick)
                )

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def serve_forever(
        self, ready: Callable[[LocalServer], Awaitable[None] | None] | None = None
    ) -> None:
        """Start, report readiness, and serve until cancelled."""
        await self.start()
        try:
            if ready is not None:
                result = ready(self)
                if result is not None:
                    await result
            await asyncio.Event().wait()
        finally:
            await self.stop()
