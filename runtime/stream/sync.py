"""The synchronous twin of :class:`~srmlink.stream.client.AsyncMLinkStream`.

It runs the async client on an event loop in a background thread of its own. The thread,
its loop and the connections never outlive the client: close() is bounded, a failed
connect() closes everything, and a client dropped without close() is closed by a finalizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, overload

from ..auth import Credentials
from ..codec import Encoding
from ..errors import MLinkTransportError
from ..message import Message, PrimaryKey
from ..registry import Registry
from .cache import LastValueCache
from .client import AsyncMLinkStream, KeyFilter, Scheme
from .events import Event
from .protocol import SIGNAL_READY, ClientProtocol, Flow, RequestOptions
from .subscription import Subscription

__all__ = ["MLinkStream"]

M = TypeVar("M", bound=Message)
_T = TypeVar("_T")


class MLinkStream:
    """The synchronous twin of :class:`AsyncMLinkStream` (same arguments).

    Runs the async client on an event loop in a background thread; iteration is still
    consumer-paced (SignalReady goes out when you ask for the next event).

    >>> with MLinkStream(api_key, host="ws://127.0.0.1:8642") as stream:
    ...     for record in stream.subscribe(OptionNbboQuote):
    ...         print(record.message.bid_price)
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
        # Built before the thread starts, so a bad argument leaves nothing running (asyncio
        # queues and locks bind to a loop on first use, not when created).
        self._client = AsyncMLinkStream(
            api_key,
            jwt=jwt,
            endpoint=endpoint,
            host=host,
            scheme=scheme,
            encoding=encoding,
            registry=registry,
            flow=flow,
            cache=cache,
            stripes=stripes,
            reconnect_attempts=reconnect_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            heartbeat_timeout=heartbeat_timeout,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            max_queue=max_queue,
            check_drift=check_drift,
            raw_frames=raw_frames,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=_run_loop, args=(self._loop,), name="srmlink-stream", daemon=True
        )
        self._thread.start()
        # A client dropped without close() still closes its connection and stops its thread
        # (the finalizer holds the loop, thread and async client, never self).
        self._finalizer = weakref.finalize(
            self, _shutdown, self._loop, self._thread, self._client, close_timeout
        )

    def _run(self, factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        # Timeouts are handled inside the loop (next_event): cancelling a call from this
        # thread could drop an event that arrived at the same moment.
        if not self._finalizer.alive:
            raise MLinkTransportError("this MLinkStream is closed")
        return asyncio.run_coroutine_threadsafe(factory(), self._loop).result()

    @property
    def cache(self) -> LastValueCache | None:
        """The last-value cache (``cache=True``), else None."""
        return self._client.cache

    @property
    def protocol(self) -> ClientProtocol:
        """As :attr:`AsyncMLinkStream.protocol`."""
        return self._client.protocol

    @property
    def connections(self) -> int:
        """As :attr:`AsyncMLinkStream.connections`."""
        return self._client.connections

    def __repr__(self) -> str:
        return "MLinkStream" + repr(self._client).removeprefix("AsyncMLinkStream")

    def connect(self) -> None:
        """As :meth:`AsyncMLinkStream.connect`; on failure the background loop stops too."""
        try:
            self._run(self._client.connect)
        except BaseException:
            self.close()
            raise

    @overload
    def subscribe(
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
    ) -> Subscription[M]: ...
    @overload
    def subscribe(
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
    ) -> Subscription[Message]: ...
    def subscribe(
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
    ) -> Subscription[Any]:
        """As :meth:`AsyncMLinkStream.subscribe`; the handle iterates synchronously."""
        handle = self._run(
            lambda: self._client.subscribe(
                msgtype,
                where=where,
                view=view,
                active_latency=active_latency,
                live=live,
                highwater_ts=highwater_ts,
                keys=keys,
                pkeys=pkeys,
                options=options,
            )
        )
        return Subscription(self, handle.query_id, handle.msgtype, live)

    def unsubscribe(self, query_id: int) -> None:
        """As :meth:`AsyncMLinkStream.unsubscribe`."""
        self._run(lambda: self._client.unsubscribe(query_id))

    @overload
    def query(
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
    def query(
        self,
        msgtype: str,
        *,
        where: object | None = None,
        view: object | None = None,
        keys: Sequence[KeyFilter] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
        options: RequestOptions | None = None,
    ) -> list[Message]: ...
    def query(
        self,
        msgtype: str | type[Message],
        *,
        where: object | None = None,
        view: object | None = None,
        keys: Sequence[KeyFilter] = (),
        pkeys: Sequence[PrimaryKey | str] = (),
        options: RequestOptions | None = None,
    ) -> list[Any]:
        """As :meth:`AsyncMLinkStream.query`."""
        return self._run(
            lambda: self._client.query(
                msgtype, where=where, view=view, keys=keys, pkeys=pkeys, options=options
            )
        )

    def send(self, message: Message) -> None:
        """As :meth:`AsyncMLinkStream.send`."""
        self._run(lambda: self._client.send(message))

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
