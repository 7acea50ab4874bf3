"""Fetch a schema snapshot from a live MLink server: getmsgtypes, getschema, getlayout.

The snapshot is written in the layout the generator reads (``getmsgtypes.json``,
``getschema/<Name>.json``, ``getlayout.json``), deterministically: message types sorted by
name, only each envelope's ``mTyp`` header kept, keys sorted, two-space indents, no timing
(QueryResult envelopes are checked, then dropped). Two fetches of the same schema are
byte-identical and a changed schema is a small diff.

Nothing is written until every reply has arrived and been checked: the files go to a
temporary folder beside ``out``, which then replaces ``out``; a bad or partial reply raises
:class:`FetchError` and leaves the previous snapshot untouched.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
from attrs import frozen

from ..auth import Credentials, redact
from ..endpoints import Endpoint, resolve_address
from .errors import SchemaError
from .sources import GETLAYOUT_JSON, GETSCHEMA_DIR, MSGTYPES_JSON

__all__ = ["FetchError", "FetchResult", "fetch_schema"]

Progress = Callable[[int, int], None]


class FetchError(SchemaError):
    """A reply of the server was missing, malformed or an error; nothing was written."""


class _Refused(FetchError):
    """The server answered, with a QueryResult other than Ok."""


@frozen
class FetchResult:
    """What a fetch wrote: the folder, the message types with a schema, those the server
    lists but describes no fields of (``undescribed``, with its reason), and whether it
    served getlayout."""

    out: Path
    message_types: tuple[str, ...]
    undescribed: Mapping[str, str]
    layout: bool


_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


class _Server:
    """REST calls in JSON to one server, with bounded retries and keys kept out of errors."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        credentials: Credentials | None,
        jwt: str | None,
        retries: int,
    ) -> None:
        self._client = client
        self._url = url
        self._params = {"apikey": credentials.token} if credentials is not None else {}
        self._headers = {"Authorization": f"Bearer {jwt}"} if jwt else {}
        self._secrets = (*(credentials.secrets() if credentials else ()), *((jwt,) if jwt else ()))
        self._retries = retries

    async def call(self, what: str, **params: str) -> list[dict[str, Any]]:
        """The envelopes of one command; raises FetchError when it did not succeed."""
        delay = 0.2
        for attempt in range(self._retries + 1):
            failure = await self._once(what, params)
            if isinstance(failure, list):
                return failure
            text = redact(f"{what}: {failure[0]}", self._secrets)
            if failure[0].startswith("QueryResult"):
                raise _Refused(text)
            if attempt == self._retries or not failure[1]:
                raise FetchError(text)
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    async def _once(
        self, what: str, params: dict[str, str]
    ) -> list[dict[str, Any]] | tuple[str, bool]:
        """The envelopes, or (why it failed, whether to try again)."""
        try:
            reply = await self._client.get(
                self._url, params={**self._params, **params}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            return f"no reply ({type(exc).__name__})", True
        if reply.status_code >= 500 or reply.status_code == 429:
            return f"HTTP {reply.status_code}", True
        if reply.status_code != 200:
            return f"HTTP {reply.status_code}", False
        try:
            body = orjson.loads(reply.content)
        except orjson.JSONDecodeError as exc:
            return f"the reply is not JSON ({exc})", False
        if not isinstance(body, list) or not all(_is_envelope(item) for item in body):
            return "the reply is not a JSON array of {header, message} envelopes", False
        results = [e for e in body if e["header"].get("mTyp") == "QueryResult"]
        for envelope in results:
            result = str(envelope["message"].get("result", ""))
            if result.lower() not in ("ok", ""):
                detail = envelope["message"].get("detail") or ""
                return f"QueryResult {result} {detail}".strip(), False
        return [e for e in body if e["header"].get("mTyp") != "QueryResult"]


def _is_envelope(item: object) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("header"), dict)
        and isinstance(item["header"].get("mTyp"), str)
        and isinstance(item.get("message"), dict)
    )


def _canonical(envelopes: Sequence[dict[str, Any]]) -> bytes:
    """Stable bytes: headers cut to mTyp (server times and sequence numbers vary)."""
    kept = [{"header": {"mTyp": e["header"]["mTyp"]}, "message": e["message"]} for e in envelopes]
    return orjson.dumps(kept, option=_OPTIONS)


