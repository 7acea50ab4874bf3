"""Issue 10 on the local server: poison posts, unencodable records, secrets, the fault endpoint.

Posts and queries go through raw httpx against a real ``srmlink serve``; the secret tests run
the server in this process so that every log record (aiohttp's included) is captured at DEBUG.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from srmlink.codec import decode, encode
from srmlink.keys import OptionKey
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, PostAck, QueryResult, registry
from srmlink.server import LocalServer
from srmlink.server.app import is_loopback
from srmlink.server.rest import RestHandler
from srmlink.server.safe_http import BAD_REQUEST_TEXT
from srmlink.server.store import LiveStore
from srmlink.testing import ServerProcess, start_server

from .conftest import SNAPSHOTS
from .mlink_raw import envelopes, frames, serving

KEY = "hard-key-51ab"
QUOTE = "OptionNbboQuote"


def okey(symbol: str) -> dict[str, object]:
    return {"at": "EQT", "ts": "NMS", "tk": symbol, "dt": "2027-03-19", "xx": 42.5, "cp": "Put"}


def quote_json(symbol: str, **members: object) -> bytes:
    message = {"pkey": {"okey": okey(symbol)}, "bidPrice": 1.5, **members}
    return json.dumps({"header": {"mTyp": QUOTE}, "message": message}).encode()


def framed(payload: bytes, kind: str, mnum: int) -> bytes:
    return b"\r\n" + kind.encode() + b"%05d%06d" % (mnum, len(payload)) + payload


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    srv = start_server(api_key=KEY, extra=["--tick", "0"])
    try:
        yield srv
    finally:
        srv.stop()


def rest(srv: ServerProcess, encoding: str, body: bytes | None = None, **params: str) -> bytes:
    response = httpx.request(
        "POST" if body is not None else "GET",
        f"{srv.url}/rest/{encoding}",
        params={"apikey": KEY, **params},
        content=body,
        timeout=60,
    )
    assert response.status_code == 200, response.text[:300]
    return response.content


def count(srv: ServerProcess) -> int:
    (_, found), _ = envelopes(rest(srv, "json", cmd="getcount", mt=QUOTE), "json")
    return int(str(found["count"]))


def assert_queries_work(srv: ServerProcess, expected: int, mnum: int) -> None:
    """getmsgs of every quote answers Ok with every record, in all three encodings."""
    for encoding in ("json", "jsonf"):
        items = envelopes(rest(srv, encoding, cmd="getmsgs", mt=QUOTE, l="10000"), encoding)
        assert items[-1][1]["result"] == "Ok" and len(items) - 1 == expected, items[-1]
    proto = frames(rest(srv, "proto", cmd="getmsgs", mt=QUOTE, l="10000"))
    assert [number for _, number, _ in proto[:-1]] == [mnum] * expected


@pytest.fixture(scope="module", params=SNAPSHOTS)
def any_server(
    request: pytest.FixtureRequest, staged: Callable[[Path], Path]
) -> Iterator[tuple[str, ServerProcess]]:
    with serving(staged, request.param, key=KEY) as served:
        yield served


@pytest.mark.parametrize("encoding", ["json", "jsonf"])
def test_poison_posts_are_refused_per_record_and_never_stored(
    any_server: tuple[str, ServerProcess], encoding: str
) -> None:
    snapshot, server = any_server
    types = envelopes(rest(server, "json", cmd="getmsgtypes"), "json")[:-1]
    mnum = next(int(str(m["mNum"])) for _, m in types if m["name"] == QUOTE)
    # Each schema's own PostAckResult names: 2026 spells OK; 2023-05 has no ParseError.
    ok = "OK" if snapshot == "2026-07" else "Ok"
    bad = "OtherError" if snapshot == "2023-05" else "ParseError"
    before = count(server)
    items = [
        quote_json(f"OK1{encoding.upper()}"),
        quote_json(f"BIG{encoding.upper()}", bidSize=2**64),
        quote_json(f"OK2{encoding.upper()}"),
    ]
    if encoding == "json":
        # Too long for a frame's 6-digit length: it could never be sent back as jsonf/proto.
        items.insert(2, quote_json("L" * 1_000_100))
        body = b"[" + b",".join(items) + b"]"
    else:
        body = b"".join(framed(item, "J", mnum) for item in items)
    acks = envelopes(rest(server, encoding, body, cmd="postmsgs"), encoding)
    expected = [ok, bad, bad, ok] if encoding == "json" else [ok, bad, ok]
    assert [(name, m["result"]) for name, m in acks[:-1]] == [("PostAck", r) for r in expected]
    failed = [m for _, m in acks[:-1] if m["result"] != ok]
    assert all(m.get("detail") for m in failed) and all("pkey" not in m for m in failed)
    assert acks[-1][1]["result"] == "Ok"
    assert count(server) == before + 2
    assert_queries_work(server, before + 2, mnum)


def test_an_unknown_mnum_in_a_proto_body_gets_its_own_failed_ack(server: ServerProcess) -> None:
    before = count(server)
    good = [
        OptionNbboQuote(
            pkey=OptionNbboQuotePKey(okey=OptionKey.parse(f"PB{i}-NMS-EQT-2027-03-19-42.5-P")),
            bid_size=i,
        )
        for i in (1, 2)
    ]
    first, second = frames(encode(good, "proto"))
    body = (
        framed(first[2], "P", first[1])
        + framed(b"\x08\x01", "P", 9999)
        + framed(second[2], "P", second[1])
    )
    *acks, result = decode(rest(server, "proto", body, cmd="postmsgs"), "proto")
    assert isinstance(result, QueryResult) and str(result.result) == "Ok"
    assert all(isinstance(ack, PostAck) for ack in acks)
    assert [str(ack.result) for ack in acks] == ["OK", "InvldMsgType", "OK"]  # type: ignore[union-attr]
    assert acks[1].msg_type == 9999 and "9999" in str(acks[1].detail)  # type: ignore[union-attr]
    assert count(server) == before + 2


def test_a_postmsgs_body_that_cannot_be_split_is_refused_whole(server: ServerProcess) -> None:
    before = count(server)
    for encoding, body in (("json", b"[{not json"), ("jsonf", b"\r\nJ02785000999{}")):
        result = envelopes(rest(server, encoding, body, cmd="postmsgs"), encoding)[-1][1]
        assert result["result"] == "Error" and "postmsgs" in str(result["detail"])
    assert count(server) == before


def test_a_record_that_cannot_be_encoded_is_skipped_and_reported() -> None:
    """Even a record that got into the store by another way never fails a query."""
    handler = RestHandler(LiveStore(), registry)
    pkey = OptionNbboQuotePKey(okey=OptionKey.parse("AAA-NMS-EQT-2027-03-19-1-C"))
    handler.store.put(OptionNbboQuote(pkey=pkey, bid_size=2**64))
    handler.store.put(
        OptionNbboQuote(
            pkey=OptionNbboQuotePKey(okey=OptionKey.parse("BBB-NMS-EQT-2027-03-19-1-C")), bid_size=3
        )
    )
    for encoding in ("jsonf", "proto"):
        body = handler.handle(encoding, {"cmd": "getmsgs", "mt": QUOTE}, b"")
        parsed = frames(body)
        assert len(parsed) == 2  # the good record and the QueryResult
        if encoding == "jsonf":
            result = envelopes(body, "jsonf")[-1][1]
            assert result["result"] == "Ok" and result["numMessagesSent"] == 1
            assert "1 record(s) skipped" in str(result["detail"]) and "OptionNbboQuote" in str(
                result["detail"]
            )


# ---- secrets and the fault endpoint (the server in this process, every log captured) ----

SECRET = "S3CRET-k3y-0a9b8c"
PASSWORD = "pw-7e6d5c"
WRONG = "WR0NG-k3y-1f2e3d"


# The raw test clients (httpx, websockets) log the URLs and frames they send: they stand for
# the outside world here; every other record (the server's, aiohttp's, asyncio's) is checked.
_CLIENT_LOGGERS = ("httpx", "httpcore", "websockets.client")


def _texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        if record.name.startswith(_CLIENT_LOGGERS):
            continue
        texts.append(record.getMessage())
        texts.append(record.exc_text or "")
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:  # the whole chain: __cause__ and __context__
            texts.append(repr(error) + str(error))
            error = error.__cause__ or error.__context__
    return texts


def test_no_secret_in_any_body_or_log(caplog: pytest.LogCaptureFixture) -> None:
    server = LocalServer(registry, api_key=f"{SECRET}.{PASSWORD}", demo=False, faults=True)
    bodies: list[str] = []

    async def session() -> None:
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                long_url = f"/rest/json?apikey={SECRET}.{PASSWORD}&cmd=getmsgtypes&pad={'x' * 9000}"
                response = await client.get(long_url)
                assert response.status_code == 400 and response.text.strip() == BAD_REQUEST_TEXT
                bodies.append(response.text)
                for token in (WRONG, f"{SECRET}.{WRONG}", f"{SECRET}.{PASSWORD}"):
                    reply = await client.get(
                        "/rest/json", params={"apikey": token, "cmd": "getcount", "mt": QUOTE}
                    )
                    bodies.append(reply.text)
                reply = await client.get(
                    "/rest/json",
                    params={"cmd": "getcount", "mt": QUOTE},
                    headers={"Authorization": f"Bearer {WRONG}"},
                )
                bodies.append(reply.text)
                reply = await client.get(
                    "/rest/json",
                    params={
                        "apikey": f"{SECRET}.{PASSWORD}",
                        "cmd": "logon",
                        "user": "u",
                        "pw": PASSWORD,
                    },
                )
                bodies.append(reply.text)
            url = server.url.replace("http://", "ws://") + "/mlink/json"
            for raw in (
                _logon(SECRET, PASSWORD)[:-2],  # cut short: invalid JSON
                _logon(SECRET, 5),  # a number where the password is a string
                _logon(WRONG, PASSWORD),
            ):
                async with websockets.connect(url) as ws:
                    bodies.append(str(await asyncio.wait_for(ws.recv(), 10)))
                    await ws.send(raw)
                    try:
                        bodies.append(str(await asyncio.wait_for(ws.recv(), 10)))
                    except websockets.ConnectionClosed as closed:
                        bodies.append(repr(closed))
        finally:
            await server.stop()

    with caplog.at_level(logging.DEBUG):
        for name in ("aiohttp", "srmlink", "websockets"):
            caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
        asyncio.run(session())
    texts = _texts(caplog) + bodies
    assert any("Error handling request" in t or "400" in t for t in texts)
    for secret in (SECRET, PASSWORD, WRONG):
        leaks = [t for t in texts if secret in t]
        assert not leaks, (secret, leaks[:3])


def test_the_fault_endpoint_needs_the_key_and_checks_its_parameters() -> None:
    server = LocalServer(registry, api_key=SECRET, demo=False, faults=True)
    statuses: dict[str, tuple[int, str]] = {}

    async def session() -> None:
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                statuses["nokey"] = await _post(client, "/srmlink/fault/stall", {"seconds": "1"})
                statuses["wrongkey"] = await _post(client, "/srmlink/fault/drop", {"apikey": WRONG})
                for seconds in ("abc", "nan", "-1", "1e999", "inf", "-inf"):
                    statuses[seconds] = await _post(
                        client, "/srmlink/fault/stall", {"apikey": SECRET, "seconds": seconds}
                    )
                statuses["ok"] = await _post(
                    client, "/srmlink/fault/stall", {"apikey": SECRET, "seconds": "0.5"}
                )
                statuses["forever"] = await _post(
                    client, "/srmlink/fault/stall", {"apikey": SECRET}
                )
                statuses["unknown"] = await _post(client, "/srmlink/fault/melt", {"apikey": SECRET})
        finally:
            await server.stop()

    asyncio.run(session())
    assert statuses["nokey"][0] == 401 and statuses["wrongkey"][0] == 401
    for seconds in ("abc", "nan", "-1", "1e999", "inf", "-inf"):
        status, text = statuses[seconds]
        assert status == 400 and "seconds must be" in text, (seconds, status, text)
    assert statuses["ok"][0] == 200 and statuses["forever"][0] == 200
    assert statuses["unknown"][0] == 404


def _logon(key: str, password: object) -> str:
    head = {"mTyp": "MLinkLogon"}
    return json.dumps({"header": head, "message": {"apiKey": key, "password": password}})


async def _post(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> tuple[int, str]:
    response = await client.post(path, params=params)
    return response.status_code, response.text


def test_faults_off_loopback_warn_loudly() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    # 192.0.2.1 (TEST-NET-1) is not on this machine: the warning comes first, then the bind fails.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "srmlink.cli",
            "serve",
            "--faults",
            "--host",
            "192.0.2.1",
            "--port",
            "0",
            "--no-demo",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "WARNING: --faults on 192.0.2.1, which is not loopback" in proc.stderr


def test_a_failing_command_is_an_error_reply_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    handler = RestHandler(LiveStore(), registry, SECRET)

    def broken(call: object) -> list[object]:
        raise TypeError(f"a bug holding {SECRET}")

    handler._commands["getcount"] = broken  # type: ignore[assignment]
    handler.keys.protect()
    with caplog.at_level(logging.DEBUG):
        body = handler.handle("json", {"cmd": "getcount", "mt": QUOTE, "apikey": SECRET}, b"")
    result = envelopes(body, "json")[-1][1]
    assert result["result"] == "Error" and result["detail"] == "internal error (TypeError)"
    # The traceback is logged, with the secrets the server holds scrubbed from it.
    assert any("getcount" in t for t in _texts(caplog))
    assert not [t for t in _texts(caplog) if SECRET in t]
