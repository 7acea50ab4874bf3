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
frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from ..auth import redact
from ..codec import Encoding, FrameDecoder, UnknownMessage, encode, encode_message
from ..errors import DecodeError, EncodeError, FramingError
from ..message import Message
from ..registry import Registry
from .demo import seed, tick_forever
from .rest import RestHandler
from .safe_http import SafeAppRunner
from .session import StreamSession
from .store import LiveStore

__all__ = ["LocalServer", "create_app"]

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


class _Connection:
    """One WebSocket connection: reads requests, pumps due batches and heartbeats."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session: StreamSession,
        heartbeat: float,
        transport: asyncio.Transport | None,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.session = session
        self.encoding: Encoding = session.encoding
        self.heartbeat = heartbeat
        self.stalled_until: float | None = None
        self._wake = asyncio.Event()
        self._sending = asyncio.Lock()
        session.wake = self._wake.set

    def stall(self, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        self.stalled_until = float("inf") if seconds is None else loop.time() + seconds

    def _stalled(self) -> bool:
        return (
            self.stalled_until is not None
            and asyncio.get_running_loop().time() < self.stalled_until
        )

    async def send(self, messages: list[Message]) -> None:
        if not messages or self._stalled() or self.ws.closed:
            return
        try:
            # One batch at a time: a snapshot (Begin .. Complete) is never interleaved with
            # another stream's batch, so a client can attribute records to its query.
            async with self._sending:
                if self.encoding == "json":
                    # The json protocol carries exactly one message per WebSocket frame.
                    for message in messages:
                        await self.ws.send_str(encode_message(message, "json").decode())
                else:
                    await self.ws.send_bytes(encode(messages, self.encoding))
        except (ConnectionError, RuntimeError):
            # The peer went away mid-send; the reader notices and ends the connection.
            self._wake.set()

    async def run(self) -> None:
        pump = asyncio.get_running_loop().create_task(self._pump())
        try:
            await self.send(self.session.opening())
            await self._read()
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self.session.close()

    async def _read(self) -> None:
        decoder = FrameDecoder(self.encoding, registry=self.session.registry)
        async for frame in self.ws:
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            data = frame.data.encode() if frame.type == WSMsgType.TEXT else frame.data
            try:
                requests = decoder.feed(data)
            except (DecodeError, FramingError) as exc:
                log.warning("closing a WebSocket: undecodable request: %s", exc)
                await self.ws.close(code=1007, message=b"undecodable request")
                return
            for request in requests:
                if isinstance(request, UnknownMessage):
                    continue
                await self.send(self.session.receive(request))
                if self.session.closing:
                    await self.ws.close(code=1008, message=b"logon failed")
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
            try:
                await self.send(self.session.due())
                if loop.time() >= next_beat:
                    next_beat = loop.time() + self.heartbeat
                    await self.send(self.session.heartbeat())
            except EncodeError as exc:
                log.error("cannot encode a stream update: %s", exc)


def create_app(
    handler: RestHandler, *, heartbeat: float = 10.0, faults: bool = False
) -> web.Application:
    """The aiohttp application: REST, WebSocket and (optionally) fault injection."""
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
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        authorised = handler.authorised(_bearer(request))
        session = StreamSession(handler, encoding, authorised=authorised)
        connection = _Connection(ws, session, heartbeat, request.transport)
        connections.add(connection)
        log.info(
            "WebSocket /mlink/%s opened (%s)",
            encoding,
            "authorised" if authorised else "awaiting logon",
        )
        try:
            await connection.run()
        finally:
            connections.discard(connection)
        return ws

    async def fault(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        key = next((v for k, v in request.query.items() if k.lower() == "apikey"), "")
        if not (handler.authorised(_bearer(request)) or handler.authorised_key(key)):
            raise web.HTTPUnauthorized(text="fault injection needs the server's API key or a JWT")
        if kind not in _FAULTS:
            raise web.HTTPNotFound(text=f"unknown fault {kind!r}; one of {', '.join(_FAULTS)}")
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
    ) -> None:
        self.handler = RestHandler(LiveStore(), registry, api_key, jwt_secret=jwt_secret)
        self.host = host
        self.port = port
        self.demo = demo
        self.tick = tick
        self.heartbeat = heartbeat
        self.faults = faults
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"LocalServer({self.url!r}, demo={self.demo})"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving (and ticking demo quotes)."""
        app = create_app(self.handler, heartbeat=self.heartbeat, faults=self.faults)
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
