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
- an optional :class:`~srmlink.stream.cache.LastValueCache` kept up to date from the stream.

After ``reconnect_attempts`` failed attempts in a row the iterator raises
:class:`~srmlink.errors.MLinkTransportError`; AuthError and MLinkStreamError are never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..auth import Credentials, protect_logs, redact
from ..clauses import clause_text
from ..codec import Encoding
from ..drift import DriftItem
from ..endpoints import ENDPOINTS
from ..errors import (
    AuthError,
    FramingError,
    MLinkStreamError,
    MLinkTimeoutError,
    MLinkTransportError,
    SchemaDriftWarning,
    SRMLinkError,
)
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import Message, PrimaryKey
from ..registry import Registry, default_registry
from .cache import LastValueCache
from .events import CheckPoint, Event, Reconnected, Record
from .protocol import SIGNAL_READY, ClientProtocol, Flow, Subscription

__all__ = ["ENDPOINTS", "AsyncMLinkStream", "MLinkStream"]

log = logging.getLogger("srmlink.stream")
# The websockets connection logs here: at DEBUG it prints every frame, and the frames we
# send include MLinkLogon with the credentials, so outgoing payloads are not logged.
_WIRE_LOG = logging.getLogger("srmlink.stream.websockets")


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


_WIRE_LOG.addFilter(_HideSentPayloads())
MessageType = str | type[Message]
_T = TypeVar("_T")


