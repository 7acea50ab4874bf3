"""The local server's REST endpoint as SpiderRock's samples use it, on every schema snapshot.

Raw httpx requests (never srmlink's client) against a real ``srmlink serve``; replies are read
with plain JSON and hand-split frames (:mod:`tests.mlink_raw`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from srmlink.server.auth import make_jwt
from srmlink.testing import ServerProcess

from .conftest import SNAPSHOTS
from .mlink_raw import JWT_SECRET, envelopes, frames, serving

KEY = "conf-key"
PASSWORD = "conf-pw"
TOKEN = f"{KEY}.{PASSWORD}"
QUOTE = "OptionNbboQuote"


@pytest.fixture(scope="module", params=SNAPSHOTS)
def server(
    request: pytest.FixtureRequest, staged: Callable[[Path], Path]
) -> Iterator[tuple[str, ServerProcess]]:
    with serving(staged, request.param, key=TOKEN) as served:
        yield served


def get(srv: ServerProcess, path: str, **params: str) -> httpx.Response:
    response = httpx.get(srv.url + path, params={"apikey": TOKEN, **params}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response


def trailer(items: list[tuple[str, dict[str, object]]]) -> dict[str, object]:
    name, result = items[-1]
    assert name == "QueryResult"
    return result


@pytest.mark.parametrize("path", ["/rest/JSON", "/Rest/Jsonf", "/REST/json", "/rest/jsonF"])
def test_paths_and_parameter_names_are_case_insensitive_and_limit_is_clamped(
    server: tuple[str, ServerProcess], path: str
) -> None:
    _, srv = server
    encoding = path.rsplit("/", 1)[1].lower()
    # SpiderRock's samples send l=999999; MLink clamps to its maximum (10,000) and says so.
    response = httpx.get(
        srv.url + path,
        params={"ApiKey": TOKEN, "CMD": "getmsgs", "Mt": QUOTE, "L": "999999"},
        timeout=30,
    )
    assert response.status_code == 200
    items = envelopes(response.content, encoding)
    result = trailer(items)
    assert result["result"] == "Ok"
    assert "limit 999999 clamped to the maximum, 10000" in str(result["detail"])
    assert [name for name, _ in items[:-1]] == [QUOTE] * 60
    assert result["numMessagesSent"] == 60


@pytest.mark.parametrize("limit", ["0", "-5", "abc", "1.5"])
def test_a_limit_that_is_not_a_positive_number_is_an_error(
    server: tuple[str, ServerProcess], limit: str
) -> None:
    _, srv = server
    result = trailer(
        envelopes(get(srv, "/rest/json", cmd="getmsgs", mt=QUOTE, l=limit).content, "json")
    )
    assert result["result"] == "Error" and "limit must be" in str(result["detail"])


def test_an_unknown_section_is_404_and_a_websocket_path_is_case_insensitive(
    server: tuple[str, ServerProcess],
) -> None:
    _, srv = server
    assert httpx.get(srv.url + "/nope/json", timeout=10).status_code == 404
    import asyncio  # noqa: PLC0415

    import websockets  # noqa: PLC0415

    async def first_message() -> str:
        url = srv.url.replace("http://", "ws://") + "/MLink/JSON"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with websockets.connect(url, additional_headers=headers) as ws:
            return str(await asyncio.wait_for(ws.recv(), 10))

    assert '"LoggedOn"' in asyncio.run(first_message())


def test_admin_commands_are_served_from_the_loaded_schema(
    server: tuple[str, ServerProcess],
) -> None:
    snapshot, srv = server

    def items(**params: str) -> list[tuple[str, dict[str, object]]]:
        found = envelopes(get(srv, "/rest/json", **params).content, "json")
        assert trailer(found)["result"] == "Ok", trailer(found)
        return found[:-1]

    types = {m["name"]: m for _, m in items(cmd="getmsgtypes")}
    assert types[QUOTE]["mNum"] == (2745 if snapshot == "2023-05" else 2785)
    assert ("mCat" if snapshot == "2023-05" else "mToken") in types[QUOTE]
    assert types[QUOTE]["hasOKey"] == "Yes"
    if snapshot != "2023-05":  # the dictionaries describe their messages; 2023-05 has none
        assert "option" in str(types[QUOTE]["desc"]).lower()

    schema = items(cmd="getschema", mt=QUOTE)
    assert {name for name, _ in schema} == {"FieldDesc"}
    by_name = {m["name"]: m for _, m in schema}
    assert by_name["bidPrice"]["fType"] == "Float" and by_name["bidPrice"]["isPkey"] == "No"
    assert "PrcChange" in str(by_name["updateType"]["eSet"])

    summary = items(cmd="getsummary", mt=QUOTE, v="bidprice|bidsize")
    numeric = "SummaryNumeric" if snapshot == "2023-05" else "AggregateNumeric"
    assert [name for name, _ in summary] == [numeric, numeric]
    assert all(m["cnt"] == 60 for _, m in summary)

    assert items(cmd="getcount", mt=QUOTE) == [("MLinkCount", {"count": 60})]
    tickers = items(cmd="gettkeyset", mt=QUOTE)
    assert sorted(m["tickerKey"]["tk"] for _, m in tickers) == ["AAPL", "QQQ", "SPY"]  # type: ignore[index]


def test_getlayout_describes_every_field(server: tuple[str, ServerProcess]) -> None:
    snapshot, srv = server
    schema = envelopes(get(srv, "/rest/json", cmd="getschema", mt=QUOTE).content, "json")
    for encoding in ("json", "jsonf"):
        found = envelopes(
            get(srv, f"/rest/{encoding}", cmd="getlayout", mt=QUOTE).content, encoding
        )
        result = trailer(found)
        assert result["result"] == "Ok"
        names = [name for name, _ in found[:-1]]
        assert names == ["MsgLayout"] + ["FieldLayout"] * (len(schema) - 1)
        assert found[0][1]["name"] == QUOTE
        fields = {m["name"]: m for _, m in found[1:-1]}
        assert fields["bidSize"]["minV"] == -(2**31) or fields["bidSize"]["minV"] == 0
        assert "PrcChange" in str(fields["updateType"]["vSet"])
        if snapshot == "2023-07":  # the only snapshot defining MsgLayout / FieldLayout
            assert result.get("detail") in (None, "")
        else:
            assert "JSON objects" in str(result["detail"])


def test_getapikey_with_a_jwt_returns_a_new_key_not_the_servers(
    server: tuple[str, ServerProcess],
) -> None:
    snapshot, srv = server
    jwt = make_jwt({"sub": "trader1", "exp": 4_000_000_000}, JWT_SECRET)
    response = httpx.get(
        srv.url + "/rest/json",
        params={"cmd": "getapikey", "secret": "my-secret"},
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=30,
    )
    assert PASSWORD not in response.text and KEY not in response.text
    found = envelopes(response.content, "json")
    assert trailer(found)["result"] == "Ok"
    name, message = found[0]
    assert name == ("UserApiKey" if snapshot == "2026-07" else "MLinkApiKey")
    issued = str(message.get("apiKey") or message.get("plaintextApiKey"))
    # The new key works with its secret, and only with it.
    assert (
        trailer(
            envelopes(
                get(
                    srv, "/rest/json", cmd="getcount", mt=QUOTE, apikey=f"{issued}.my-secret"
                ).content,
                "json",
            )
        )["result"]
        == "Ok"
    )
    refused = get(srv, "/rest/json", cmd="getcount", mt=QUOTE, apikey=issued)
    assert trailer(envelopes(refused.content, "json"))["result"] == "AuthError"


@pytest.mark.parametrize("encoding", ["jsonf", "proto"])
def test_framed_replies_never_fail_on_a_schema_without_control_numbers(
    server: tuple[str, ServerProcess], encoding: str
) -> None:
    """Every command answers 200 with a framed body ending in the QueryResult, whether or
    not the schema gives the admin messages numbers (2023-07's dictionary does not)."""
    _, srv = server
    for params in (
        {"cmd": "getmsgtypes"},
        {"cmd": "getschema", "mt": QUOTE},
        {"cmd": "getlayout", "mt": QUOTE},
        {"cmd": "getsummary", "mt": QUOTE},
        {"cmd": "gettkeyset", "mt": QUOTE},
        {"cmd": "getcount", "mt": QUOTE},
        {"cmd": "getmsgs", "mt": QUOTE, "l": "5"},
        {"cmd": "logon", "user": "u", "pw": "p"},
    ):
        body = get(srv, f"/rest/{encoding}", **params).content
        parsed = frames(body)
        assert parsed, params
        if encoding == "jsonf":
            name, result = envelopes(body, "jsonf")[-1]
            assert name == "QueryResult" and result["result"] in ("Ok", "Error"), params
