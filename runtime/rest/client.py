"""REST clients for MLink: :class:`MLinkClient` (sync) and :class:`AsyncMLinkClient`.

Thin twins over one I/O-free core (:mod:`.commands` builds requests, :class:`_Core` adds the
URL, credentials and encoding and interprets responses), each with an injectable httpx
transport. Transport and HTTP failures become srmlink errors in one place (:meth:`_Core.fail`);
read-only commands are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, Generic, Literal, TypeVar

import httpx
from attrs import frozen

from ..auth import Credentials, protect_logs, redact
from ..codec import Encoding, UnknownMessage, decode, encode
from ..drift import DriftItem, check_drift, warn_on_drift
from ..endpoints import ENDPOINTS
from ..errors import (
    AuthError,
    MLinkHTTPError,
    MLinkQueryError,
    MLinkTimeoutError,
    MLinkTransportError,
)
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import Message, PrimaryKey
from ..records import wire_value
from ..registry import Registry, default_registry
from . import commands
from .commands import Clause, MessageType, RestRequest

__all__ = ["ENDPOINTS", "AsyncMLinkClient", "MLinkClient", "RestResult"]

_RETRY_STATUS = frozenset({429, 502, 503, 504})
_AUTH_RESULTS = frozenset({"autherror", "tokenerror"})
log = logging.getLogger("srmlink.rest")


@frozen
class RestResult:
    """A REST response: its records, and the trailing QueryResult (None if absent)."""

    messages: tuple[Message | UnknownMessage, ...]
    query_result: Message | None


class _Core:
    """Everything the twins share: configuration, request preparation, response handling."""

    def __init__(
        self,
        *,
        credentials: Credentials | None,
        endpoint: Literal["live", "delayed"],
        host: str | None,
        scheme: str,
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
        self.host = host or ENDPOINTS[endpoint]
        self.scheme = scheme
        self.encoding: Encoding = encoding
        self.retries = retries
        self.backoff = backoff
        self.registry = registry
        protect_logs()

    def encoding_for(self, request: RestRequest) -> Encoding:
        # JSON-only message types cannot come back as protobuf.
        return "jsonf" if request.json_only and self.encoding == "proto" else self.encoding

    def build(self, request: RestRequest) -> httpx.Request:
        params: list[tuple[str, str]] = [("cmd", request.command), *request.params]
        if self.credentials is not None:
            params.append(("apikey", self.credentials.token))
        url = f"{self.scheme}://{self.host}/rest/{self.encoding_for(request)}"
        return httpx.Request(request.method, url, params=tuple(params), content=request.body)

    def secrets(self) -> tuple[str, ...]:
        return self.credentials.secrets() if self.credentials is not None else ()

    def safe_url(self, http: httpx.Request) -> str:
        return redact(str(http.url), self.secrets())

    def fail(self, http: httpx.Request, exc: Exception) -> Exception:
        """The srmlink error for a transport failure (the one place they are translated)."""
        detail = redact(str(exc) or type(exc).__name__, self.secrets())
        url = self.safe_url(http)
        if isinstance(exc, httpx.TimeoutException):
            return MLinkTimeoutError(f"timed out: {url}: {detail}")
        return MLinkTransportError(f"cannot reach {url}: {detail}")

    def outcome(
        self,
        request: RestRequest,
        http: httpx.Request,
        attempt: int,
        answer: httpx.Response | httpx.HTTPError,
    ) -> RestResult | float:
        """What one attempt came to: the result, or the delay before retrying; else raises.

        Read-only commands are retried on transport errors and 429/502/503/504, with the delay
        doubling from ``backoff``; everything else fails at once.
        """
        status = answer.status_code if isinstance(answer, httpx.Response) else None
        retryable = status is None or status in _RETRY_STATUS
        if retryable and request.idempotent and attempt < self.retries:
            return float(self.backoff * 2**attempt)
        if isinstance(answer, httpx.HTTPError):
            raise self.fail(http, answer) from None
        return self.interpret(request, http, answer)

    def interpret(
        self, request: RestRequest, http: httpx.Request, response: httpx.Response
    ) -> RestResult:
        if response.status_code >= 400:
            text = redact(response.text[:200], self.secrets())
            raise MLinkHTTPError(response.status_code, self.safe_url(http), text)
        messages = decode(response.content, self.encoding_for(request), registry=self.registry)
        result: Message | None = None
        if (
            messages
            and isinstance(messages[-1], Message)
            and messages[-1].MSG_NAME == "QueryResult"
        ):
            result = messages.pop()  # type: ignore[assignment]
            self._check(request, result)
        log.debug("%s %s: %d records", request.method, self.safe_url(http), len(messages))
        return RestResult(tuple(messages), result)

    def drift(self, result: RestResult, warn: bool) -> tuple[DriftItem, ...]:
        """The drift between a getmsgtypes answer and the registry (see :mod:`srmlink.drift`)."""
        records = [
            {name: wire_value(m, name) for name in ("name", "mNum", "mToken", "mCat")}
            for m in result.messages
            if isinstance(m, Message)
        ]
        registry = self.registry if self.registry is not None else default_registry()
        if warn:
            return warn_on_drift(records, registry, stacklevel=4)
        return check_drift(records, registry)

    def _check(self, request: RestRequest, result: Any) -> None:
        outcome = getattr(result, "result", None)
        name = str(outcome) if outcome is not None else "None"
        if name.lower() == "ok":
            return
        detail = redact(str(getattr(result, "detail", "") or ""), self.secrets())
        error = AuthError if name.lower() in _AUTH_RESULTS else MLinkQueryError
        raise error(request.command, name, detail)


R = TypeVar("R")


class _Commands(Generic[R]):
    """The REST commands, written once for both twins (``_send`` differs)."""

    _core: _Core

    def _send(self, request: RestRequest) -> R:
        raise NotImplementedError

    def getmsgtypes(self) -> R:
        """Every message type the server knows (MsgDesc records)."""
        return self._send(commands.getmsgtypes())

    def getschema(self, msgtype: MessageType) -> R:
        """Field descriptions (FieldDesc records) of a message type."""
        return self._send(commands.getschema(msgtype))

    def getlayout(self, msgtype: MessageType) -> R:
        """Binary layout (MsgLayout / FieldLayout records) of a message type."""
        return self._send(commands.getlayout(msgtype))

    def getsummary(self, msgtype: MessageType, view: Clause | None = None) -> R:
        """Per-field summaries of a message type."""
        return self._send(commands.getsummary(msgtype, view))

    def gettkeyset(self, msgtype: MessageType) -> R:
        """Active TickerKeys of a message type."""
        return self._send(commands.gettkeyset(msgtype))

    def getekeyset(self, msgtype: MessageType, tkey: TickerKey | str) -> R:
        """Active ExpiryKeys of a message type under a TickerKey."""
        return self._send(commands.getekeyset(msgtype, tkey))

    def getokeyset(self, msgtype: MessageType, ekey: ExpiryKey | str) -> R:
        """Active OptionKeys of a message type under an ExpiryKey."""
        return self._send(commands.getokeyset(msgtype, ekey))

    def getmsg(
        self, msgtype: MessageType, pkey: PrimaryKey | TickerKey | ExpiryKey | OptionKey | str
    ) -> R:
        """One record by primary key."""
        return self._send(commands.getmsg(msgtype, pkey))

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
    ) -> R:
        """Records of a message type, filtered (``limit`` 1..10,000)."""
        return self._send(
            commands.getmsgs(
                msgtype,
                tkey=tkey,
                ekey=ekey,
                okey=okey,
                where=where,
                view=view,
                order=order,
                limit=limit,
            )
        )

    def getcount(self, msgtype: MessageType, *, where: Clause | None = None) -> R:
        """How many records match."""
        return self._send(commands.getcount(msgtype, where=where))

    def getaggregate(
        self,
        msgtype: MessageType,
        *,
        group: Sequence[str] | str,
        measure: Sequence[str] | str,
        where: Clause | None = None,
        limit: int | None = None,
    ) -> R:
        """Grouped measures, e.g. ``group="bidexch:top:3", measure="bidsize:sum"``."""
        return self._send(
            commands.getaggregate(msgtype, group=group, measure=measure, where=where, limit=limit)
        )

    def postmsgs(self, messages: Iterable[Message]) -> R:
        """Post records, encoded in this client's encoding (JSON-only types as framed JSON)."""
        items = list(messages)
        encoding = self._core.encoding
        if encoding == "proto" and any(m.SPEC.origin == "dictionary" for m in items):
            encoding = "jsonf"
        request = commands.postmsgs(encode(items, encoding))
        return self._send(
            RestRequest(
                "POST",
                request.command,
                request.params,
                request.body,
                json_only=encoding != self._core.encoding,
            )
        )

    def getapikey(self, secret: str) -> R:
        """Create or update an API key."""
        return self._send(commands.getapikey(secret))

    def logon(self, user: str, password: str, pin: str | None = None) -> R:
        """Log on; the records carry the session key to use as an API key."""
        return self._send(commands.logon(user, password, pin))


