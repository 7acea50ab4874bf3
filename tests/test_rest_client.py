"""The REST clients against an in-process httpx MockTransport (no network)."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from srmlink import AsyncMLinkClient, ExpiryKey, MLinkClient, OptionKey, TickerKey
from srmlink.codec import UnknownMessage, decode, encode
from srmlink.errors import (
    AuthError,
    DecodeError,
    InvalidHostError,
    MLinkHTTPError,
    MLinkQueryError,
    MLinkTimeoutError,
    MLinkTransportError,
    SchemaDriftWarning,
    UnknownMessageError,
)
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, QueryResult, registry
from srmlink.messages.enums import QResult

KEY, PASSWORD = "SECRET-KEY-1234", "hunter22"
OKEY = OptionKey.parse("AAPL-NMS-EQT-2026-07-17-200-C")


def _quote(price: float) -> OptionNbboQuote:
    return OptionNbboQuote(pkey=OptionNbboQuotePKey(okey=OKEY), bid_price=price, bid_size=3)


def _result(result: QResult = QResult.OK, detail: str | None = None) -> QueryResult:
    return QueryResult(result=result, num_messages_sent=1, detail=detail)


class Recorder:
    """A mock MLink: records requests, answers from a queue of (status, messages) or errors."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def params(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(str(self.requests[index].url)).query))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, messages = answer  # type: ignore[misc]
        if isinstance(messages, bytes):
            return httpx.Response(status, content=messages)
        encoding = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(status, content=encode(messages, encoding))


def _client(recorder: Recorder, **kwargs: object) -> MLinkClient:
    return MLinkClient(
        KEY, password=PASSWORD, transport=httpx.MockTransport(recorder), backoff=0.0, **kwargs
    )  # type: ignore[arg-type]


def test_getmsgs_builds_the_documented_query_and_types_the_result() -> None:
    recorder = Recorder((200, [_quote(1.5), _quote(2.5), _result()]))
    with _client(recorder, host="mlink.test") as client:
        result = client.getmsgs(
            OptionNbboQuote,
            tkey="AAPL-NMS-EQT",
            where="bidsize:ge:1",
            view="okey|bidprice",
            order="bidprice:DESC",
            limit=10,
        )
    request = recorder.requests[0]
    assert request.url.host == "mlink.test" and request.url.path == "/rest/proto"
    assert recorder.params() == {
        "cmd": "getmsgs",
        "msgtype": "OptionNbboQuote",
        "tkey": "AAPL-NMS-EQT",
        "where": "bidsize:ge:1",
        "view": "okey|bidprice",
        "order": "bidprice:DESC",
        "limit": "10",
        "apikey": f"{KEY}.{PASSWORD}",
    }
    assert [m.bid_price for m in result.messages] == [1.5, 2.5]
    assert isinstance(result.query_result, QueryResult)


def test_records_of_other_types_and_unknown_ones_are_kept_apart() -> None:
    desc = registry.by_name("MsgDesc")(name="OptionNbboQuote")
    known = encode([_quote(1.5), desc, _quote(2.5), _result()], "json")
    unknown = b'{"header":{"mTyp":"NoSuchThing"},"message":{"bidPrice":1.0}}'
    body = known.replace(b"[", b"[" + unknown + b",", 1)
    for msgtype in (OptionNbboQuote, "optionNbboQuote"):
        result = _client(Recorder((200, body)), encoding="json").getmsgs(msgtype)
        assert result.messages == (_quote(1.5), _quote(2.5))
        assert result.others == (desc,)
        assert [type(u) for u in result.unknown] == [UnknownMessage]
        assert result.unknown[0].name == "NoSuchThing"
        assert result.first() == _quote(1.5)
    # A name the registry does not know: every known record is in messages, as Message.
    anything = _client(Recorder((200, body)), encoding="json").getmsgs("NoSuchThing")
    assert anything.messages == (_quote(1.5), desc, _quote(2.5)) and not anything.others


def test_count_and_key_sets_are_typed_values() -> None:
    count = registry.by_name("MLinkCount")(count=42)
    assert _client(Recorder((200, [count, _result()]))).getcount(OptionNbboQuote).count == 42
    tickers = [TickerKey.parse("AAPL-NMS-EQT"), TickerKey.parse("SPY-NMS-EQT")]
    records = [registry.by_name("MsgTickerKey")(ticker_key=t) for t in tickers]
    keys = _client(Recorder((200, [*records, _result()]))).gettkeyset(OptionNbboQuote)
    assert keys.keys == tuple(tickers) and len(keys.messages) == 2
    expiry = ExpiryKey.parse("AAPL-NMS-EQT-2026-07-17")
    records = [registry.by_name("MsgExpiryKey")(expiry_key=expiry)]
    answer = _client(Recorder((200, [*records, _result()]))).getekeyset(OptionNbboQuote, "AAPL")
    assert answer.keys == (expiry,)
    records = [registry.by_name("MsgOptionKey")(option_key=OKEY)]
    answer = _client(Recorder((200, [*records, _result()]))).getokeyset(OptionNbboQuote, expiry)
    assert answer.keys == (OKEY,)


