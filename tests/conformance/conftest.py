"""What the conformance suite needs, written from the spec and not from srmlink's code.

- :class:`Schema`: per snapshot, the message numbers (its getmsgtypes, else its dictionary's
  ``Message ID`` column, else the 2023-05 getmsgtypes, as issue 15 says for 2023-07's control
  messages) and Google's protobuf classes compiled from its .proto files with grpc_tools into
  a descriptor pool of its own (the three snapshots share message names).
- Frames built and split by hand (14-byte header, and the vendor's ``\\r\\nJ`` + ``%011d``).
- :class:`Msg`: one received message, dispatched as SpiderRock's clients do (the JSON header's
  ``mTyp``; protobuf's ``_meta.message_type``).
- :func:`jwt_hs256`: a JWT signed by hand (RFC 7519 / 7515), so the token does not come from
  the library the server uses to check it.
- Session-scoped servers, one per snapshot (``srmlink serve`` on loopback; the 2023 ones from
  a staged tree in a process of their own), and a second one per snapshot for authentication
  (``--api-key KEY.PASSWORD --jwt-secret S``).
"""

from __future__ import annotations

import asyncio
import base64
import csv
import functools
import hashlib
import hmac
import json
import os
import ssl
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as ProtoDecodeError
from grpc_tools import protoc

from srmlink.testing import ServerProcess, start_server

from ..conftest import _ISOLATE, snapshot_dir

SNAPSHOTS = ("2026-07", "2023-07", "2023-05")
ENCODINGS = ("json", "jsonf", "proto")
API_KEY = "conf-key"
PASSWORD = "conf-pass"
JWT_SECRET = "conf-jwt-secret-0123456789abcdef"
#: The demo data every server holds (``srmlink serve --demo``): these tickers, each with
#: 2 expiries x 5 strikes x call/put OptionNbboQuotes.
DEMO_TICKERS = ("AAPL", "QQQ", "SPY")
CHAIN = 20
#: The largest REST limit (the spec: "a number between 1 and 10,000").
MAX_LIMIT = 10_000
WAIT = 10.0  # seconds: the bound of every wait for a message that must come
HTTP_WAIT = 60.0  # a first request loads every class of the schema: slow on a busy machine


def run_bounded(scenario: Coroutine[Any, Any, None], seconds: float = 2 * HTTP_WAIT) -> None:
    """Run a test's async scenario; never longer than ``seconds`` (a hang is a failure).

    The loop runs in a thread of its own: a client whose clean-up swallows the cancellation
    would otherwise hold the test (and the session) forever. The bound allows for a cold
    server: its first connection loads every class of the schema (a minute on a busy machine).
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(asyncio.wait_for(scenario, seconds))
        except BaseException as exc:  # handed to the test's thread below
            failure.append(exc)

    thread = threading.Thread(target=target, name="conformance-scenario", daemon=True)
    thread.start()
    thread.join(seconds + 15)
    if thread.is_alive():
        raise AssertionError(f"the scenario did not end {seconds + 15} s after it started")
    if failure:
        raise failure[0]


def flow_of(snapshot: str) -> str:
    """``stream`` (2026: MLinkStream) or ``query`` (2023: MLinkQuery)."""
    return "stream" if snapshot.startswith("2026") else "query"


# ---- the schema, as SpiderRock's clients would load it ---------------------------------------


def _getmsgtypes(snapshot: str) -> dict[str, int]:
    path = snapshot_dir(snapshot) / "getmsgtypes.json"
    if not path.exists():
        return {}
    return {m["message"]["name"]: int(m["message"]["mNum"]) for m in json.loads(path.read_text())}


def _dictionary_ids(snapshot: str) -> dict[str, int]:
    path = snapshot_dir(snapshot) / "DataDictionaryMLink.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {r["Message Name"]: int(r["Message ID"]) for r in rows if r.get("Message ID")}


def message_numbers(snapshot: str) -> dict[str, int]:
    """mNum by message name, from the snapshot's own sources first."""
    numbers = _getmsgtypes(snapshot)
    if not numbers:
        # 2023-07 numbers no control message: the spec's own examples first (its WebSocket
        # example is of that era: StockBookQuote 3000 as in the 2023-07 dictionary, MLinkQuery
        # sent as P03310, 3385 decoded as MLinkResponse; QueryResult 3320 in the REST ones),
        # then the 2023-05 getmsgtypes.
        numbers = {**_getmsgtypes("2023-05"), **_SPEC_EXAMPLES, **_dictionary_ids(snapshot)}
    return numbers