def _checked(envelopes: list[dict[str, Any]], mtyp: str, what: str) -> list[dict[str, Any]]:
    found = [e for e in envelopes if e["header"]["mTyp"] == mtyp]
    if not found:
        raise FetchError(f"{what}: no {mtyp} records in the reply")
    return found


async def _fetch(
    server: _Server, concurrency: int, progress: Progress | None
) -> tuple[bytes, dict[str, bytes | str], bytes | None]:
    msgtypes = _checked(
        await server.call("getmsgtypes", cmd="getmsgtypes"), "MsgDesc", "getmsgtypes"
    )
    for envelope in msgtypes:
        if not isinstance(envelope["message"].get("name"), str):
            raise FetchError("getmsgtypes: a MsgDesc record without a name")
    msgtypes.sort(key=lambda e: str(e["message"]["name"]))
    names = [str(e["message"]["name"]) for e in msgtypes]
    if len(set(names)) != len(names):
        raise FetchError("getmsgtypes: a message type is listed twice")
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def schema(name: str) -> tuple[str, bytes | str]:
        nonlocal done
        async with gate:
            what = f"getschema {name}"
            try:
                reply = await server.call(what, cmd="getschema", msgtype=name)
            except _Refused as exc:
                # Listed by name and number only (the generator keeps such types as
                # undefined): a well-formed answer, unlike a broken reply.
                return name, str(exc)
        done += 1
        if progress is not None:
            progress(done, len(names))
        return name, _canonical(_checked(reply, "FieldDesc", what))

    schemas = dict(await asyncio.gather(*(schema(name) for name in names)))
    try:
        layout: bytes | None = _canonical(await server.call("getlayout", cmd="getlayout"))
    except FetchError:
        layout = None  # servers need not serve it; the other two sources carry the schema
    return _canonical(msgtypes), schemas, layout


def _write(out: Path, msgtypes: bytes, schemas: dict[str, bytes], layout: bytes | None) -> None:
    """Write into a temporary folder beside ``out``, then put it in ``out``'s place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.fetch-", dir=out.parent))
    try:
        (staging / MSGTYPES_JSON).write_bytes(msgtypes)
        (staging / GETSCHEMA_DIR).mkdir()
        for name, data in schemas.items():
            if "/" in name or "\\" in name or name.startswith("."):
                raise FetchError(f"getmsgtypes: {name!r} is not a usable file name")
            (staging / GETSCHEMA_DIR / f"{name}.json").write_bytes(data)
        if layout is not None:
            (staging / GETLAYOUT_JSON).write_bytes(layout)
        previous = out.with_name(f".{out.name}.previous")
        if previous.exists():
            shutil.rmtree(previous)
        if out.exists():
            out.rename(previous)
        staging.rename(out)
        if previous.exists():
            shutil.rmtree(previous)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


async def fetch_schema(
    out: Path,
    *,
    host: str | None = None,
    scheme: str | None = None,
    endpoint: Endpoint = "live",
    credentials: Credentials | None = None,
    jwt: str | None = None,
    concurrency: int = 8,
    retries: int = 3,
    timeout: float = 30.0,
    progress: Progress | None = None,
) -> FetchResult:
    """Fetch the schema of the server at ``host`` into ``out`` (see the module docstring).

    Raises:
        FetchError: a reply was missing, malformed or an error (``out`` is left as it was).
        InvalidHostError: ``host`` is not ``HOST[:PORT]`` or an http(s)/ws(s) URL.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    address = resolve_address(host, endpoint=endpoint, scheme=scheme, websocket=False)
    async with httpx.AsyncClient(timeout=timeout) as client:
        server = _Server(client, address.url("rest/json"), credentials, jwt, retries)
        msgtypes, replies, layout = await _fetch(server, concurrency, progress)
    schemas = {name: data for name, data in replies.items() if isinstance(data, bytes)}
    undescribed = {name: why for name, why in replies.items() if isinstance(why, str)}
    _write(out, msgtypes, schemas, layout)
    return FetchResult(out, tuple(schemas), undescribed, layout is not None)
