"""WebSocket streaming clients: :class:`AsyncMLinkStream` and its sync twin :class:`MLinkStream`.

The transport (the ``websockets`` library) only moves frames; everything MLink-specific lives
in the I/O-free :class:`~srmlink.stream.protocol.ClientProtocol`. What this module adds:

- connecting and logging on (an :class:`~srmlink.errors.AuthError` surfaces from
  :meth:`AsyncMLinkStream.connect`);
- consumer-paced flow control: with ``active_latency=SIGNAL_READY`` (the default) the client
  sends MLinkSignalReady when the consumer has drained every event it was given, never on a
  timer, so a slow consumer makes the server coalesce updates instead of queueing them;
- reconnecting with exponential backoff when the connection drops, the server stalls (no
  frame, not even a heartbeat, within ``heartbeat_timeout``) or the frame stream is corrupt,
  then resuming every subscription from its last checkpoint's ``highwaterTs``; a
  :class:`~srmlink.stream.events.Reconnected` event marks the seam;
- an optional :class:`~srmlink.stream.cache.LastValueCache` kept up to date from the stream;
- typed subscriptions: ``await stream.subscribe(OptionNbboQuote)`` returns an
  :class:`~srmlink.stream.subscription.AsyncSubscription` whose records are
  ``Record[OptionNbboQuote]``; ``query(OptionNbboQuote)`` returns ``list[OptionNbboQuote]``;
- stripes: ``stripes=True`` (every code of :data:`srmlink.stripes.STRIPES`) or a list of
  codes opens one connection per stripe, all feeding one event iterator and one cache; each
  resumes from its own checkpoints after a reconnect;
- uploads and raw requests: :meth:`AsyncMLinkStream.send` sends any message; the server
  answers uploads with MLinkDataAck (a :class:`~srmlink.stream.events.DataAck` event).

After ``reconnect_attempts`` failed attempts in a row the iterator raises
:class:`~srmlink.errors.MLinkTransportError`; AuthError and MLinkStreamError are never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import warnings
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, overload

import websockets
from attrs import evolve

from ..auth import Credentials, protect_logs, redact
from ..clauses import clause_text
from ..codec import Encoding
from ..drift import DriftItem
from ..endpoints import ENDPOINTS, resolve_address
from ..errors import SchemaDriftWarning, SRMLinkError
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import Message, PrimaryKey
from ..registry import Registry, default_registry
from ..stripes import STRIPES
from .buffer import EventBuffer, Failure
from .cache import LastValueCache
from .connection import Connection, gather_all
from .events import Event
from .protocol import SIGNAL_READY, ClientProtocol, Flow, RequestOptions, StreamRequest
from .subscription import AsyncSubscription

__all__ = ["ENDPOINTS", "AsyncMLinkStream", "Scheme"]

Scheme = Literal["ws", "wss"]
M = TypeVar("M", bound=Message)
KeyFilter = TickerKey | ExpiryKey | OptionKey


class AsyncMLinkStream:
    """An MLink WebSocket session: subscribe to message types, iterate typed events.

    >>> async with AsyncMLinkStream(api_key) as stream:
    ...     quotes = await stream.subscribe(OptionNbboQuote, where="okey.tk:eq:AAPL")
    ...     async for record in quotes:
    ...         handle(record.message)  # an OptionNbboQuote

    Args:
        api_key: the API key (``KEY`` or ``KEY.PASSWORD``), or None for ``SRMLINK_API_KEY``
            (not read when ``jwt`` is given).
        jwt: a JSON Web Token: sent as ``Authorization: Bearer`` on the upgrade and as
            ``MLinkLogon.jwtToken``; never logged or shown in a repr.
        endpoint: ``live`` or ``delayed`` (ignored when ``host`` is given).
        host: ``HOST[:PORT]`` of an MLink server (a local ``srmlink serve`` for example), or
            a ``ws(s)://`` / ``http(s)://`` URL (``http`` meaning ``ws``).
        scheme: ``wss`` (default) or ``ws``; a URL ``host`` says it itself.
        encoding: ``proto`` (default, the fastest), ``jsonf`` or ``json``.
        registry: the generated registry (default ``srmlink.messages.registry``).
        flow: ``stream`` (2026) or ``query`` (2023); default: what the registry defines.
        cache: keep a :class:`LastValueCache` of every record received (``.cache``).
        stripes: True for one connection per code of :data:`srmlink.stripes.STRIPES`, or
            the stripe codes to open; each request then carries its connection's stripe.
        reconnect_attempts: connection attempts in a row before giving up (0: never reconnect).
        backoff / max_backoff: first and largest delay between attempts, seconds.
        heartbeat_timeout: seconds without any frame after which the server counts as stalled
            (schemas with MLinkHeartbeat; a dead connection also fails the transport's pings).
        open_timeout: seconds allowed for connecting and logging on.
        close_timeout: seconds allowed for each step of closing (stopping the reader, the
            close handshake); after that the socket is dropped.
        max_queue: events buffered ahead of the consumer before the client stops reading
            (and so the server slows down and coalesces).
        check_drift: on connect, compare the server's getmsgtypes (over REST, same host)
            with the registry and warn (SchemaDriftWarning) about differences; never fails.
        raw_frames: each :class:`Record` also carries its MLink frame as received
            (``Record.frame``; framed encodings), to pass a record on without encoding it
            again.
    """

    def __init__(
        self,
        api_key: str | Credentials | None = None,
        *,
        jwt: str | None = None,
        endpoint: Literal["live", "delayed"] = "live",
        host: str | None = None,
        scheme: Scheme | None = None,
        encoding: Encoding = "proto",
        registry: Registry | None = None,
        flow: Flow | None = None,
        cache: bool = False,
        stripes: bool | Sequence[str] = False,
        reconnect_attempts: int = 10,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        heartbeat_timeout: float | None = 35.0,
        open_timeout: float = 10.0,
        close_timeout: float = 5.0,
        max_queue: int = 10_000,
        check_drift: bool = False,
        raw_frames: bool = False,
    ) -> None:
        if encoding not in ("json", "jsonf", "proto"):
            raise ValueError(f"encoding must be json, jsonf or proto, not {encoding!r}")
        if jwt is not None and (not jwt or any(ch.isspace() for ch in jwt)):
            raise ValueError("a JWT must be non-empty and contain no whitespace")
        codes = _stripe_codes(stripes)
        credentials = (
            api_key
            if isinstance(api_key, Credentials)
            else Credentials.from_token(api_key)
            if api_key
            else None
            if jwt is not None
            else Credentials.from_env()
        )
        self.registry = registry if registry is not None else default_registry()
        protect_logs()
        address = resolve_address(host, endpoint=endpoint, scheme=scheme, websocket=True)
        self.url = address.url(f"mlink/{encoding}")
        self._jwt = jwt
        self._credentials = credentials
        self._connections = [
            Connection(
                self,
                ClientProtocol(
                    self.registry, encoding, credentials, flow=flow, jwt=jwt, raw_frames=raw_frames
                ),
                code,
            )
            for code in codes
        ]
        self.cache: LastValueCache | None = LastValueCache() if cache else None
        self.reconnect_attempts = reconnect_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        # Without MLinkHeartbeat (2023 schemas) silence is normal: WebSocket pings, which
        # the transport sends every 20 s, are then what detects a dead connection.
        self.heartbeat_timeout = heartbeat_timeout if "MLinkHeartbeat" in self.registry else None
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self._queue = EventBuffer(max_queue)
        self._getter: asyncio.Future[None] | None = None
        self._ids = itertools.count(1)
        self.closed = False
        self._check_drift = check_drift
        self._rest = (address.host, "https" if address.scheme == "wss" else "http")

    def __repr__(self) -> str:
        stripes = [c.stripe for c in self._connections if c.stripe is not None]
        extra = f", stripes={stripes!r}" if stripes else ""
        return f"AsyncMLinkStream({self.url!r}, flow={self.protocol.flow!r}{extra})"

    @property
    def protocol(self) -> ClientProtocol:
        """The protocol state of the (first) connection."""
        return self._connections[0].protocol

    @property
    def connections(self) -> int:
        """How many WebSocket connections this stream runs (one per stripe)."""
        return len(self._connections)

    @property
    def queue(self) -> EventBuffer:
        """Where every connection puts its events, in order (internal)."""
        return self._queue

    def headers(self) -> dict[str, str]:
        """The upgrade request's headers (internal: they carry the credentials)."""
        token = self._jwt or (self._credentials.token if self._credentials else None)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def safe(self, exc: BaseException) -> str:
        """``exc`` as text with every secret of this stream masked."""
        secrets = self._credentials.secrets() if self._credentials is not None else ()
        return redact(str(exc) or type(exc).__name__, (*secrets, *filter(None, [self._jwt])))

    # ---- connection ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect (every stripe at once) and log on.

        Raises:
            AuthError: the server refused the credentials.
            MLinkTransportError / MLinkTimeoutError: no connection; nothing is left open.
        """
        self.closed = False
        if self._check_drift:
            await self.check_drift()
        try:
            await gather_all([c.open for c in self._connections])
        except BaseException:
            await self.close()  # a failed connect leaves no task or socket behind
            raise

    async def check_drift(self) -> tuple[DriftItem, ...]:
        """Compare the server's message types (REST getmsgtypes on the same host) with the
        registry; differences become one SchemaDriftWarning. Never raises over the check:
        a server that cannot answer is reported in the warning too."""
        from ..rest import AsyncMLinkClient  # noqa: PLC0415 - httpx only when asked for

        host, scheme = self._rest
        try:
            async with AsyncMLinkClient(
                self._credentials, host=host, scheme=scheme, registry=self.registry
            ) as client:
                return await client.check_drift()
        except SRMLinkError as exc:
            warnings.warn(
                SchemaDriftWarning(f"could not compare the server's message types: {exc}"),
                stacklevel=2,
            )
            return ()

    async def close(self) -> None:
        """Close every connection and stop; iteration ends. Bounded: each task gets
        ``close_timeout`` seconds to stop and the close handshake as long."""
        self.closed = True
        if self._getter is not None:
            self._getter.cancel()
            self._getter = None
        await asyncio.gather(*(c.close() for c in self._connections))

    # ---- requests --------------------------------------------------------------------------

    @overload
    async def subscribe(
        self,
        msgtype: type[M],
        *,
        where: object | None = None,
        view: object | None = None,
        active_latency: int | None = SIGNAL_READY,
        live: bool = True,
        highwater_ts: int | None = None,
        keys: Sequence[KeyFilter] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
        options: RequestOptions | None = None,
    ) -> AsyncSubscription[M]: ...
    @overload
    async def subscribe(
        self,
        msgtype: str,
        *,
        where: object | None = None,
        view: object | None = None,
        active_latency: int | None = SIGNAL_READY,
        live: bool = True,
        highwater_ts: int | None = None,
        keys: Sequence[KeyFilter] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
        options: RequestOptions | None = None,
    ) -> AsyncSubscription[Message]: ...
    async def subscribe(
        self,
        msgtype: str | type[Message],
        *,
        where: object | None = None,
        view: object | None = None,
        active_latency: int | None = SIGNAL_READY,
        live: bool = True,
        highwater_ts: int | None = None,
        keys: Sequence[KeyFilter] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
        options: RequestOptions | None = None,
    ) -> AsyncSubscription[Any]:
        """Start streaming a message type; returns its typed :class:`AsyncSubscription`.

        Args:
            msgtype: a generated class (records typed as it) or a message name.
            where / view: clauses (strings in the documented syntax, or srmlink.query
                builders); checked against the schema before sending.
            active_latency: ``SIGNAL_READY`` (None, default): the server sends updates when
                this client has handed every event to the consumer; N: every N ms (0: asap).
            live: False for the cached records only (a query), True to keep streaming.
            highwater_ts: only records changed after this time (ns since the epoch).
            keys: 2023 flow: ticker / expiry / option key filters.
            pkeys: 2026 flow: only these primary keys (sent as MLinkSubscribe).
            options: the spec's other request fields (:class:`RequestOptions`).

        Raises:
            MLinkStreamError: a request field this schema's request message lacks.
        """
        cls = self.registry.by_name(msgtype) if isinstance(msgtype, str) else msgtype
        request = StreamRequest(
            query_id=next(self._ids),
            msg_name=cls.MSG_NAME,
            where=None if where is None else clause_text(where, "where", cls),
            view=None if view is None else clause_text(view, "view", cls),
            active_latency=active_latency,
            live=live,
            highwater_ts=highwater_ts,
            keys=tuple(keys),
            pkeys=tuple(str(k) for k in pkeys),
            options=options or RequestOptions(),
        )
        # Every frame is built (and so checked) before any is sent.
        frames = [(c, c.protocol.subscribe(_striped(request, c.stripe))) for c in self._connections]
        for connection, frame in frames:
            await connection.send(frame)
        return AsyncSubscription(self, request.query_id, cls, live)

    async def unsubscribe(self, query_id: int) -> None:
        """Stop a subscription (the 2023 flow cannot: it ends with the connection)."""
        for connection in self._connections:
            frame = connection.protocol.unsubscribe(query_id)
            if frame is not None:
                await connection.send(frame)

    @overload
    async def query(
        self,
        msgtype: type[M],
        *,
        where: object | None = None,
        view: object | None = None,
        keys: Sequence[KeyFilter] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
        options: RequestOptions | None = None,
    ) -> list[M]: ...
    @overload
    async def query(
        self,
        msgtype: str,
        *,
        where: object | None = None,
        view: object | None = None,
        keys: Sequence[KeyFilter] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
        options: RequestOptions | None = None,
    ) -> list[Message]: ...
    async def query(
        self,
        msgtype: str | type[Message],
        *,
        where: object | None = None,
        view: object | None = None,
        keys: Sequence[KeyFilter] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
        options: RequestOptions | None = None,
    ) -> list[Any]:
        """The current records of a message type (a snapshot over the WebSocket), typed.

        Arguments as :meth:`subscribe`. The snapshot is what the server sends between the
        query's Begin and Complete checkpoints (on every stripe); events of other
        subscriptions that arrive meanwhile are consumed here (the cache still sees them).
        """
        snapshot = await self.subscribe(
            msgtype, where=where, view=view, live=False, keys=keys, pkeys=pkeys, options=options
        )
        records = [record.message async for record in snapshot]
        if self.protocol.flow == "stream":
            await snapshot.unsubscribe()
        return records

    async def send(self, message: Message) -> None:
        """Send any message as it is: a raw request, or a data message to upload (the server
        stores it and answers with MLinkDataAck, a :class:`DataAck` event). A striped stream
        sends it on its first connection."""
        connection = self._connections[0]
        await connection.send(connection.protocol.message_frame(message))

    # ---- iteration -------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.next_event()

    async def next_event(self, timeout: float | None = None) -> Event:
        """The next event; TimeoutError if none comes within ``timeout`` seconds.

        A timeout cancels nothing: the wait goes on in the background and the next call
        picks it up, so no event is lost and no SignalReady is cut off mid-send.

        Raises:
            StopAsyncIteration: the stream was closed and everything received was consumed.
            AuthError / MLinkStreamError / MLinkTransportError: the session failed.
        """
        while True:
            if self._getter is None:
                if self._queue:
                    # Events already received: no task and no wait per event (the costly
                    # part of a busy stream's per-record path); pacing is untouched, as
                    # SignalReady goes out only once the buffer is drained.
                    return self._deliver(self._queue.get_nowait())
                if self.closed:
                    raise StopAsyncIteration
                # The consumer has drained everything it was given: ask for the next batch.
                for connection in self._connections:
                    if connection.wants_signal:
                        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                            await connection.send(connection.protocol.signal_ready())
                self._getter = self._queue.wait()
            getter = self._getter
            done, _ = await asyncio.wait({getter}, timeout=timeout)
            if not done:
                raise TimeoutError(f"no MLink event within {timeout} s")
            if getter.cancelled():  # close() ended the wait
                raise StopAsyncIteration
            if self._getter is getter:
                self._getter = None
            if self._queue:
                return self._deliver(self._queue.get_nowait())

    def _deliver(self, item: Event | Failure) -> Event:
        if isinstance(item, Failure):
            self.closed = True
            raise item.error
        return item


def _stripe_codes(stripes: bool | Sequence[str]) -> list[str | None]:
    """One entry per connection: its stripe code, or None for one unstriped connection."""
    if stripes is False:
        return [None]
    codes = list(STRIPES if stripes is True else stripes)
    if not codes or isinstance(stripes, str) or len(set(codes)) != len(codes):
        raise ValueError("stripes must be True or a non-empty list of distinct stripe codes")
    if not all(isinstance(code, str) and code.strip() == code and code for code in codes):
        raise ValueError(f"stripe codes must be non-empty words, not {codes!r}")
    return list(codes)


def _striped(request: StreamRequest, stripe: str | None) -> StreamRequest:
    return request if stripe is None else evolve(request, stripe=stripe)