_SPEC_EXAMPLES = {"MLinkQuery": 3310, "MLinkResponse": 3385, "QueryResult": 3320}


class Schema:
    """One snapshot: its message numbers and Google's classes for its .proto files."""

    def __init__(self, snapshot: str, out: Path) -> None:
        self.snapshot = snapshot
        self.flow = flow_of(snapshot)
        self.numbers = message_numbers(snapshot)
        root = snapshot_dir(snapshot) / "proto_files"
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.proto"))
        include = resources.files("grpc_tools") / "_proto"
        target = out / f"{snapshot}.pb"
        args = ["protoc", f"-I{root}", f"-I{include}", "--include_imports"]
        assert protoc.main([*args, f"--descriptor_set_out={target}", *files]) == 0
        fds = descriptor_pb2.FileDescriptorSet.FromString(target.read_bytes())
        self.pool = descriptor_pool.DescriptorPool()
        for file in fds.file:
            self.pool.Add(file)
        self.pool.Add(self._probe_file(fds))
        self._classes: dict[str, Any] = {}
        self._enum_values: dict[str, int] = {}

    @staticmethod
    def _probe_file(fds: descriptor_pb2.FileDescriptorSet) -> descriptor_pb2.FileDescriptorProto:
        """A message holding field 1 only, typed as the snapshot types ``_meta``: the one class
        a client parses every payload with before it knows the type."""
        common = next(f for f in fds.file if f.name == "spiderrock_common.proto")
        meta = next(
            m.name for m in common.message_type if m.name in ("MessageMetadata", "MbusInfo")
        )
        probe = descriptor_pb2.FileDescriptorProto(
            name="conformance_probe.proto",
            package="spiderrock.protobuf",
            dependency=["spiderrock_common.proto"],
            syntax="proto3",
        )
        message = probe.message_type.add(name="ConformanceProbe")
        message.field.add(
            name="_meta",
            number=1,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            type_name=f".spiderrock.protobuf.{meta}",
        )
        return probe

    def mnum(self, name: str) -> int:
        return self.numbers[name]

    def cls(self, name: str) -> Any:
        """Google's class for the top-level message ``name``."""
        if name not in self._classes:
            descriptor = self.pool.FindMessageTypeByName(f"spiderrock.protobuf.{name}")
            self._classes[name] = message_factory.GetMessageClass(descriptor)
        return self._classes[name]

    def enum(self, name: str) -> int:
        """A value of spiderrock_common.proto by its protobuf name (``ASSETTYPE_EQT``)."""
        if not self._enum_values:
            common = self.pool.FindFileByName("spiderrock_common.proto")
            for enum in common.enum_types_by_name.values():
                self._enum_values.update((v.name, v.number) for v in enum.values)
        return self._enum_values[name]

    def has(self, name: str) -> bool:
        try:
            self.pool.FindMessageTypeByName(f"spiderrock.protobuf.{name}")
        except KeyError:
            return False
        return True

    def parse(self, payload: bytes, mnum: int) -> Msg:
        """A protobuf payload, the way SpiderRock's clients read it: parse with any class
        (field 1 is ``_meta`` in every one), read ``_meta.message_type``, parse again."""
        probe = self.cls("ConformanceProbe").FromString(payload)
        name = probe._meta.message_type
        assert name, f"protobuf payload of mNum {mnum} carries no _meta.message_type"
        try:
            record = self.cls(name).FromString(payload)
        except ProtoDecodeError as exc:
            raise AssertionError(f"{name} (mNum {mnum}) does not parse: {exc}") from exc
        return Msg(name, "proto", record, mnum, None)


