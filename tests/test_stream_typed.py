"""Typed streams: subscriptions, queries and the cache give the generated classes, for mypy
(``reveal_type`` under ``mypy --strict`` on the installed bindings) and at run time (against
``srmlink serve``)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from srmlink.errors import InvalidHostError
from srmlink.message import Message
from srmlink.messages import OptionNbboQuote
from srmlink.stream import AsyncMLinkStream, MLinkStream, Record
from srmlink.testing import TEST_API_KEY as KEY, ServerProcess

from .conftest import MypyRun

APP = """
from srmlink.messages import OptionNbboQuote
from srmlink.stream import MLinkStream

with MLinkStream("key", host="ws://127.0.0.1:8642", cache=True) as stream:
    quotes = stream.subscribe(OptionNbboQuote, where="okey.tk:eq:SPY")
    for record in quotes:
        reveal_type(record.message)
        print(record.message.bid_price)
    named = stream.subscribe("OptionNbboQuote")
    for other in named:
        reveal_type(other.message)
    reveal_type(stream.query(OptionNbboQuote))
    assert stream.cache is not None
    reveal_type(stream.cache.of(OptionNbboQuote))
    reveal_type(stream.cache.get(OptionNbboQuote, "AAPL-NMS-EQT-2026-12-18-190-C"))
"""

WRONG = """
from srmlink.stream import MLinkStream

MLinkStream(bogus_kwarg=1)
"""


# The installed package, as a user's app sees it (the cache is shared with test_readme.py).
@pytest.mark.timeout(600)
def test_mypy_sees_the_generated_classes(tmp_path: Path, mypy_installed: MypyRun) -> None:
    (tmp_path / "app.py").write_text(APP)
    checked = mypy_installed(tmp_path, ["app.py"])
    revealed = re.findall(r'Revealed type is "([^"]+)"', checked.stdout)
    assert revealed == [
        "srmlink.messages.opt_mkt_data.OptionNbboQuote",
        "srmlink.message.Message",
        "list[srmlink.messages.opt_mkt_data.OptionNbboQuote]",
        "typing.Mapping[str, srmlink.messages.opt_mkt_data.OptionNbboQuote]",
        "srmlink.messages.opt_mkt_data.OptionNbboQuote | None",
    ], checked.stdout
    assert "error" not in checked.stdout.replace("note:", ""), checked.stdout

    (tmp_path / "wrong.py").write_text(WRONG)
    wrong = mypy_installed(tmp_path, ["wrong.py"])
    assert wrong.returncode == 1
    assert 'Unexpected keyword argument "bogus_kwarg"' in wrong.stdout, wrong.stdout


def test_a_subscription_yields_its_own_records_typed(stream_server: ServerProcess) -> None:
    with MLinkStream(KEY, host=f"ws://{stream_server.host}", cache=True) as stream:
        spy = stream.subscribe(OptionNbboQuote, where="okey.tk:eq:SPY")
        seen: set[str] = set()
        for record in spy:
            assert type(record.message) is OptionNbboQuote
            assert record.message.pkey is not None and record.message.pkey.okey is not None
            assert record.message.pkey.okey.ticker == "SPY"
            seen.add(str(record.message.pkey))
            if len(seen) == 20:
                break
        assert stream.cache is not None
        table = stream.cache.of(OptionNbboQuote)
        assert set(seen) <= set(table) and all(type(q) is OptionNbboQuote for q in table.values())
        quotes = stream.query(OptionNbboQuote, where="okey.tk:eq:QQQ")
        assert len(quotes) == 20 and {
            q.pkey.okey.ticker for q in quotes if q.pkey and q.pkey.okey
        } == {"QQQ"}
        named = stream.query("OptionNbboQuote", where="okey.tk:eq:AAPL")
        assert len(named) == 20 and all(isinstance(m, Message) for m in named)


def test_the_async_twin_is_typed_alike(stream_server: ServerProcess) -> None:
    async def run() -> tuple[int, str]:
        async with AsyncMLinkStream(KEY, host=f"http://{stream_server.host}/") as stream:
            quotes = await stream.query(OptionNbboQuote, where="okey.tk:eq:SPY")
            live = await stream.subscribe(OptionNbboQuote, where="okey.tk:eq:AAPL")
            async for record in live:
                return len(quotes), record.message.pkey.okey.ticker  # type: ignore[union-attr]
        return 0, ""

    assert asyncio.run(run()) == (20, "AAPL")


def test_record_is_generic_in_its_message() -> None:
    record: Record[OptionNbboQuote] = Record(OptionNbboQuote(bid_price=1.0))
    assert record.message.bid_price == 1.0


@pytest.mark.parametrize(
    ("host", "scheme", "expected"),
    [
        ("127.0.0.1:8642", None, "wss://127.0.0.1:8642/mlink/proto"),
        ("127.0.0.1:8642", "ws", "ws://127.0.0.1:8642/mlink/proto"),
        ("ws://127.0.0.1:8642", None, "ws://127.0.0.1:8642/mlink/proto"),
        ("http://127.0.0.1:8642/", None, "ws://127.0.0.1:8642/mlink/proto"),
        ("https://mlink.example.com", None, "wss://mlink.example.com/mlink/proto"),
        ("WSS://[::1]:9000", None, "wss://[::1]:9000/mlink/proto"),
        (None, None, "wss://mlink-live.nms.saturn.spiderrockconnect.com/mlink/proto"),
    ],
)
def test_host_forms(host: str | None, scheme: str | None, expected: str) -> None:
    # The one host parser of every transport (srmlink.endpoints.resolve_address).
    assert AsyncMLinkStream("k", host=host, scheme=scheme).url == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "scheme"),
    [
        ("ftp://127.0.0.1", None),
        ("http://127.0.0.1:8642/rest/json", None),
        ("ws://user:pw@127.0.0.1", None),
        ("127.0.0.1:8642/mlink", None),
        ("", None),
        ("127.0.0.1", "gopher"),
    ],
)
def test_bad_hosts_are_refused_clearly(host: str, scheme: str | None) -> None:
    with pytest.raises(InvalidHostError, match=r"HOST|scheme"):
        MLinkStream("k", host=host, scheme=scheme)  # type: ignore[arg-type]
