"""``srmlink demo``: a short typed session against a local MLink server, no account needed.

Starts the local server with demo data on a free loopback port (unless ``--host`` names a
running one), then runs what a first-time user would: one REST query with a typed where
clause, and a few seconds of a live WebSocket stream, printing typed records.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from .message import Message
from .registry import Registry
from .rest import MLinkClient
from .stream import CheckPoint, MLinkStream, Record

__all__ = ["run_demo"]

_DEMO_KEY = "srmlink-demo"


@contextmanager
def _local_server(registry: Registry) -> Iterator[str]:
    """A LocalServer with demo data on its own event loop thread; yields ``host:port``."""
    from .server import LocalServer  # noqa: PLC0415 - the optional server extra

    server = LocalServer(registry, api_key=_DEMO_KEY, tick=0.1, heartbeat=2.0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="srmlink-demo-server", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    try:
        yield f"{server.host}:{server.port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _num(value: object) -> str:
    # protobuf carries Float fields as float32: print what the schema's precision holds.
    return f"{value:.7g}" if isinstance(value, float) else str(value)


def _quote_line(message: Message) -> str:
    pkey = getattr(message, "pkey", None)
    bid, ask = _num(getattr(message, "bid_price", None)), _num(getattr(message, "ask_price", None))
    sizes = f"{getattr(message, 'bid_size', None)} x {getattr(message, 'ask_size', None)}"
    return f"  {pkey!s:<32} bid {bid:>7}  ask {ask:>7}  size {sizes}"


def run_demo(
    *,
    host: str | None = None,
    api_key: str | None = None,
    seconds: float = 3.0,
    out: Callable[[str], None] = print,
) -> int:
    """Run the demo session; returns the number of live updates received."""
    from .messages import OptionNbboQuote, registry  # noqa: PLC0415 - generated on demand

    with _local_server(registry) if host is None else nullcontext(host) as address:
        key = api_key or _DEMO_KEY
        out(f"MLink server at {address}")
        where = (OptionNbboQuote.fields.okey.tk == "AAPL") & (OptionNbboQuote.fields.bid_size >= 20)
        out(f"REST getmsgs OptionNbboQuote where={where} (order bidPrice DESC, limit 5):")
        with MLinkClient(key, host=address, scheme="http", encoding="proto") as client:
            result = client.getmsgs(
                OptionNbboQuote, where=where, order=OptionNbboQuote.fields.bid_price.desc(), limit=5
            )
        for message in result.messages:
            if isinstance(message, Message):
                out(_quote_line(message))
        summary = result.query_result
        out(
            f"  {len(result.messages)} records; QueryResult {getattr(summary, 'result', None)}, "
            f"{_num(getattr(summary, 'query_elapsed', None))} s on the server"
        )

        out(f"WebSocket stream of SPY option quotes for {seconds:g} s (paced by SignalReady):")
        updates = 0
        with MLinkStream(key, host=address, scheme="ws", encoding="proto", cache=True) as stream:
            stream.subscribe(OptionNbboQuote, where=OptionNbboQuote.fields.okey.tk == "SPY")
            live = False
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    event = stream.next_event(timeout=max(deadline - time.monotonic(), 0.01))
                except TimeoutError:
                    break
                if isinstance(event, CheckPoint) and event.state == "Complete":
                    live = True
                    out(f"  snapshot complete: {len(stream.cache or ())} SPY options cached")
                elif live and isinstance(event, Record) and isinstance(event.message, Message):
                    updates += 1
                    if updates <= 10:
                        out(_quote_line(event.message))
        out(f"  {updates} live updates received")
    return updates