@pytest.fixture(scope="session")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Schema]:
    cache: dict[str, Schema] = {}
    out = tmp_path_factory.mktemp("conformance-protoc")

    def get(snapshot: str) -> Schema:
        if snapshot not in cache:
            cache[snapshot] = Schema(snapshot, out)
        return cache[snapshot]

    return get


# ---- messages as received --------------------------------------------------------------------


def same_enum(value: object, name: str) -> bool:
    """Whether an enum value read off the wire is ``name`` (JSON ``"Complete"`` or protobuf
    ``MLINKSTREAMSTATE_COMPLETE`` / its number's name)."""
    text = str(value)
    if "_" in text and text.isupper():
        text = text.split("_", 1)[1]
    return text.replace("_", "").lower() == name.lower()


@dataclass
class Msg:
    """One received message: its type name, its encoding, and the parsed body (a JSON
    object or Google's protobuf object)."""

    name: str
    encoding: str
    body: Any
    mnum: int | None
    header: dict[str, Any] | None

    def get(self, json_name: str, proto_name: str | None = None) -> Any:
        """A field by its JSON wire name (or protobuf field name); enums as names."""
        if self.encoding != "proto":
            return self.body.get(json_name)
        name = proto_name or json_name
        fd = self.body.DESCRIPTOR.fields_by_name.get(name)
        if fd is None:
            return None
        value = getattr(self.body, name)
        if fd.enum_type is not None and not fd.is_repeated:
            known = fd.enum_type.values_by_number.get(value)
            return known.name if known is not None else value
        return value

    def is_state(self, state: str) -> bool:
        return same_enum(self.get("state"), state)

    @property
    def ticker(self) -> str:
        """The ticker symbol of an OptionNbboQuote (its primary key's OptionKey)."""
        if self.encoding == "proto":
            return str(self.body.pkey.okey.ticker)
        return str(self.body["pkey"]["okey"]["tk"])

    @property
    def pkey(self) -> str:
        """An OptionNbboQuote's primary key as flat text (``AAPL-NMS-EQT-2026-12-18-190-C``)."""
        if self.encoding == "proto":
            k = self.body.pkey.okey
            at = k.DESCRIPTOR.fields_by_name["asset_type"].enum_type.values_by_number
            ts = k.DESCRIPTOR.fields_by_name["ticker_src"].enum_type.values_by_number
            cp = k.DESCRIPTOR.fields_by_name["call_put"].enum_type.values_by_number
            day = f"{k.expiration.year:04d}-{k.expiration.month:02d}-{k.expiration.day:02d}"
            parts = (
                k.ticker,
                at[k.asset_type].name.split("_", 1)[1],
                ts[k.ticker_src].name.split("_", 1)[1],
                day,
                f"{k.strike:g}",
                cp[k.call_put].name.split("_", 1)[1][0],
            )
            return "-".join((parts[0], parts[2], parts[1], *parts[3:]))
        k = self.body["pkey"]["okey"]
        return f"{k['tk']}-{k['ts']}-{k['at']}-{k['dt']}-{k['xx']:g}-{k['cp'][0]}"


def split_frames(data: bytes) -> list[tuple[str, int, bytes]]:
    """A framed body cut by length (never on ``\\r\\n``: protobuf payloads contain it)."""
    out = []
    at = 0
    while at < len(data):
        head = data[at : at + 14]
        assert head[:2] == b"\r\n", f"no frame marker at byte {at}: {head!r}"
        kind, mnum, length = chr(head[2]), int(head[3:8]), int(head[8:14])
        payload = data[at + 14 : at + 14 + length]
        assert len(payload) == length, f"frame at byte {at} is cut short"
        out.append((kind, mnum, payload))
        at += 14 + length
    return out