class _Failure:
    """Carries an exception from the reader task to the consumer, in order."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class AsyncMLinkStream:
    """An MLink WebSocket session: subscribe to message types, iterate typed events.

    >>> async with AsyncMLinkStream(api_key) as stream:
    ...     await stream.subscribe(OptionNbboQuote, where="okey.tk:eq:AAPL")
    ...     async for event in stream:
    ...         if isinstance(event, Record): handle(event.message)

    Args:
        api_key: the API key (``KEY`` or ``KEY.PASSWORD``), or None for ``SRMLINK_API_KEY``.
        endpoint: ``live`` or ``delayed`` (ignored when ``host`` is given).
        host: ``HOST[:PORT]`` of an MLink server (a local ``srmlink serve`` for example).
        scheme: ``wss`` (default) or ``ws``.
        encoding: ``proto`` (default, the fastest), ``jsonf`` or ``json``.
        registry: the generated registry (default ``srmlink.messages.registry``).
        cache: keep a :class:`LastValueCache` of every record received (``.cache``).
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
    """

    def __init__(
        self,
        api_key: str | Credentials | None = None,
        *,
        endpoint: Literal["live", "delayed"] = "live",
        host: str | None = None,
        scheme: Literal["ws", "wss"] = "wss",
        encoding: Encoding = "proto",
        registry: Registry | None = None,
        flow: Flow | None = None,
        cache: bool = False,
        reconnect_attempts: int = 10,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        heartbeat_timeout: float | None = 35.0,
        open_timeout: float = 10.0,
        close_timeout: float = 5.0,
        max_queue: int = 10_000,
        check_drift: bool = False,
    ) -> None:
        if encoding not in ("json", "jsonf", "proto"):
            raise ValueError(f"encoding must be json, jsonf or proto, not {encoding!r}")
        credentials = (
            api_key
            if isinstance(api_key, Credentials)
            else Credentials.from_token(api_key)
            if api_key
            else Credentials.from_env()
        )
        self.registry = registry if registry is not None else default_registry()
        protect_logs()
        self.url = f"{scheme}://{host or ENDPOINTS[endpoint]}/mlink/{encoding}"
        self.protocol = ClientProtocol(self.registry, encoding, credentials, flow=flow)
        self.cache: LastValueCache | None = LastValueCache() if cache else None
        self.reconnect_attempts = reconnect_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        # Without MLinkHeartbeat (2023 schemas) silence is normal: WebSocket pings, which
        # the transport sends every 20 s, are then what detects a dead connection.
        self.heartbeat_timeout = heartbeat_timeout if "MLinkHeartbeat" in self.registry else None
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self._queue: asyncio.Queue[Event | _Failure] = asyncio.Queue(max_queue)
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._getter: asyncio.Future[Event | _Failure] | None = None
        self._logged_on: asyncio.Future[None] | None = None
        self._closed = False
        self._send_lock = asyncio.Lock()
        self._check_drift = check_drift
        self._rest = (host or ENDPOINTS[endpoint], "https" if scheme == "wss" else "http")

    def __repr__(self) -> str:
        return f"AsyncMLinkStream({self.url!r}, flow={self.protocol.flow!r})"

    def _secrets(self) -> tuple[str, ...]:
        creds = self.protocol.credentials
        return creds.secrets() if creds is not None else ()

    def _safe(self, exc: BaseException) -> str:
        return redact(str(exc) or type(exc).__name__, self._secrets())

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

    async def _open(self) -> None:
        """One connection: upgrade, log on, resume subscriptions; raises on failure.

        Every wait here is an ``asyncio.timeout`` block, never ``asyncio.wait_for``: on
        Python 3.11 wait_for returns a result that arrives as it is cancelled and swallows
        the cancellation, so close() could wait forever for this task.
        """
        headers = {}
        if self.protocol.credentials is not None:
            headers["Authorization"] = f"Bearer {self.protocol.credentials.token}"
        try:
            async with asyncio.timeout(self.open_timeout):
                ws = await connect(
                    self.url,
                    additional_headers=headers,
                    max_size=None,
                    open_timeout=self.open_timeout,
                    close_timeout=self.close_timeout,
                    logger=_WIRE_LOG,
                )
        except TimeoutError as exc:
            raise MLinkTimeoutError(f"connecting to {self.url} timed out") from exc
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            raise MLinkTransportError(f"cannot connect to {self.url}: {self._safe(exc)}") from exc
        self._ws = ws
        logged_on = self._logged_on = asyncio.get_running_loop().create_future()
        try:
            for frame in self.protocol.connection_made():
                await self._send(frame)
            if self.protocol.credentials is None:
                logged_on.set_result(None)
            self._reader = asyncio.get_running_loop().create_task(self._read(ws))
            async with asyncio.timeout(self.open_timeout):
                await asyncio.shield(logged_on)
        except TimeoutError as exc:
            await self._shut(ws)
            raise MLinkTimeoutError(f"no logon answer from {self.url}") from exc
        except BaseException:
            await self._shut(ws)
            raise

    async def _shut(self, ws: ClientConnection) -> None:
        """Stop the reader and close ``ws``, each within ``close_timeout``."""
        reader, self._reader = self._reader, None
        await _stop(reader, self.close_timeout)
        await _close(ws, self.close_timeout)

    async def connect(self) -> None:
        """Connect and log on. Raises AuthError if the server refuses the credentials."""
        self._closed = False
        if self._check_drift:
            await self.check_drift()
        try:
            await self._open()
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
                self.protocol.credentials, host=host, scheme=scheme, registry=self.registry
            ) as client:
                return await client.check_drift()
        except SRMLinkError as exc:
            warnings.warn(
                SchemaDriftWarning(f"could not compare the server's message types: {exc}"),
                stacklevel=2,
            )
            return ()

    async def close(self) -> None:
        """Close the connection and stop; iteration ends. Bounded: each task gets
        ``close_timeout`` seconds to stop and the close handshake as long."""
        self._closed = True
        if self._getter is not None:
            self._getter.cancel()
            self._getter = None
        # A reconnect in progress may open a connection and start a reader: stop it first.
        reconnecting, self._reconnecting = self._reconnecting, None
        await _stop(reconnecting, self.close_timeout)
        reader, self._reader = self._reader, None
        await _stop(reader, self.close_timeout)
        if self._ws is not None:
            await _close(self._ws, self.close_timeout)

    async def _send(self, frame: bytes) -> None:
        ws = self._ws
        if ws is None:
            raise MLinkTransportError("not connected")
        text = self.protocol.encoding == "json"
        async with self._send_lock:
            await ws.send(frame.decode() if text else frame)

    # ---- reading ---------------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        """Receive frames into the queue until the connection ends; then reconnect or fail."""
        reason: str
        try:
            while True:
                async with asyncio.timeout(self.heartbeat_timeout):
                    frame = await ws.recv()
                data = frame.encode() if isinstance(frame, str) else frame
                for event in self.protocol.receive(data):
                    if self.cache is not None:
                        self.cache.apply(event)
                    await self._queue.put(event)
                if self.protocol.logged_on and self._logged_on and not self._logged_on.done():
                    self._logged_on.set_result(None)
        except asyncio.CancelledError:
            raise
        except (AuthError, MLinkStreamError) as exc:
            self._fail(exc)
            await _close(ws, self.close_timeout)
            return
        except TimeoutError:
            reason = f"no frame for {self.heartbeat_timeout} s (stalled server)"
        except FramingError as exc:
            reason = f"corrupt frame stream: {exc}"
        except websockets.exceptions.ConnectionClosed as exc:
            reason = f"connection closed: {self._safe(exc)}"
        except OSError as exc:
            reason = f"connection failed: {self._safe(exc)}"
        await _close(ws, self.close_timeout)
        if self._closed:
            return
        log.warning("srmlink stream %s: %s", self.url, reason)
        if self._logged_on is not None and not self._logged_on.done():
            self._fail(MLinkTransportError(f"{self.url}: {reason}"))
            return
        # Held on self: the event loop keeps only a weak reference to a task.
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect(reason))

    def _fail(self, error: BaseException) -> None:
        if self._logged_on is not None and not self._logged_on.done():
            self._logged_on.set_exception(error)
            self._logged_on.exception()  # retrieved here too: the consumer may never wait
        self._queue.put_nowait(_Failure(error))

    async def _reconnect(self, reason: str) -> None:
        delay = self.backoff
        for attempt in range(1, self.reconnect_attempts + 1):
            await asyncio.sleep(delay)
            if self._closed:
                return
            try:
                await self._open()
            except (AuthError, MLinkStreamError) as exc:
                self._fail(exc)
                return
            except MLinkTransportError as exc:
                log.info("srmlink stream reconnect %d failed: %s", attempt, self._safe(exc))
                delay = min(delay * 2, self.max_backoff)
                continue
            await self._queue.put(Reconnected(attempt, reason))
            return
        self._fail(
            MLinkTransportError(
                f"{self.url}: {reason}; gave up after {self.reconnect_attempts} reconnect attempts"
            )
        )

    # ---- requests --------------------------------------------------------------------------

    async def subscribe(
        self,
        msgtype: MessageType,
        *,
        where: object | None = None,
        view: object | None = None,
        active_latency: int | None = SIGNAL_READY,
        live: bool = True,
        highwater_ts: int | None = None,
        keys: Sequence[TickerKey | ExpiryKey | OptionKey] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
    ) -> int:
        """Start streaming a message type; returns the subscription's query id.

        Args:
            where / view: clauses (strings in the documented syntax, or srmlink.query
                builders); checked against the schema before sending.
            active_latency: ``SIGNAL_READY`` (None, default): the server sends updates when
                this client has handed every event to the consumer; N: every N ms (0: asap).
            live: False for the cached records only (a query), True to keep streaming.
            highwater_ts: only records changed after this time (ns since the epoch).
            keys: 2023 flow: ticker / expiry / option key filters.
            pkeys: 2026 flow: only these primary keys (sent as MLinkSubscribe).
        """
        cls = self.registry.by_name(msgtype) if isinstance(msgtype, str) else msgtype
        sub = Subscription(
            query_id=self.protocol.next_query_id(),
            msg_name=cls.MSG_NAME,
            where=None if where is None else clause_text(where, "where", cls),
            view=None if view is None else clause_text(view, "view", cls),
            active_latency=active_latency,
            live=live,
            highwater_ts=highwater_ts,
            keys=tuple(keys),
            pkeys=tuple(str(k) for k in pkeys),
        )
        await self._send(self.protocol.subscribe(sub))
        return sub.query_id

    async def unsubscribe(self, query_id: int) -> None:
        """Stop a subscription (the 2023 flow cannot: it ends with the connection)."""
        frame = self.protocol.unsubscribe(query_id)
        if frame is not None:
            await self._send(frame)

    async def query(self, msgtype: MessageType, **kwargs: Any) -> list[Message]:
        """The current records of a message type (a snapshot over the WebSocket).

        Keyword arguments as :meth:`subscribe` (``live`` is False). The snapshot is what the
        server sends between the query's Begin and Complete checkpoints; events of other
        subscriptions that arrive meanwhile are consumed here (the cache still sees them).
        """
        query_id = await self.subscribe(msgtype, live=False, **kwargs)
        records: list[Message] = []
        inside = False
        async for event in self:
            if isinstance(event, CheckPoint) and event.query_id == query_id:
                if event.state in ("Complete", "Terminated", "Error"):
                    break
                inside = inside or event.state == "Begin"
            elif inside and isinstance(event, Record) and isinstance(event.message, Message):
                records.append(event.message)
        if self.protocol.flow == "stream":
            await self.unsubscribe(query_id)
        return records

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
        if self._getter is None:
            if self._closed and self._queue.empty():
                raise StopAsyncIteration
            if (
                self._queue.empty()
                and self.protocol.paced
                and self.protocol.logged_on
                and self.protocol.outstanding_signal is None
                and self._ws is not None
            ):
                # The consumer has drained everything it was given: ask for the next batch.
                with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                    await self._send(self.protocol.signal_ready())
            self._getter = asyncio.ensure_future(self._queue.get())
        getter = self._getter
        done, _ = await asyncio.wait({getter}, timeout=timeout)
        if not done:
            raise TimeoutError(f"no MLink event within {timeout} s")
        if getter.cancelled():  # close() ended the wait
            raise StopAsyncIteration
        item = getter.result()
        self._getter = None
        if isinstance(item, _Failure):
            self._closed = True
            raise item.error
        return item


async def _stop(task: asyncio.Task[None] | None, timeout: float) -> None:
    """Cancel ``task`` and wait at most ``timeout`` s for it to end (never forever)."""
    if task is None or task is asyncio.current_task():
        return
    task.cancel()
    await asyncio.wait({task}, timeout=timeout)
    if not task.done():
        log.warning("srmlink stream: a task ignored cancellation for %s s", timeout)
    elif not task.cancelled():
        task.exception()  # reported through the event queue already; retrieved here


async def _close(ws: ClientConnection, timeout: float) -> None:
    """The close handshake, within ``timeout`` s; a wedged peer gets its socket dropped."""
    try:
        async with asyncio.timeout(timeout):
            await ws.close()
    except (TimeoutError, websockets.exceptions.WebSocketException, OSError):
        ws.transport.abort()


class MLinkStream:
    """The synchronous twin of :class:`AsyncMLinkStream` (same arguments).

    Runs the async client on an event loop in a background thread; iteration is still
    consumer-paced (SignalReady goes out when you ask for the next event).

    >>> with MLinkStream(api_key, host="127.0.0.1:8642", scheme="ws") as stream:
    ...     stream.subscribe("OptionNbboQuote")
    ...     for event in stream: ...
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Built before the thread starts, so a bad argument leaves nothing running (asyncio
        # queues and locks bind to a loop on first use, not when created).
        self._client = AsyncMLinkStream(*args, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=_run_loop, args=(self._loop,), name="srmlink-stream", daemon=True
        )
        self._thread.start()
        # A client dropped without close() still closes its connection and stops its thread
        # (the finalizer holds the loop, thread and async client, never self).
        self._finalizer = weakref.finalize(
            self, _shutdown, self._loop, self._thread, self._client, self._client.close_timeout
        )

    def _run(self, factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        # Timeouts are handled inside the loop (next_event): cancelling a call from this
        # thread could drop an event that arrived at the same moment.
        if self._loop.is_closed():
            raise MLinkTransportError("this MLinkStream is closed")
        return asyncio.run_coroutine_threadsafe(factory(), self._loop).result()

    @property
    def cache(self) -> LastValueCache | None:
        return self._client.cache

    @property
    def protocol(self) -> ClientProtocol:
        return self._client.protocol

    def __repr__(self) -> str:
        return f"MLinkStream({self._client.url!r}, flow={self._client.protocol.flow!r})"

    def subscribe(self, msgtype: MessageType, **kwargs: Any) -> int:
        """As :meth:`AsyncMLinkStream.subscribe`."""
        return self._run(lambda: self._client.subscribe(msgtype, **kwargs))

    def unsubscribe(self, query_id: int) -> None:
        """As :meth:`AsyncMLinkStream.unsubscribe`."""
        self._run(lambda: self._client.unsubscribe(query_id))

    def query(self, msgtype: MessageType, **kwargs: Any) -> list[Message]:
        """As :meth:`AsyncMLinkStream.query`."""
        return self._run(lambda: self._client.query(msgtype, **kwargs))

    def next_event(self, timeout: float | None = None) -> Event:
        """The next event; TimeoutError after ``timeout`` seconds, StopIteration at the end."""
        try:
            return self._run(lambda: self._client.next_event(timeout))
        except StopAsyncIteration:
            raise StopIteration from None

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return self.next_event()

    def close(self) -> None:
        """Close the connection and stop the background loop (bounded, idempotent)."""
        self._finalizer()

    def connect(self) -> None:
        """As :meth:`AsyncMLinkStream.connect`; on failure the background loop stops too."""
        try:
            self._run(self._client.connect)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _shutdown(
    loop: asyncio.AbstractEventLoop,
    thread: threading.Thread,
    client: AsyncMLinkStream,
    timeout: float,
) -> None:
    """Close ``client`` on ``loop``, stop the loop and its thread, close the loop; bounded."""
    if loop.is_closed():
        return
    if thread is threading.current_thread():
        loop.create_task(client.close())  # collected on its own loop: no waiting here
    else:
        closing = asyncio.run_coroutine_threadsafe(client.close(), loop)
        # Two task stops and a close handshake, each within `timeout`, plus a margin.
        with contextlib.suppress(Exception):
            closing.result(timeout=3 * timeout + 1)
    loop.call_soon_threadsafe(loop.stop)
    if thread is not threading.current_thread():
        thread.join(timeout=timeout)


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The background thread: run ``loop`` until stopped, finish what is pending, close it."""
    try:
        loop.run_forever()
        pending = asyncio.all_tasks(loop)
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))
    finally:
        loop.close()