def test_a_count_reply_without_a_count_is_a_decode_error() -> None:
    client = _client(Recorder((200, [_quote(1.0), _result()])))
    with pytest.raises(DecodeError, match="count"):
        client.getcount(OptionNbboQuote)


@pytest.mark.parametrize(
    ("host", "scheme", "url"),
    [
        ("127.0.0.1:8642", "http", "http://127.0.0.1:8642/rest/jsonf"),
        ("http://127.0.0.1:8642", None, "http://127.0.0.1:8642/rest/jsonf"),
        ("http://127.0.0.1:8642/", "https", "http://127.0.0.1:8642/rest/jsonf"),
        ("ws://localhost:8642", None, "http://localhost:8642/rest/jsonf"),
        ("wss://mlink.example.com", None, "https://mlink.example.com/rest/jsonf"),
        ("HTTPS://[::1]:8443", None, "https://[::1]:8443/rest/jsonf"),
        ("mlink.example.com", None, "https://mlink.example.com/rest/jsonf"),
    ],
)
def test_host_takes_host_port_or_a_url(host: str, scheme: str | None, url: str) -> None:
    recorder = Recorder((200, [_result()]))
    _client(recorder, host=host, scheme=scheme).getmsgtypes()
    assert str(recorder.requests[0].url).split("?")[0] == url


@pytest.mark.parametrize(
    "host",
    [
        "ftp://127.0.0.1",
        "http://127.0.0.1:8642/rest/json",
        "http://user:pw@127.0.0.1",
        "127.0.0.1:99999",
        "127.0.0.1:port",
        "mlink example",
        "http://",
        "",
    ],
)
def test_anything_else_is_an_invalid_host(host: str) -> None:
    with pytest.raises(InvalidHostError, match="HOST\\[:PORT\\]") as info:
        MLinkClient(KEY, host=host)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidHostError):
        AsyncMLinkClient(KEY, host=host)


def test_srmlink_host_and_api_key_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SRMLINK_HOST", "http://127.0.0.1:9999")
    monkeypatch.setenv("SRMLINK_API_KEY", f"{KEY}.{PASSWORD}")
    recorder = Recorder((200, [_result()]))
    MLinkClient(transport=httpx.MockTransport(recorder)).getmsgtypes()
    assert str(recorder.requests[0].url).startswith("http://127.0.0.1:9999/rest/")
    assert recorder.params()["apikey"] == f"{KEY}.{PASSWORD}"
    monkeypatch.setenv("SRMLINK_HOST", "not a host")
    with pytest.raises(InvalidHostError, match="not a host"):
        MLinkClient()


@pytest.mark.parametrize("encoding", ["json", "jsonf", "proto"])
def test_every_encoding(encoding: str) -> None:
    recorder = Recorder((200, [_quote(1.5), _result()]))
    client = _client(recorder, encoding=encoding)
    (quote,) = client.getmsg("OptionNbboQuote", OKEY).messages
    assert recorder.requests[0].url.path == f"/rest/{encoding}"
    assert recorder.params()["pkey"] == str(OKEY)
    assert quote == _quote(1.5)


def test_limit_and_arguments_are_checked_before_sending() -> None:
    client = _client(Recorder((200, [_result()])))
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="limit must be a positive integer"):
            client.getmsgs(OptionNbboQuote, limit=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="msgtype"):
        client.getschema(" ")


def test_query_errors_are_typed() -> None:
    client = _client(Recorder((200, [_result(QResult.ERROR, "no such msgtype")])))
    with pytest.raises(MLinkQueryError) as info:
        client.getcount(OptionNbboQuote)
    assert (info.value.result, info.value.detail) == ("Error", "no such msgtype")
    auth = _client(Recorder((200, [_result(QResult.AUTH_ERROR, f"bad key {KEY}")])))
    with pytest.raises(AuthError) as denied:
        auth.getmsgtypes()
    assert KEY not in str(denied.value)


def test_read_only_commands_retry_then_raise() -> None:
    recorder = Recorder((503, []), (503, []), (200, [_result()]))
    assert _client(recorder).getmsgtypes().query_result is not None
    assert len(recorder.requests) == 3
    failing = Recorder((500, []))
    with pytest.raises(MLinkHTTPError) as info:
        _client(failing).getmsgtypes()
    assert info.value.status == 500 and "apikey=***" in info.value.url
    broken = Recorder(httpx.ConnectError("refused"))
    with pytest.raises(MLinkTransportError):
        _client(broken, retries=1).getmsgtypes()
    assert len(broken.requests) == 2
    slow = Recorder(httpx.ReadTimeout("slow"))
    with pytest.raises(MLinkTimeoutError):
        _client(slow, retries=0).getmsgtypes()