def read_json_envelope(document: Any, encoding: str, mnum: int | None) -> Msg:
    assert set(document) >= {"header", "message"}, document
    return Msg(document["header"]["mTyp"], encoding, document["message"], mnum, document["header"])


def read_body(schema: Schema, data: bytes, encoding: str) -> list[Msg]:
    """Every message of a REST body or WebSocket frame."""
    if encoding == "json":
        document = json.loads(data)
        items = document if isinstance(document, list) else [document]
        return [read_json_envelope(item, "json", None) for item in items]
    out = []
    for kind, mnum, payload in split_frames(data):
        assert kind == ("P" if encoding == "proto" else "J"), (kind, encoding)
        if encoding == "proto":
            out.append(schema.parse(payload, mnum))
        else:
            out.append(read_json_envelope(json.loads(payload), "jsonf", mnum))
    return out


# ---- messages to send ------------------------------------------------------------------------


def stamp(ns: int | None = None) -> str:
    """The header time SpiderRock's clients send: ``2026-07-12 14:03:07.123456`` (UTC)."""
    t = time.time_ns() if ns is None else ns
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t // 10**9)) + f".{t // 1000 % 10**6:06d}"


def json_document(name: str, message: dict[str, Any], *, sent_ns: int | None = None) -> bytes:
    """A JSON envelope with the header SpiderRock's clients write (sTim / encT: ``sent_ns``,
    default now)."""
    now = stamp(sent_ns)
    return json.dumps(
        {"header": {"mTyp": name, "sTim": now, "encT": now}, "message": message}
    ).encode()


def frame(kind: str, mnum: int, payload: bytes) -> bytes:
    """The documented 14-byte header: ``\\r\\n`` + kind + ``%05d`` mNum + ``%06d`` length."""
    return b"\r\n" + kind.encode() + b"%05d" % mnum + b"%06d" % len(payload) + payload


def vendor_frame(payload: bytes) -> bytes:
    """Framed JSON as SpiderRock's samples send it: ``\\r\\nJ`` + an 11-digit length."""
    return b"\r\nJ" + b"%011d" % len(payload) + payload


@dataclass
class Request:
    """One client message, written twice from the spec: as JSON (wire names) and as a
    function filling Google's protobuf object (field names of the .proto)."""

    name: str
    json: dict[str, Any]
    proto: Callable[[Any, Schema], None] | None = None

    def encode(self, schema: Schema, encoding: str) -> bytes:
        if encoding == "json":
            return json_document(self.name, self.json)
        if encoding == "jsonf":
            return frame("J", schema.mnum(self.name), json_document(self.name, self.json))
        assert self.proto is not None, f"{self.name} has no protobuf form here"
        record = schema.cls(self.name)()
        record._meta.message_type = self.name
        self.proto(record, schema)
        return frame("P", schema.mnum(self.name), record.SerializeToString())


def set_ticker(key: Any, schema: Schema, symbol: str) -> None:
    key.asset_type = schema.enum("ASSETTYPE_EQT")
    key.ticker_src = schema.enum("TICKERSRC_NMS")
    key.ticker = symbol


