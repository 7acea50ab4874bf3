"""Every REST command of the spec, driven with raw clients (httpx, json, Google protobuf).

Written from ``mlink-api.md`` and ``protocol-notes.md``: for each schema snapshot and each
encoding, the reply is read as SpiderRock's clients read it (framed by length, dispatched by
the JSON header's ``mTyp`` or protobuf's ``_meta.message_type``) and ends with a QueryResult.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import (
    API_KEY,
    CHAIN,
    DEMO_TICKERS,
    ENCODINGS,
    JWT_SECRET,
    MAX_LIMIT,
    PASSWORD,
    SNAPSHOTS,
    Msg,
    Reply,
    Rest,
    Schema,
    Servers,
    frame,
    quote,
    quote_pkey,
    same_enum,
    user_jwt,
)


@pytest.fixture(params=SNAPSHOTS)
def snapshot(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=ENCODINGS)
def encoding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def schema(schemas: Callable[[str], Schema], snapshot: str) -> Schema:
    return schemas(snapshot)


@pytest.fixture
def rest(servers: Servers, schema: Schema, encoding: str) -> Rest:
    return Rest(servers.get(schema.snapshot, "main"), schema, encoding)


@pytest.fixture
def rest26(servers: Servers, schemas: Callable[[str], Schema], encoding: str) -> Rest:
    return Rest(servers.get("2026-07", "main"), schemas("2026-07"), encoding)


@pytest.fixture
def auth_rest26(servers: Servers, schemas: Callable[[str], Schema], encoding: str) -> Rest:
    return Rest(servers.get("2026-07", "auth"), schemas("2026-07"), encoding)


@pytest.fixture
def auth_rest(servers: Servers, schema: Schema, encoding: str) -> Rest:
    return Rest(servers.get(schema.snapshot, "auth"), schema, encoding)


def key_of(record: Msg) -> str | None:
    """The key an MLinkApiKey / UserApiKey / MLinkLogon reply carries."""
    if record.name == "UserApiKey":
        return record.get("plaintextApiKey", "plaintext_api_key") or None
    if record.name in ("MLinkApiKey", "MLinkLogon"):
        return record.get("apiKey", "api_key") or None
    return None


# ---- schema commands -------------------------------------------------------------------------


def test_getmsgtypes_numbers_every_type_as_the_snapshot_does(rest: Rest) -> None:
    reply = rest.call("getmsgtypes")
    assert reply.ok
    numbers = {str(r.get("name")): r.get("mNum", "m_num") for r in reply.named("MsgDesc")}
    for name in ("OptionNbboQuote", "QueryResult"):
        assert numbers[name] == rest.schema.mnum(name), name
    assert reply.result.get("numMessagesSent", "num_messages_sent") == len(reply.records)


def test_getschema_describes_the_fields_by_their_wire_names(rest: Rest) -> None:
    reply = rest.call("getschema", msgtype="OptionNbboQuote")
    assert reply.ok
    names = {r.get("name") for r in reply.named("FieldDesc")}
    assert {"bidPrice", "askPrice", "bidSize", "updateType"} <= names


def _unframeable(rest: Rest, *names: str) -> str | None:
    """On protobuf, the first of ``names`` this snapshot cannot carry (no such message or no
    mNum in its own sources): no server can send it there, so it must say so instead."""
    if rest.encoding != "proto":
        return None
    return next((n for n in names if not rest.schema.has(n) or n not in rest.schema.numbers), None)


def _auth_error(reply: Reply) -> bool:
    """An AuthError QueryResult; protobuf can carry only the values its QResult enum has
    (2023's: Ok and Error), so there it is an Error whose detail starts with AuthError."""
    if same_enum(reply.result.get("result"), "AuthError"):
        return True
    detail = str(reply.result.get("detail") or "")
    proto = reply.result.encoding == "proto"
    return (
        proto and same_enum(reply.result.get("result"), "Error") and detail.startswith("AuthError")
    )


def test_getlayout_is_served_from_the_loaded_schema(rest: Rest) -> None:
    reply = rest.call("getlayout", msgtype="OptionNbboQuote")
    missing = _unframeable(rest, "MsgLayout", "FieldLayout")
    if missing is not None:
        assert not reply.ok and missing in str(reply.result.get("detail")), reply.result
        return
    assert reply.ok, reply.result.get("detail")
    assert reply.records


def test_getsummary_uses_the_summary_types_of_the_snapshot(rest: Rest) -> None:
    reply = rest.call("getsummary", msgtype="OptionNbboQuote", view="bidprice|askprice")
    missing = _unframeable(
        rest, "SummaryNumeric" if rest.schema.has("SummaryNumeric") else "AggregateNumeric"
    )
    if missing is not None:
        assert not reply.ok and missing in str(reply.result.get("detail")), reply.result
        return
    assert reply.ok, reply.result.get("detail")
    # 2023-05 defines SummaryNumeric / SummaryString; later snapshots AggregateNumeric.
    numeric = "SummaryNumeric" if rest.schema.has("SummaryNumeric") else "AggregateNumeric"
    assert {r.name for r in reply.records} == {numeric}
    assert {str(r.get("name")).lower() for r in reply.records} == {"bidprice", "askprice"}


# ---- key sets --------------------------------------------------------------------------------


def test_key_sets_narrow_ticker_expiry_option(rest: Rest) -> None:
    tickers = rest.call("gettkeyset", msgtype="OptionNbboQuote")
    assert tickers.ok
    symbols = set()
    for r in tickers.named("MsgTickerKey"):
        key = r.get("tickerKey", "ticker_key")
        symbols.add(key["tk"] if isinstance(key, dict) else key.ticker)
    assert set(DEMO_TICKERS) <= symbols
    expiries = rest.call("getekeyset", msgtype="OptionNbboQuote", tkey="AAPL-NMS-EQT")
    assert expiries.ok and len(expiries.named("MsgExpiryKey")) == 2
    options = rest.call("getokeyset", msgtype="OptionNbboQuote", ekey="AAPL-NMS-EQT-2026-12-18")
    assert options.ok and len(options.named("MsgOptionKey")) == CHAIN // 2


# ---- records ---------------------------------------------------------------------------------


def test_getmsg_by_primary_key(rest: Rest) -> None:
    pkey = "AAPL-NMS-EQT-2026-12-18-190-C"
    reply = rest.call("getmsg", msgtype="OptionNbboQuote", pkey=pkey)
    assert reply.ok
    assert [r.pkey for r in reply.records] == [pkey]
    assert reply.result.get("numMessagesSent", "num_messages_sent") == 1


def test_getmsgs_where_view_order_limit(rest: Rest) -> None:
    reply = rest.call(
        "getmsgs",
        msgtype="OptionNbboQuote",
        where="okey.tk:eq:AAPL & bidsize:ge:0",
        view="okey|bidprice|askprice",
        order="bidprice:DESC",
        limit="7",
    )
    assert reply.ok, reply.result.get("detail")
    records = reply.named("OptionNbboQuote")
    assert len(records) == 7
    assert {r.ticker for r in records} == {"AAPL"}
    bids = [r.get("bidPrice", "bid_price") for r in records]
    assert bids == sorted(bids, reverse=True)
    # The view: only the key and the two prices travel (protobuf: unset fields read 0).
    assert all(r.get("bidSize", "bid_size") in (None, 0) for r in records)
    assert all(r.get("askPrice", "ask_price") for r in records)


def test_getmsgs_key_filters(rest: Rest) -> None:
    by_ticker = rest.call("getmsgs", msgtype="OptionNbboQuote", tkey="SPY-NMS-EQT")
    assert by_ticker.ok and len(by_ticker.records) == CHAIN
    assert {r.ticker for r in by_ticker.records} == {"SPY"}
    pkey = "SPY-NMS-EQT-2027-01-15-530-P"
    by_option = rest.call("getmsgs", msgtype="OptionNbboQuote", okey=pkey)
    assert [r.pkey for r in by_option.records] == [pkey]


def test_vendor_limit_999999_is_clamped_and_said(rest: Rest) -> None:
    """SpiderRock's samples send ``l=999999``: the service clamps it to its maximum."""
    reply = rest.call("getmsgs", msgtype="OptionNbboQuote", l="999999", where="okey.tk:eq:QQQ")
    assert reply.ok, reply.result.get("detail")
    assert len(reply.records) == CHAIN
    assert str(MAX_LIMIT) in str(reply.result.get("detail")).replace(",", "")


def test_getcount(rest: Rest) -> None:
    reply = rest.call("getcount", msgtype="OptionNbboQuote", where="okey.tk:eq:AAPL")
    assert reply.ok
    (count,) = reply.named("MLinkCount")
    assert count.get("count") == CHAIN


def test_getaggregate_groups_and_measures(rest26: Rest) -> None:
    """A 2026 command (older schemas define nothing to answer it with)."""
    reply = rest26.call(
        "getaggregate",
        msgtype="OptionNbboQuote",
        group="okey.tk",
        measure="bidsize:sum",
        where="okey.tk:eq:AAPL | okey.tk:eq:SPY",
    )
    assert reply.ok, reply.result.get("detail")
    measures = reply.named("AggregateNumeric")
    assert len(measures) == 2
    assert [m.get("recCount", "rec_count") for m in measures] == [CHAIN, CHAIN]


def test_postmsgs_acks_each_record(rest: Rest) -> None:
    strike = 100 + 10 * SNAPSHOTS.index(rest.schema.snapshot) + ENCODINGS.index(rest.encoding)
    good = quote("CONF", strike).encode(rest.schema, rest.encoding)
    if rest.encoding == "json":
        import json  # noqa: PLC0415

        unknown = {"header": {"mTyp": "NoSuchMessage"}, "message": {"x": 1}}
        body = b"[" + good + b"," + json.dumps(unknown).encode() + b"]"
    elif rest.encoding == "jsonf":
        body = good + frame("J", 9, b'{"header":{"mTyp":"NoSuchMessage"},"message":{}}')
    else:
        body = good + frame("P", 9, b"\x08\x01")
    reply = rest.call("postmsgs", body=body)
    assert reply.ok, reply.result.get("detail")
    acks = reply.named("PostAck")
    assert len(acks) == 2
    assert same_enum(acks[0].get("result"), "OK")
    assert acks[0].get("msgType", "msg_type") == rest.schema.mnum("OptionNbboQuote")
    assert acks[0].get("pkey") == quote_pkey("CONF", strike)
    assert not same_enum(acks[1].get("result"), "OK") and acks[1].get("detail")
    stored = rest.call("getmsg", msgtype="OptionNbboQuote", pkey=quote_pkey("CONF", strike))
    assert [r.pkey for r in stored.records] == [quote_pkey("CONF", strike)]


def test_getapikey_answers_with_the_snapshots_key_message(rest: Rest) -> None:
    reply = rest.call("getapikey", secret="s3cret")
    assert reply.ok, reply.result.get("detail")
    name = "UserApiKey" if rest.schema.has("UserApiKey") else "MLinkApiKey"
    assert [r.name for r in reply.records] == [name]


@pytest.mark.parametrize("path", ["JSON", "Json", "JSONF", "Proto", "PROTO"])
def test_paths_are_case_insensitive(servers: Servers, schema: Schema, path: str) -> None:
    rest = Rest(servers.get(schema.snapshot, "main"), schema, path.lower())
    reply = rest.call("getcount", path=path, msgtype="OptionNbboQuote")
    assert reply.ok


def test_parameter_names_and_commands_are_case_insensitive(rest: Rest) -> None:
    reply = rest.call("GetCount", MsgType="OptionNbboQuote", W="okey.tk:eq:SPY")
    assert reply.ok and reply.named("MLinkCount")[0].get("count") == CHAIN


# ---- authentication --------------------------------------------------------------------------


def test_auth_by_key_and_password(auth_rest: Rest) -> None:
    assert auth_rest.call("getcount", apikey=f"{API_KEY}.{PASSWORD}", msgtype="MsgDesc").ok
    for bad in (API_KEY, f"{API_KEY}.wrong", "other.key", None):
        reply = auth_rest.call("getcount", apikey=bad, msgtype="MsgDesc")
        assert _auth_error(reply), bad
        assert not reply.records


def test_auth_by_key_alone_where_no_password_is_set(rest: Rest) -> None:
    assert rest.call("getcount", apikey=API_KEY, msgtype="MsgDesc").ok
    reply = rest.call("getcount", apikey="not-the-key", msgtype="MsgDesc")
    assert _auth_error(reply)


def test_auth_by_jwt_bearer(auth_rest: Rest) -> None:
    bearer = {"Authorization": f"Bearer {user_jwt()}"}
    assert auth_rest.call("getcount", apikey=None, headers=bearer, msgtype="MsgDesc").ok
    for token in (user_jwt(expires_in=-60), user_jwt(secret=JWT_SECRET + "x")):
        bad = {"Authorization": f"Bearer {token}"}
        reply = auth_rest.call("getcount", apikey=None, headers=bad, msgtype="MsgDesc")
        assert _auth_error(reply)


def test_getapikey_after_jwt_login_gives_a_working_key(auth_rest: Rest) -> None:
    bearer = {"Authorization": f"Bearer {user_jwt()}"}
    reply = auth_rest.call("getapikey", apikey=None, headers=bearer, secret=PASSWORD)
    assert reply.ok, reply.result.get("detail")
    (record,) = reply.records
    key = key_of(record)
    assert key
    assert auth_rest.call("getcount", apikey=f"{key}.{PASSWORD}", msgtype="MsgDesc").ok


def test_logon_gives_a_session_key(auth_rest26: Rest) -> None:
    """cmd=logon is a 2026 command."""
    auth_rest = auth_rest26
    reply = auth_rest.call("logon", apikey=None, user="conf-user", pw=PASSWORD, pin="123456")
    assert reply.ok, reply.result.get("detail")
    keys = [key for r in reply.records if (key := key_of(r))]
    assert keys, [r.name for r in reply.records]
    assert auth_rest.call("getcount", apikey=keys[0], msgtype="MsgDesc").ok
    refused = auth_rest.call("logon", apikey=None, user="conf-user", pw="wrong", pin="1")
    assert same_enum(refused.result.get("result"), "AuthError")
