"""The REST clients against an in-process httpx MockTransport (no network)."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from srmlink import AsyncMLinkClient, MLinkClient, OptionKey
from srmlink.codec import decode, encode
from srmlink.errors import (
    AuthError,
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
    assert [m.bid_price for m in result.messages] == [1.5, 2.5]  # type: ignore[union-attr]
    assert isinstance(result.query_result, QueryResult)


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
    for bad in (0, 10_001, True, 2.5):
        with pytest.raises(ValueError, match="limit must be an integer from 1 to 10,000"):
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
