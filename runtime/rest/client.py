"""REST clients for MLink: :class:`MLinkClient` (sync) and :class:`AsyncMLinkClient`.

Thin twins over one I/O-free core (:mod:`.commands` builds requests, :class:`_Core` adds the
URL, credentials and encoding and turns responses into typed results (:mod:`.results`)), each
with an injectable httpx transport. Transport and HTTP failures become srmlink errors in one
place (:meth:`_Core.fail`), with no chain back to the httpx exception (whose request URL holds
the key); read-only commands are retried with exponential backoff.

The twins spell out each public method: their signatures differ only in ``async``, but mypy
needs each return type written (``RestResult[M]`` against ``Awaitable[RestResult[M]]``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from attrs import frozen

from ..auth import Credentials, Jwt, protect_logs, redact
from ..codec import Encoding, decode, encode
from ..drift import DriftItem, check_drift, warn_on_drift
from ..endpoints import ENDPOINTS, Address, Endpoint, resolve_address, tls_context
from ..errors import (
    AuthError,
    MLinkHTTPError,
    MLinkQueryError,
    MLinkTimeoutError,
    MLinkTransportError,
    UnknownMessageError,
)
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import Message, PrimaryKey
from ..records import wire_value
from ..registry import Registry, default_registry
from . import commands
from .commands import Clause, MessageType, RestRequest
from .results import CountResult, KeySetResult, RestResult, Shape, count_of, keys_of, sorted_by

if TYPE_CHECKING:
    import ssl

    # httpx (with ssl, about 100 ms) is imported when a client is made or a request built, not
    # with this module: `from srmlink import MLinkClient` stays cheap for code that only
    # decodes, and for command-line tools that never reach the network.
    import httpx

__all__ = ["ENDPOINTS", "AsyncMLinkClient", "MLinkClient"]

_RETRY_STATUS = frozenset({429, 502, 503, 504})
_AUTH_RESULTS = frozenset({"autherror", "tokenerror"})
log = logging.getLogger("srmlink.rest")

M = TypeVar("M", bound=Message)
T = TypeVar("T")
AnyKey = PrimaryKey | TickerKey | ExpiryKey | OptionKey | str


@frozen
class _Call(Generic[T]):
    """A request and what its records become."""

    request: RestRequest
    shape: Shape[T]


@frozen
class _Retry:
    delay: float


_ANY = sorted_by(Message)
_TKEYS = keys_of(TickerKey, "tickerKey")
_EKEYS = keys_of(ExpiryKey, "expiryKey")
_OKEYS = keys_of(OptionKey, "optionKey")


class _Core:
    """Everything the twins share: configuration, calls, request preparation, responses."""

    def __init__(
        self,
        *,
        credentials: Credentials | None,
        jwt: str | Jwt | None,
        endpoint: Endpoint,
        host: str | None,
        scheme: str | None,
        encoding: Encoding,
        retries: int,
        backoff: float,
        registry: Registry | None,
    ) -> None:
        if encoding not in ("json", "jsonf", "proto"):
            raise ValueError(f"encoding must be json, jsonf or proto, not {encoding!r}")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.credentials = credentials if credentials is not None else Credentials.from_env()
        self.jwt = Jwt(jwt) if isinstance(jwt, str) else jwt
        self.address: Address = resolve_address(
            host, endpoint=endpoint, scheme=scheme, websocket=False
        )
        self.encoding: Encoding = encoding
        self.retries = retries
        self.backoff = backoff
        self.registry = registry
        protect_logs()

    # -- calls: a request and the shape of its result ------------------------------------

    def expected(self, msgtype: MessageType) -> type[Message]:
        """The class a message type's records decode to (``Message`` for an unknown name)."""
        if not isinstance(msgtype, str):
            return msgtype
        registry = self.registry if self.registry is not None else default_registry()
        try:
            return registry.by_name(msgtype.strip())
        except UnknownMessageError:
            return Message

    def typed(self, msgtype: MessageType, request: RestRequest) -> _Call[RestResult[Any]]:
        return _Call(request, sorted_by(self.expected(msgtype)))

    def post(self, messages: Iterable[Message]) -> _Call[RestResult[Message]]:
        """Post records, encoded in this client's encoding (JSON-only types as framed JSON)."""
        items = list(messages)
        encoding = self.encoding
        if encoding == "proto" and any(m.SPEC.origin == "dictionary" for m in items):
            encoding = "jsonf"
        request = commands.postmsgs(encode(items, encoding))
        return _Call(
            RestRequest(
                "POST",
                request.command,
                request.params,
                request.body,
                json_only=encoding != self.encoding,
            ),
            _ANY,
        )

    # -- transport ------------------------------------------------------------------------

    def encoding_for(self, request: RestRequest) -> Encoding:
        # JSON-only message types cannot come back as protobuf.
        return "jsonf" if request.json_only and self.encoding == "proto" else self.encoding

    def build(self, request: RestRequest) -> httpx.Request:
        import httpx  # noqa: PLC0415 (see the imports above)

        params: list[tuple[str, str]] = [("cmd", request.command), *request.params]
        if self.credentials is not None:
            params.append(("apikey", self.credentials.token))
        url = self.address.url(f"rest/{self.encoding_for(request)}")
        headers = self.jwt.header() if self.jwt is not None else None
        return httpx.Request(
            request.method, url, params=tuple(params), content=request.body, headers=headers
        )

    def secrets(self) -> tuple[str, ...]:
        keys = self.credentials.secrets() if self.credentials is not None else ()
        return (*keys, self.jwt.token) if self.jwt is not None else keys

    def safe_url(self, http: httpx.Request) -> str:
        return redact(str(http.url), self.secrets())

    def fail(self, http: httpx.Request, exc: Exception) -> Exception:
        """The srmlink error for a transport failure (the one place they are translated)."""
        detail = redact(str(exc) or type(exc).__name__, self.secrets())
        url = self.safe_url(http)
        import httpx  # noqa: PLC0415

        if isinstance(exc, httpx.TimeoutException):
            return MLinkTimeoutError(f"timed out: {url}: {detail}")
        return MLinkTransportError(f"cannot reach {url}: {detail}")

    def outcome(
        self,
        call: _Call[T],
        http: httpx.Request,
        attempt: int,
        answer: httpx.Response | httpx.HTTPError,
    ) -> T | _Retry:
        """What one attempt came to: the result, or the delay before retrying; else raises.

        Read-only commands are retried on transport errors and 429/502/503/504, with the delay
        doubling from ``backoff``; everything else fails at once. Called outside any
        ``except`` block, so the srmlink error raised carries no ``__context__``.
        """
        status = None if isinstance(answer, Exception) else answer.status_code
        retryable = status is None or status in _RETRY_STATUS
        if retryable and call.request.idempotent and attempt < self.retries:
            return _Retry(float(self.backoff * 2**attempt))
        if isinstance(answer, Exception):
            raise self.fail(http, answer)
        return self.interpret(call, http, answer)

    def interpret(self, call: _Call[T], http: httpx.Request, response: httpx.Response) -> T:
        request = call.request
        if response.status_code >= 400:
            text = redact(response.text[:200], self.secrets())
            raise MLinkHTTPError(response.status_code, self.safe_url(http), text)
        messages = decode(response.content, self.encoding_for(request), registry=self.registry)
        result: Message | None = None
        last = messages[-1] if messages else None
        if isinstance(last, Message) and last.MSG_NAME == "QueryResult":
            result = last
            messages.pop()
            self._check(request, result)
        log.debug("%s %s: %d records", request.method, self.safe_url(http), len(messages))
        return call.shape(messages, result)

    def drift(self, result: RestResult[Message], warn: bool) -> tuple[DriftItem, ...]:
        """The drift between a getmsgtypes answer and the registry (see :mod:`srmlink.drift`)."""
        records = [
            {name: wire_value(m, name) for name in ("name", "mNum", "mToken", "mCat")}
            for m in result.messages
        ]
        registry = self.registry if self.registry is not None else default_registry()
        if warn:
            return warn_on_drift(records, registry, stacklevel=4)
        return check_drift(records, registry)

    def _check(self, request: RestRequest, result: Message) -> None:
        outcome = wire_value(result, "result")
        name = str(outcome) if outcome is not None else "None"
        if name.lower() == "ok":
            return
        detail = redact(str(wire_value(result, "detail") or ""), self.secrets())
        # A schema whose QueryResult enum lacks AuthError (2023: Ok, Error) says it first
        # thing in the detail instead.
        refused = name.lower() in _AUTH_RESULTS or detail.startswith("AuthError")
        error = AuthError if refused else MLinkQueryError
        raise error(request.command, name, detail)

    def describe(self, kind: str) -> str:
        key = "set" if self.credentials is not None else "none"
        jwt = " jwt=set" if self.jwt is not None else ""
        return (
            f"<{kind} {self.address.scheme}://{self.address.host} encoding={self.encoding} "
            f"credentials={key}{jwt}>"
        )


