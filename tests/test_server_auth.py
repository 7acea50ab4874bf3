"""Authentication on the local server: API key (+ password), issued keys, session keys, JWTs.

Unit tests on :class:`RestHandler` / :class:`KeyRing`, then raw httpx and websockets clients
against a real ``srmlink serve``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from srmlink.messages import registry
from srmlink.server.auth import KeyRing, make_jwt, verify_jwt
from srmlink.server.rest import RestHandler
from srmlink.server.store import LiveStore
from srmlink.testing import ServerProcess

from .mlink_raw import JWT_SECRET, envelopes, serving

KEY = "auth-key-7d1e"
PASSWORD = "auth-pw-93c0"
SECRET = "jwt-unit-secret"


def result_of(handler: RestHandler, *, bearer: str | None = None, **params: str) -> str:
    body = handler.handle(
        "json", {"cmd": "getcount", "mt": "OptionNbboQuote", **params}, b"", bearer=bearer
    )
    return str(envelopes(body, "json")[-1][1]["result"])


@pytest.fixture
def handler() -> RestHandler:
    return RestHandler(LiveStore(), registry, f"{KEY}.{PASSWORD}", jwt_secret=SECRET)


def test_the_key_needs_exactly_its_password(handler: RestHandler) -> None:
    assert handler.authorised_key(f"{KEY}.{PASSWORD}")
    for wrong in (
        KEY,
        f"{KEY}.",
        f"{KEY}.nope",
        f"{KEY}.{PASSWORD}x",
        f"{KEY}x.{PASSWORD}",
        "",
        ".",
    ):
        assert not handler.authorised_key(wrong), wrong
    assert result_of(handler, apikey=f"{KEY}.{PASSWORD}") == "Ok"
    assert result_of(handler, apikey=KEY) == "AuthError"


def test_a_key_without_a_password_refuses_a_password_suffix() -> None:
    handler = RestHandler(LiveStore(), registry, KEY)
    assert handler.authorised_key(KEY)
    assert not handler.authorised_key(f"{KEY}.anything")


def test_an_open_server_accepts_any_key() -> None:
    handler = RestHandler(LiveStore(), registry)
    assert handler.authorised_key("") and handler.authorised_key("whatever.pw")


def test_jwt_signature_algorithm_and_expiry_are_checked(handler: RestHandler) -> None:
    now = time.time()
    good = make_jwt({"sub": "u", "exp": now + 60}, SECRET)
    assert handler.authorised_jwt(good)
    assert result_of(handler, bearer=good) == "Ok"
    expired = make_jwt({"sub": "u", "exp": now - 1}, SECRET)
    not_yet = make_jwt({"sub": "u", "nbf": now + 60}, SECRET)
    other_secret = make_jwt({"sub": "u", "exp": now + 60}, "another-secret")
    head, body, signature = good.split(".")
    tampered = (
        f"{head}.{make_jwt({'sub': 'admin', 'exp': now + 60}, SECRET).split('.')[1]}.{signature}"
    )
    none_alg = "eyJhbGciOiJub25lIn0." + body + "."
    bad_exp = make_jwt({"sub": "u", "exp": "never"}, SECRET)
    for token in (expired, not_yet, other_secret, tampered, none_alg, bad_exp, "a.b.c", "x"):
        assert not handler.authorised_jwt(token), token
        assert result_of(handler, bearer=token) == "AuthError"
    assert verify_jwt(good, SECRET, now=now + 61) is None
    assert RestHandler(LiveStore(), registry, KEY).authorised_jwt(good) is False  # no secret


def test_issued_keys_expire_and_keep_their_password() -> None:
    clock = [1000.0]
    ring = KeyRing(KEY, clock=lambda: clock[0])
    issued = ring.issue("s3", ttl=10)
    assert ring.check_key(f"{issued}.s3") and not ring.check_key(issued)
    clock[0] += 11
    assert not ring.check_key(f"{issued}.s3")
    assert "s3" not in repr(ring) and issued not in repr(ring)


def test_getapikey_needs_a_jwt_and_never_returns_the_servers_key(handler: RestHandler) -> None:
    body = handler.handle("json", {"cmd": "getapikey", "apikey": f"{KEY}.{PASSWORD}"}, b"")
    assert envelopes(body, "json")[-1][1]["result"] == "AuthError"
    jwt = make_jwt({"sub": "trader", "exp": time.time() + 60}, SECRET)
    body = handler.handle("json", {"cmd": "getapikey", "secret": "mine"}, b"", bearer=jwt)
    assert KEY.encode() not in body and PASSWORD.encode() not in body
    (_, key), (_, result) = envelopes(body, "json")
    assert result["result"] == "Ok"
    assert result_of(handler, apikey=f"{key['plaintextApiKey']}.mine") == "Ok"


def test_logon_returns_a_session_key_usable_as_an_api_key(handler: RestHandler) -> None:
    params = {"cmd": "logon", "user": "u", "pw": "p", "apikey": f"{KEY}.{PASSWORD}"}
    (_, logon), (_, result) = envelopes(handler.handle("json", params, b""), "json")
    assert result["result"] == "Ok" and logon["userName"] == "u"
    session = str(logon["apiKey"])
    assert KEY not in session and PASSWORD not in session
    assert result_of(handler, apikey=session) == "Ok"
    refused = handler.handle("json", {**params, "apikey": "wrong"}, b"")
    assert envelopes(refused, "json")[-1][1]["result"] == "AuthError"


# ---- against a real server ---------------------------------------------------------------


@pytest.fixture(scope="module", params=["2026-07", "2023-05"])
def server(
    request: pytest.FixtureRequest, staged: Callable[[Path], Path]
) -> Iterator[tuple[str, ServerProcess]]:
    with serving(staged, request.param, key=f"{KEY}.{PASSWORD}") as served:
        yield served


def test_rest_takes_a_bearer_jwt_and_refuses_an_expired_one(
    server: tuple[str, ServerProcess],
) -> None:
    _, srv = server
    params = {"cmd": "getcount", "mt": "OptionNbboQuote"}
    for exp, expected in ((time.time() + 60, "Ok"), (time.time() - 5, "AuthError")):
        jwt = make_jwt({"sub": "u", "exp": exp}, JWT_SECRET)
        response = httpx.get(
            srv.url + "/rest/json", params=params, headers={"Authorization": f"Bearer {jwt}"}
        )
        assert envelopes(response.content, "json")[-1][1]["result"] == expected


async def _admin_state(url: str, *, headers: dict[str, str], logon: dict[str, str] | None) -> str:
    async with websockets.connect(url, additional_headers=headers) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if logon is None:
            return str(first["message"]["state"])
        await ws.send(json.dumps({"header": {"mTyp": "MLinkLogon"}, "message": logon}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return str(reply["message"]["state"])


def test_websocket_checks_bearer_and_mlinklogon_the_same_way(
    server: tuple[str, ServerProcess],
) -> None:
    snapshot, srv = server
    url = srv.url.replace("http://", "ws://") + "/mlink/json"
    good = make_jwt({"sub": "u", "exp": time.time() + 60}, JWT_SECRET)
    expired = make_jwt({"sub": "u", "exp": time.time() - 5}, JWT_SECRET)
    password_member = "apiPassword" if snapshot == "2023-05" else "password"

    def state(headers: dict[str, str], logon: dict[str, str] | None = None) -> str:
        return asyncio.run(_admin_state(url, headers=headers, logon=logon))

    assert state({"Authorization": f"Bearer {good}"}) == "LoggedOn"
    assert state({"Authorization": f"Bearer {KEY}.{PASSWORD}"}) == "LoggedOn"
    assert state({"Authorization": f"Bearer {expired}"}) != "LoggedOn"
    assert state({"Authorization": f"Bearer {KEY}"}) != "LoggedOn"
    assert state({}, {"jwtToken": good}) == "LoggedOn"
    assert state({}, {"jwtToken": expired}) != "LoggedOn"
    assert state({}, {"apiKey": KEY, password_member: PASSWORD}) == "LoggedOn"
    assert state({}, {"apiKey": KEY, password_member: "wrong"}) != "LoggedOn"
    assert state({}, {"apiKey": KEY}) != "LoggedOn"
