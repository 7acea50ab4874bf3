"""A known API key, used for real against the local server with every logger at DEBUG, must
appear in no log record, repr or exception text (REST and WebSocket, success and failure)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from srmlink import AsyncMLinkClient
from srmlink.errors import SRMLinkError
from srmlink.messages import OptionNbboQuote
from srmlink.stream import AsyncMLinkStream, CheckPoint
from srmlink.testing import start_server

KEY = "K3Y-s3cr3t-2b9f7c"
PASSWORD = "pw-0ff1ce-77"
WRONG = "WR0NG-k3y-5e1a"
SECRETS = (KEY, PASSWORD, WRONG)


def test_the_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    # The server knows the key with its password: MLink refuses a password the key has not.
    server = start_server(api_key=f"{KEY}.{PASSWORD}", extra=["--tick", "0.05"])
    texts: list[str] = []

    async def session() -> None:
        async with AsyncMLinkClient(f"{KEY}.{PASSWORD}", host=server.host, scheme="http") as client:
            texts.append(repr(client))
            await client.getmsgs(OptionNbboQuote, where="okey.tk:eq:AAPL", limit=3)
            await client.getcount(OptionNbboQuote)
        stream = AsyncMLinkStream(
            f"{KEY}.{PASSWORD}", host=server.host, scheme="ws", encoding="jsonf"
        )
        texts.append(repr(stream))
        texts.append(repr(stream.protocol.credentials))
        async with stream:
            await stream.subscribe(OptionNbboQuote, where="okey.tk:eq:SPY")
            async for event in stream:
                texts.append(repr(event))
                if isinstance(event, CheckPoint) and event.signal_id:
                    break
        for bad in (
            AsyncMLinkClient(WRONG, host=server.host, scheme="http"),
            AsyncMLinkClient(KEY, host="127.0.0.1:9", scheme="http", retries=0),
        ):
            async with bad:
                with pytest.raises(SRMLinkError) as caught:
                    await bad.getmsgtypes()
                texts.extend((str(caught.value), repr(caught.value)))
        wrong_stream = AsyncMLinkStream(WRONG, host=server.host, scheme="ws", reconnect_attempts=0)
        with pytest.raises(SRMLinkError) as failed:
            await wrong_stream.connect()
        await wrong_stream.close()
        texts.extend((str(failed.value), repr(failed.value)))

    try:
        with caplog.at_level(logging.DEBUG):
            for name in ("httpx", "httpcore", "websockets", "websockets.client", "srmlink"):
                caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
            asyncio.run(session())
    finally:
        server.stop()

    logged = [record.getMessage() for record in caplog.records]
    assert any("Authorization" in line or "apikey=" in line for line in logged), (
        "the transports logged no request at DEBUG: this test would prove nothing"
    )
    assert len(texts) > 10
    for secret in SECRETS:
        for text in (*logged, *texts):
            assert secret not in text, f"secret leaked in: {text[:200]}"