class MLinkClient:
    """Synchronous MLink REST client.

    Args:
        api_key: API key or session key (default: ``$SRMLINK_API_KEY``, ``KEY`` or
            ``KEY.PASSWORD``); ``password`` its optional password.
        jwt: a JSON Web Token, sent as ``Authorization: Bearer <jwt>`` on every request.
        endpoint: ``live`` or ``delayed``; ``host`` (else ``$SRMLINK_HOST``) overrides it.
        host: ``HOST[:PORT]`` or a URL ``http(s)://HOST[:PORT]`` (``ws(s)://`` too); a URL's
            scheme wins over ``scheme``. A local ``srmlink serve``: ``host="127.0.0.1:8642",
            scheme="http"`` or ``host="http://127.0.0.1:8642"``.
        scheme: ``https`` (the default) or ``http``, for a ``host`` given without one.
        encoding: ``proto`` (smallest bodies), ``jsonf`` or ``json``.
        timeout: seconds per request; ``retries`` extra attempts for read-only commands on
            transport errors and 429/502/503/504, ``backoff`` the first delay (doubling).
        transport: an httpx transport (e.g. ``httpx.MockTransport``) for tests or proxies.
        verify: TLS verification: True (the shared default context, see
            :func:`srmlink.endpoints.tls_context`), an ``ssl.SSLContext`` (a private CA), or
            False (no verification; never against a real MLink).
        registry: the generated registry to decode with (default ``srmlink.messages``).

    Raises:
        InvalidHostError: ``host`` is neither ``HOST[:PORT]`` nor such a URL.
    """

    def __init__(
        self,
        api_key: str | Credentials | None = None,
        *,
        password: str | None = None,
        jwt: str | Jwt | None = None,
        endpoint: Endpoint = "live",
        host: str | None = None,
        scheme: str | None = None,
        encoding: Encoding = "proto",
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        registry: Registry | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._core = _Core(
            credentials=_credentials(api_key, password),
            jwt=jwt,
            endpoint=endpoint,
            host=host,
            scheme=scheme,
            encoding=encoding,
            retries=retries,
            backoff=backoff,
            registry=registry,
        )
        import httpx  # noqa: PLC0415

        self._http = httpx.Client(
            timeout=timeout, transport=transport, verify=tls_context() if verify is True else verify
        )

    def _send(self, call: _Call[T]) -> T:
        import httpx  # noqa: PLC0415

        http = self._core.build(call.request)
        attempt = 0
        while True:
            answer: httpx.Response | httpx.HTTPError
            try:
                answer = self._http.send(http)
            except httpx.HTTPError as exc:
                answer = exc  # handled below, outside this block: no __context__ to leak
            step = self._core.outcome(call, http, attempt, answer)
            if not isinstance(step, _Retry):
                return step
            time.sleep(step.delay)
            attempt += 1

    def getmsgtypes(self) -> RestResult[Message]:
        """Every message type the server knows (MsgDesc records)."""
        return self._send(_Call(commands.getmsgtypes(), _ANY))

    def getschema(self, msgtype: MessageType) -> RestResult[Message]:
        """Field descriptions (FieldDesc records) of a message type."""
        return self._send(_Call(commands.getschema(msgtype), _ANY))

    def getlayout(self, msgtype: MessageType) -> RestResult[Message]:
        """Binary layout (MsgLayout / FieldLayout records) of a message type."""
        return self._send(_Call(commands.getlayout(msgtype), _ANY))

    def getsummary(self, msgtype: MessageType, view: Clause | None = None) -> RestResult[Message]:
        """Per-field summaries of a message type (the records the schema defines for them)."""
        return self._send(_Call(commands.getsummary(msgtype, view), _ANY))

    def gettkeyset(self, msgtype: MessageType) -> KeySetResult[TickerKey]:
        """Active TickerKeys of a message type (``.keys``)."""
        return self._send(_Call(commands.gettkeyset(msgtype), _TKEYS))

    def getekeyset(self, msgtype: MessageType, tkey: TickerKey | str) -> KeySetResult[ExpiryKey]:
        """Active ExpiryKeys of a message type under a TickerKey (``.keys``)."""
        return self._send(_Call(commands.getekeyset(msgtype, tkey), _EKEYS))

    def getokeyset(self, msgtype: MessageType, ekey: ExpiryKey | str) -> KeySetResult[OptionKey]:
        """Active OptionKeys of a message type under an ExpiryKey (``.keys``)."""
        return self._send(_Call(commands.getokeyset(msgtype, ekey), _OKEYS))

    @overload
    def getmsg(self, msgtype: type[M], pkey: AnyKey) -> RestResult[M]: ...
    @overload
    def getmsg(self, msgtype: str, pkey: AnyKey) -> RestResult[Message]: ...
    def getmsg(self, msgtype: MessageType, pkey: AnyKey) -> RestResult[Any]:
        """One record by primary key (``.first()``); a class gives records of that class."""
        return self._send(self._core.typed(msgtype, commands.getmsg(msgtype, pkey)))

    @overload
    def getmsgs(
        self,
        msgtype: type[M],
        *,
        tkey: TickerKey | str | None = None,
        ekey: ExpiryKey | str | None = None,
        okey: OptionKey | str | None = None,
        where: Clause | None = None,
        view: Clause | None = None,
        order: Clause | None = None,
        limit: int | None = None,
    ) -> RestResult[M]: ...
    @overload
    def getmsgs(
        self,
        msgtype: str,
        *,
        tkey: TickerKey | str | None = None,
        ekey: ExpiryKey | str | None = None,
        okey: OptionKey | str | None = None,
        where: Clause | None = None,
        view: Clause | None = None,
        order: Clause | None = None,
        limit: int | None = None,
    ) -> RestResult[Message]: ...
    def getmsgs(
        self,
        msgtype: MessageType,
        *,
        tkey: TickerKey | str | None = None,
        ekey: ExpiryKey | str | None = None,
        okey: OptionKey | str | None = None,
        where: Clause | None = None,
        view: Clause | None = None,
        order: Clause | None = None,
        limit: int | None = None,
    ) -> RestResult[Any]:
        """Records of a message type, filtered (``limit`` 1..10,000).

        Given a class, ``.messages`` are instances of it (a name gives ``Message``).
        """
        request = commands.getmsgs(
            msgtype,
            tkey=tkey,
            ekey=ekey,
            okey=okey,
            where=where,
            view=view,
            order=order,
            limit=limit,
        )
        return self._send(self._core.typed(msgtype, request))

    def getcount(self, msgtype: MessageType, *, where: Clause | None = None) -> CountResult:
        """How many records match (``.count``)."""
        return self._send(_Call(commands.getcount(msgtype, where=where), count_of))

    def getaggregate(
        self,
        msgtype: MessageType,
        *,
        group: Sequence[str] | str,
        measure: Sequence[str] | str,
        where: Clause | None = None,
        limit: int | None = None,
    ) -> RestResult[Message]:
        """Grouped measures, e.g. ``group="bidexch:top:3", measure="bidsize:sum"``."""
        request = commands.getaggregate(
            msgtype, group=group, measure=measure, where=where, limit=limit
        )
        return self._send(_Call(request, _ANY))

    def postmsgs(self, messages: Iterable[Message]) -> RestResult[Message]:
        """Post records, encoded in this client's encoding (JSON-only types as framed JSON)."""
        return self._send(self._core.post(messages))

    def getapikey(self, secret: str) -> RestResult[Message]:
        """Create or update an API key (authenticate with ``jwt=``)."""
        return self._send(_Call(commands.getapikey(secret), _ANY))

    def logon(self, user: str, password: str, pin: str | None = None) -> RestResult[Message]:
        """Log on; the records carry the session key to use as an API key."""
        return self._send(_Call(commands.logon(user, password, pin), _ANY))

    def check_drift(self, *, warn: bool = True) -> tuple[DriftItem, ...]:
        """Compare the server's getmsgtypes with the generated registry.

        With ``warn`` the differences also become one SchemaDriftWarning; never raises over
        them (a stream keeps working for every type both sides agree on).
        """
        return self._core.drift(self.getmsgtypes(), warn)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> MLinkClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return self._core.describe("MLinkClient")


class AsyncMLinkClient:
    """Asynchronous MLink REST client; the same arguments and commands as the sync one.

    Args:
        api_key: API key or session key (default: ``$SRMLINK_API_KEY``, ``KEY`` or
            ``KEY.PASSWORD``); ``password`` its optional password.
        jwt: a JSON Web Token, sent as ``Authorization: Bearer <jwt>`` on every request.
        endpoint: ``live`` or ``delayed``; ``host`` (else ``$SRMLINK_HOST``) overrides it.
        host: ``HOST[:PORT]`` or a URL ``http(s)://HOST[:PORT]`` (``ws(s)://`` too); a URL's
            scheme wins over ``scheme``. A local ``srmlink serve``: ``host="127.0.0.1:8642",
            scheme="http"`` or ``host="http://127.0.0.1:8642"``.
        scheme: ``https`` (the default) or ``http``, for a ``host`` given without one.
        encoding: ``proto`` (smallest bodies), ``jsonf`` or ``json``.
        timeout: seconds per request; ``retries`` extra attempts for read-only commands on
            transport errors and 429/502/503/504, ``backoff`` the first delay (doubling).
        transport: an httpx transport (e.g. ``httpx.MockTransport``) for tests or proxies.
        verify: TLS verification: True (the shared default context, see
            :func:`srmlink.endpoints.tls_context`), an ``ssl.SSLContext`` (a private CA), or
            False (no verification; never against a real MLink).
        registry: the generated registry to decode with (default ``srmlink.messages``).

    Raises:
        InvalidHostError: ``host`` is neither ``HOST[:PORT]`` nor such a URL.
    """

    def __init__(
        self,
        api_key: str | Credentials | None = None,
        *,
        password: str | None = None,
        jwt: str | Jwt | None = None,
        endpoint: Endpoint = "live",
        host: str | None = None,
        scheme: str | None = None,
        encoding: Encoding = "proto",
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
        registry: Registry | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._core = _Core(
            credentials=_credentials(api_key, password),
            jwt=jwt,
            endpoint=endpoint,
            host=host,
            scheme=scheme,
            encoding=encoding,
            retries=retries,
            backoff=backoff,
            registry=registry,
        )
        import httpx  # noqa: PLC0415

        self._http = httpx.AsyncClient(
            timeout=timeout, transport=transport, verify=tls_context() if verify is True else verify
        )

    async def _send(self, call: _Call[T]) -> T:
        import httpx  # noqa: PLC0415

        http = self._core.build(call.request)
        attempt = 0
        while True:
            answer: httpx.Response | httpx.HTTPError
            try:
                answer = await self._http.send(http)
            except httpx.HTTPError as exc:
                answer = exc  # handled below, outside this block: no __context__ to leak
            step = self._core.outcome(call, http, attempt, answer)
            if not isinstance(step, _Retry):
                return step
            # Imported here: only async code needs it, and it is loaded once code runs here.
            import asyncio  # noqa: PLC0415

            await asyncio.sleep(step.delay)
            attempt += 1

    async def getmsgtypes(self) -> RestResult[Message]:
        """Every message type the server knows (MsgDesc records)."""
        return await self._send(_Call(commands.getmsgtypes(), _ANY))

    async def getschema(self, msgtype: MessageType) -> RestResult[Message]:
        """Field descriptions (FieldDesc records) of a message type."""
        return await self._send(_Call(commands.getschema(msgtype), _ANY))

    async def getlayout(self, msgtype: MessageType) -> RestResult[Message]:
        """Binary layout (MsgLayout / FieldLayout records) of a message type."""
        return await self._send(_Call(commands.getlayout(msgtype), _ANY))

    async def getsummary(
        self, msgtype: MessageType, view: Clause | None = None
    ) -> RestResult[Message]:
        """Per-field summaries of a message type (the records the schema defines for them)."""
        return await self._send(_Call(commands.getsummary(msgtype, view), _ANY))

    async def gettkeyset(self, msgtype: MessageType) -> KeySetResult[TickerKey]:
        """Active TickerKeys of a message type (``.keys``)."""
        return await self._send(_Call(commands.gettkeyset(msgtype), _TKEYS))

    async def getekeyset(
        self, msgtype: MessageType, tkey: TickerKey | str
    ) -> KeySetResult[ExpiryKey]:
        """Active ExpiryKeys of a message type under a TickerKey (``.keys``)."""
        return await self._send(_Call(commands.getekeyset(msgtype, tkey), _EKEYS))

    async def getokeyset(
        self, msgtype: MessageType, ekey: ExpiryKey | str
    ) -> KeySetResult[OptionKey]:
        """Active OptionKeys of a message type under an ExpiryKey (``.keys``)."""
        return await self._send(_Call(commands.getokeyset(msgtype, ekey), _OKEYS))

    @overload
    async def getmsg(self, msgtype: type[M], pkey: AnyKey) -> RestResult[M]: ...
    @overload
    async def getmsg(self, msgtype: str, pkey: AnyKey) -> RestResult[Message]: ...
    async def getmsg(self, msgtype: MessageType, pkey: AnyKey) -> RestResult[Any]:
        """One record by primary key (``.first()``); a class gives records of that class."""
        return await self._send(self._core.typed(msgtype, commands.getmsg(msgtype, pkey)))

    @overload
    async def getmsgs(
        self,
        msgtype: type[M],
        *,
        tkey: TickerKey | str | None = None,
        ekey: ExpiryKey | str | None = None,
        okey: OptionKey | str | None = None,
        where: Clause | None = None,
        view: Clause | None = None,
        order: Clause | None = None,
        limit: int | None = None,
    ) -> RestResult[M]: ...
    @overload
    async def getmsgs(
        self,
        msgtype: str,
        *,
        tkey: TickerKey | str | None = None,
        ekey: ExpiryKey | str | None = None,
        okey: OptionKey | str | None = None,
        where: Clause | None = None,
        view: Clause | None = None,
        order: Clause | None = None,
        limit: int | None = None,
    ) -> RestResult[Message]: ...
    async def getmsgs(
        self,
        msgtype: MessageType,
        *,
        tkey: TickerKey | str | None = None,
        ekey: ExpiryKey | str | None = None,
        okey: OptionKey | str | None = None,
        where: Clause | None = None,
        view: Clause | None = None,
        order: Clause | None = None,
        limit: int | None = None,
    ) -> RestResult[Any]:
        """Records of a message type, filtered (``limit`` 1..10,000).

        Given a class, ``.messages`` are instances of it (a name gives ``Message``).
        """
        request = commands.getmsgs(
            msgtype,
            tkey=tkey,
            ekey=ekey,
            okey=okey,
            where=where,
            view=view,
            order=order,
            limit=limit,
        )
        return await self._send(self._core.typed(msgtype, request))

    async def getcount(self, msgtype: MessageType, *, where: Clause | None = None) -> CountResult:
        """How many records match (``.count``)."""
        return await self._send(_Call(commands.getcount(msgtype, where=where), count_of))

    async def getaggregate(
        self,
        msgtype: MessageType,
        *,
        group: Sequence[str] | str,
        measure: Sequence[str] | str,
        where: Clause | None = None,
        limit: int | None = None,
    ) -> RestResult[Message]:
        """Grouped measures, e.g. ``group="bidexch:top:3", measure="bidsize:sum"``."""
        request = commands.getaggregate(
            msgtype, group=group, measure=measure, where=where, limit=limit
        )
        return await self._send(_Call(request, _ANY))

    async def postmsgs(self, messages: Iterable[Message]) -> RestResult[Message]:
        """Post records, encoded in this client's encoding (JSON-only types as framed JSON)."""
        return await self._send(self._core.post(messages))

    async def getapikey(self, secret: str) -> RestResult[Message]:
        """Create or update an API key (authenticate with ``jwt=``)."""
        return await self._send(_Call(commands.getapikey(secret), _ANY))

    async def logon(self, user: str, password: str, pin: str | None = None) -> RestResult[Message]:
        """Log on; the records carry the session key to use as an API key."""
        return await self._send(_Call(commands.logon(user, password, pin), _ANY))

    async def check_drift(self, *, warn: bool = True) -> tuple[DriftItem, ...]:
        """Compare the server's getmsgtypes with the generated registry.

        With ``warn`` the differences also become one SchemaDriftWarning; never raises over
        them (a stream keeps working for every type both sides agree on).
        """
        return self._core.drift(await self.getmsgtypes(), warn)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMLinkClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return self._core.describe("AsyncMLinkClient")


def _credentials(api_key: str | Credentials | None, password: str | None) -> Credentials | None:
    if isinstance(api_key, Credentials):
        return api_key
    if api_key is None:
        return None
    return Credentials(api_key, password) if password else Credentials.from_token(api_key)