def test_postmsgs_is_not_retried_and_sends_the_encoded_body() -> None:
    recorder = Recorder((503, []))
    with pytest.raises(MLinkHTTPError):
        _client(recorder).postmsgs([_quote(1.0)])
    assert len(recorder.requests) == 1
    body = recorder.requests[0].content
    assert recorder.requests[0].method == "POST"
    assert decode(body, "proto", registry=registry) == [_quote(1.0)]


def test_async_twin() -> None:
    recorder = Recorder((503, []), (200, [_quote(4.0), _result()]))

    async def run() -> list[object]:
        async with AsyncMLinkClient(
            KEY, transport=httpx.MockTransport(recorder), backoff=0.0, encoding="jsonf"
        ) as client:
            result = await client.getmsgs(OptionNbboQuote, okey=OKEY)
            return list(result.messages)

    assert asyncio.run(run()) == [_quote(4.0)]
    assert len(recorder.requests) == 2


def test_the_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder((200, [_quote(1.0), _result()]), (500, []), httpx.ConnectError(KEY))
    client = _client(recorder, retries=0)
    texts = [repr(client), str(client)]
    client.getmsgs(OptionNbboQuote)
    for call in (client.getmsgtypes, client.getmsgtypes):
        with pytest.raises(Exception) as info:
            call()
        texts += [str(info.value), repr(info.value)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("HTTP Request" in t for t in texts), "httpx logging was not captured"
    for text in texts:
        assert KEY not in text and PASSWORD not in text, text


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLXNlY3JldA"


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception behind it (``__cause__`` and ``__context__``)."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        item = pending.pop()
        if item is not None and all(item is not s for s in seen):
            seen.append(item)
            pending += [item.__cause__, item.__context__]
    return seen


def test_a_jwt_is_sent_as_a_bearer_header_and_never_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder((200, [_result()]), httpx.ConnectError(f"refused Bearer {JWT}"))
    client = MLinkClient(jwt=JWT, transport=httpx.MockTransport(recorder), retries=0)
    client.getmsgtypes()
    assert recorder.requests[0].headers["Authorization"] == f"Bearer {JWT}"
    assert "apikey" not in recorder.params()
    with pytest.raises(MLinkTransportError) as info:
        client.getmsgtypes()
    texts = [repr(client), str(client), *[repr(e) for e in _chain(info.value)]]
    texts += [record.getMessage() for record in caplog.records]
    assert "jwt=set" in repr(client)
    for text in texts:
        assert JWT not in text, text


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")], ids=type
)
def test_transport_errors_carry_no_chain_to_the_request_url(failure: httpx.HTTPError) -> None:
    # httpx errors hold the request, whose URL has the key in its query string.
    for make in (
        lambda r: _client(r, retries=0, jwt=JWT),
        lambda r: AsyncMLinkClient(
            KEY, password=PASSWORD, jwt=JWT, transport=httpx.MockTransport(r), retries=0
        ),
    ):
        client = make(Recorder(failure))

        def call(client: object = client) -> object:
            result = client.getmsgtypes()  # type: ignore[attr-defined]
            return asyncio.run(result) if asyncio.iscoroutine(result) else result

        with pytest.raises(MLinkTransportError) as info:
            call()
        chain = _chain(info.value)
        assert chain == [info.value], [repr(e) for e in chain]
        assert not isinstance(info.value.__context__, httpx.HTTPError)
        for text in (str(info.value), repr(info.value), repr(info.value.args)):
            assert KEY not in text and PASSWORD not in text and JWT not in text, text
        assert "apikey=***" in str(info.value)


def test_check_drift_warns_about_a_renumbered_type() -> None:
    entries = [e for e in registry.entries() if e.number is not None]
    desc = registry.by_name("MsgDesc")
    records = [
        desc(name=e.name, m_num=e.number + (1 if e.name == "OptionNbboQuote" else 0))
        for e in entries
    ]
    client = _client(Recorder((200, [*records, _result()])))
    with pytest.warns(SchemaDriftWarning, match="OptionNbboQuote"):
        items = client.check_drift()
    assert [(i.name, i.server, i.registry) for i in items] == [("OptionNbboQuote", "2786", "2785")]


def test_registry_lookup_takes_a_name_in_any_case_or_a_number() -> None:
    # The label form msgtype / msgName requests use (the local server resolves them so).
    assert registry.lookup("optionnbboquote") is OptionNbboQuote
    assert registry.lookup(" 2785 ") is OptionNbboQuote
    with pytest.raises(UnknownMessageError):
        registry.lookup("NoSuchMessage")