def _client_repr(kind: str, core: _Core) -> str:
    key = "set" if core.credentials is not None else "none"
    return f"<{kind} {core.scheme}://{core.host} encoding={core.encoding} credentials={key}>"


class MLinkClient(_Commands[RestResult]):
    """Synchronous MLink REST client.

    Args:
        api_key: API key or session key (default: ``SRMLINK_API_KEY``); ``password`` its
            optional password.
        endpoint: ``live`` or ``delayed``; ``host`` overrides it (hosts move).
        encoding: ``proto`` (smallest bodies), ``jsonf`` or ``json``.
        timeout: seconds per request; ``retries`` extra attempts for read-only commands on
            transport errors and 429/502/503/504, ``backoff`` the first delay (doubling).
        transport: an httpx transport (e.g. ``httpx.MockTransport``) for tests or proxies.
    """

    def __init__(
        self,
        api_key: str | Credentials | None = None,
        *,
        password: str | None = None,
        endpoint: Literal["live", "delayed"] = "live",
        host: str | None = None,
        scheme: str = "https",
        encoding: Encoding = "proto",
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        registry: Registry | None = None,
    ) -> None:
        self._core = _Core(
            credentials=_credentials(api_key, password),
            endpoint=endpoint,
            host=host,
            scheme=scheme,
            encoding=encoding,
            retries=retries,
            backoff=backoff,
            registry=registry,
        )
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def _send(self, request: RestRequest) -> RestResult:
        http = self._core.build(request)
        attempt = 0
        while True:
            try:
                step = self._core.outcome(request, http, attempt, self._http.send(http))
            except httpx.HTTPError as exc:
                step = self._core.outcome(request, http, attempt, exc)
            if isinstance(step, RestResult):
                return step
            time.sleep(step)
            attempt += 1

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

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return _client_repr("MLinkClient", self._core)