# ---- JWT -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(secret: str, claims: dict[str, Any]) -> str:
    """A JWT (compact JWS, HS256) built by hand from RFC 7515."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing = f"{head}.{body}".encode()
    return f"{head}.{body}." + _b64(hmac.new(secret.encode(), signing, hashlib.sha256).digest())


def user_jwt(*, secret: str = JWT_SECRET, expires_in: int = 600) -> str:
    now = int(time.time())
    return jwt_hs256(secret, {"sub": "conf-user", "iat": now, "exp": now + expires_in})


# ---- servers ---------------------------------------------------------------------------------


@dataclass
class Servers:
    """``srmlink serve`` processes, started on first use and stopped at the end."""

    staged: Callable[[Path], Path]
    running: dict[tuple[str, str], ServerProcess] = field(default_factory=dict)
    failed: dict[tuple[str, str], RuntimeError] = field(default_factory=dict)

    def get(self, snapshot: str, role: str) -> ServerProcess:
        """The server of ``snapshot`` in ``role`` (``main`` or ``auth``); one that failed to
        start fails every test that needs it with the same error, without a new attempt."""
        key = (snapshot, role)
        if key in self.failed:
            raise self.failed[key]
        if key not in self.running:
            try:
                self.running[key] = self._start(snapshot, role)
            except RuntimeError as exc:
                self.failed[key] = exc
                raise
        return self.running[key]

    def _start(self, snapshot: str, role: str) -> ServerProcess:
        if role == "auth":
            key, extra = f"{API_KEY}.{PASSWORD}", ["--tick", "0", "--jwt-secret", JWT_SECRET]
        else:
            key, extra = API_KEY, ["--tick", "0.05", "--heartbeat", "0.25"]
        if snapshot == "2026-07":
            return start_server(api_key=key, extra=extra)
        stage = self.staged(snapshot_dir(snapshot))
        launch = _ISOLATE + "from srmlink.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
        return start_server(
            api_key=key,
            extra=extra,
            launcher=[sys.executable, "-c", launch],
            env={**os.environ, "PYTHONPATH": str(stage)},
        )

    def stop(self) -> None:
        for server in self.running.values():
            server.stop()


# Package scope: the servers stop once the conformance tests are done, not at the end of
# the whole run (ticking servers idling beside later tests cost them CPU).
@pytest.fixture(scope="package")
def servers(staged: Callable[[Path], Path]) -> Iterator[Servers]:
    running = Servers(staged)
    try:
        yield running
    finally:
        running.stop()


# ---- REST ------------------------------------------------------------------------------------

# One TLS context for every call: httpx loads the CA bundle for each new client otherwise
# (a quarter of a second on a loaded machine), although these servers are plain http.
_tls_context = functools.cache(ssl.create_default_context)


@dataclass
class Reply:
    """A REST reply: its records and the QueryResult that ends it."""

    records: list[Msg]
    result: Msg

    @property
    def ok(self) -> bool:
        return same_enum(self.result.get("result"), "Ok")

    def named(self, name: str) -> list[Msg]:
        return [r for r in self.records if r.name == name]


@dataclass
class Rest:
    """A raw REST client (httpx and the snapshot's own classes) for one server."""

    server: ServerProcess
    schema: Schema
    encoding: str

    def call(
        self,
        cmd: str,
        *,
        apikey: str | None = API_KEY,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        **params: str,
    ) -> Reply:
        import httpx  # noqa: PLC0415

        query = {"cmd": cmd, **params}
        if apikey is not None:
            query["apikey"] = apikey
        sent = dict(headers or {})
        if self.encoding == "proto":
            sent["Accept"] = "application/x-protobuf"
        url = f"{self.server.url}/rest/{path or self.encoding}"
        response = httpx.request(
            "GET" if body is None else "POST",
            url,
            params=query,
            headers=sent,
            content=body,
            timeout=HTTP_WAIT,
            verify=_tls_context(),
        )
        assert response.status_code == 200, (response.status_code, response.text[:300])
        messages = read_body(self.schema, response.content, self.encoding)
        self.check_numbers(messages)
        assert messages and messages[-1].name == "QueryResult", [m.name for m in messages]
        return Reply(messages[:-1], messages[-1])

    def check_numbers(self, messages: list[Msg]) -> None:
        """Framed messages carry their type's mNum (as the snapshot numbers it)."""
        for m in messages:
            if m.mnum is not None and m.name in self.schema.numbers:
                assert m.mnum == self.schema.mnum(m.name), (m.name, m.mnum)


# ---- records the suite posts -----------------------------------------------------------------


def quote(symbol: str, strike: float, *, bid: float = 1.1) -> Request:
    """An OptionNbboQuote on ``symbol``-NMS-EQT-2026-12-18-``strike``-C."""

    def fill(record: Any, schema: Schema) -> None:
        key = record.pkey.okey
        set_ticker(key, schema, symbol)
        key.expiration.year, key.expiration.month, key.expiration.day = 2026, 12, 18
        key.strike = strike
        key.call_put = schema.enum("CALLPUT_CALL")
        record.update_type = schema.enum("UPDATETYPE_PRC_CHANGE")
        record.bid_price, record.ask_price, record.bid_size, record.ask_size = bid, 1.2, 3, 4

    okey = {"at": "EQT", "ts": "NMS", "tk": symbol, "dt": "2026-12-18", "xx": strike, "cp": "Call"}
    message = {
        "pkey": {"okey": okey},
        "updateType": "PrcChange",
        "bidPrice": bid,
        "askPrice": 1.2,
        "bidSize": 3,
        "askSize": 4,
    }
    return Request("OptionNbboQuote", message, fill)


def quote_pkey(symbol: str, strike: float) -> str:
    return f"{symbol}-NMS-EQT-2026-12-18-{strike:g}-C"


# ---- WebSocket -------------------------------------------------------------------------------


class Closed(AssertionError):
    """The server closed the connection while the test was waiting."""


@dataclass
class RawSocket:
    """A raw WebSocket client (websockets, json, Google protobuf) on one connection."""

    ws: Any
    schema: Schema
    encoding: str
    seen: list[Msg] = field(default_factory=list)
    buffer: list[Msg] = field(default_factory=list)

    async def send(self, request: Request) -> None:
        await self.send_raw(request.encode(self.schema, self.encoding))

    async def send_raw(self, data: bytes) -> None:
        # Text frames for the JSON encodings, as SpiderRock's samples send them.
        await self.ws.send(data if self.encoding == "proto" else data.decode("utf-8", "replace"))

    async def take(self) -> Msg:
        """The next message (a frame may carry several: the rest wait in ``buffer``)."""
        from websockets.exceptions import ConnectionClosed  # noqa: PLC0415

        while not self.buffer:
            try:
                data = await self.ws.recv()
            except ConnectionClosed as exc:
                raise Closed(f"connection closed: {exc}; seen {self.names()}") from exc
            raw = data.encode() if isinstance(data, str) else data
            for m in read_body(self.schema, raw, self.encoding):
                if m.mnum is not None and m.name in self.schema.numbers:
                    assert m.mnum == self.schema.mnum(m.name), (m.name, m.mnum)
                self.buffer.append(m)
        m = self.buffer.pop(0)
        self.seen.append(m)
        return m

    async def until(self, done: Callable[[Msg], bool], timeout: float = WAIT) -> list[Msg]:
        """Every message up to and including the first for which ``done`` is true."""
        import asyncio  # noqa: PLC0415

        got: list[Msg] = []
        try:
            async with asyncio.timeout(timeout):
                while not got or not done(got[-1]):
                    got.append(await self.take())
        except TimeoutError:
            last = [(m.name, m.body) for m in got[-3:]]
            raise AssertionError(f"waited {timeout}s; got {len(got)}, the last {last}") from None
        return got

    async def quiet(self, window: float) -> list[Msg]:
        """What arrives within ``window`` seconds (a bounded window for "nothing comes")."""
        import asyncio  # noqa: PLC0415

        got: list[Msg] = []
        try:
            async with asyncio.timeout(window):
                while True:
                    got.append(await self.take())
        except TimeoutError:
            return got

    def names(self) -> list[str]:
        return [m.name for m in self.seen]


def ws_url(server: ServerProcess, encoding: str) -> str:
    return f"ws://{server.host}/mlink/{encoding}"


def named(name: str, state: str | None = None) -> Callable[[Msg], bool]:
    return lambda m: m.name == name and (state is None or m.is_state(state))