class AsyncMLinkClient(_Commands[Awaitable[RestResult]]):
    """Asynchronous MLink REST client; same arguments as :class:`MLinkClient`."""

    def __init__(
        self,
        api_key: str | Credentials | None = None,
        *,
        password: str | None = None,
        endpoint: Literal["live", "delayed"] = "live",
        host: str | None = None,
        scheme: str = "https",
        encoding: Encoding = "proto",
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
        registry: Registry | None = None,
    ) -> None:
        self._core = _Core(
            credentials=_credentials(api_key, password),
            endpoint=endpoint,
            host=host,
            scheme=scheme,
            encoding=encoding,
            retries=retries,
            backoff=backoff,
            registry=registry,
        )
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def _send(self, request: RestRequest) -> RestResult:
        http = self._core.build(request)
        attempt = 0
        while True:
            try:
                step = self._core.outcome(request, http, attempt, await self._http.send(http))
            except httpx.HTTPError as exc:
                step = self._core.outcome(request, http, attempt, exc)
            if isinstance(step, RestResult):
                return step
            await asyncio.sleep(step)
            attempt += 1

    async def check_drift(self, *, warn: bool = True) -> tuple[DriftItem, ...]:
        """As :meth:`MLinkClient.check_drift`."""
        return self._core.drift(await self.getmsgtypes(), warn)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMLinkClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return _client_repr("AsyncMLinkClient", self._core)


def _credentials(api_key: str | Credentials | None, password: str | None) -> Credentials | None:
    if isinstance(api_key, Credentials):
        return api_key
    if api_key is None:
        return None
    return Credentials(api_key, password) if password else Credentials.from_token(api_key)
