"""``srmlink relay`` with deletes and resumes, end to end against ``srmlink serve --faults``
(which deletes records on request) and a real redis-server: deletes leave the last-value
cache and reach group consumers, in the frames the server sent; a worker killed with
SIGKILL resumes from the highwaterTs it stored instead of taking a full image; a periodic
full image prunes a key whose delete the worker never saw."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from srmlink.codec import decode_envelopes
from srmlink.messages import OptionNbboQuote
from srmlink.relay import RelayReader, WorkerConfig, resume_key, stream_key
from srmlink.stream import CheckPoint
from srmlink.stripes import in_stripe
from srmlink.testing import ServerProcess

from .conftest import RedisServer, quiet_server
from .test_relay_e2e import Relay, lvc_matches, running_worker, server_state, wait_until

QUOTE = "OptionNbboQuote"


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    """A server of its own per test: these tests delete records."""
    with quiet_server() as process:
        yield process


def server_highwater(server: ServerProcess) -> int:
    """The server's highwaterTs now, as a new stream's Complete checkpoint reports it."""
    with server.stream(encoding="proto") as stream:
        stream.subscribe(OptionNbboQuote)
        while True:
            event = stream.next_event(timeout=10)
            if isinstance(event, CheckPoint) and event.state == "Complete":
                assert event.highwater_ts is not None
                return event.highwater_ts


def json_state(server: ServerProcess) -> dict[str, OptionNbboQuote]:
    with server.client(encoding="json") as client:
        return {str(m.pkey): m for m in client.getmsgs(OptionNbboQuote, limit=1000).messages}


@pytest.mark.timeout(60)
def test_deletes_leave_the_lvc_and_reach_group_consumers(
    server: ServerProcess, redis_server: RedisServer
) -> None:
    config = WorkerConfig(QUOTE, ("A", "F", "G"), redis_server.url, host=server.host, scheme="ws")
    # The REST client is imported before the worker's thread starts: two threads importing
    # at once can trip CPython 3.11's ast.parse in pytest's assertion rewriting.
    before = set(server_state(server))
    with running_worker(config) as outcome, RelayReader(redis_server.url) as reader:
        wait_until(lvc_matches(reader, server), "the LVC to equal the server")
        doomed = sorted(before)[::12]  # 5 keys over the stripes
        assert server.delete(QUOTE, doomed) == 5
        wait_until(lambda: set(reader.lvc(OptionNbboQuote)) == before - set(doomed), "deletes")
        assert reader.lvc(OptionNbboQuote) == server_state(server)
        deletes = [
            entry.pkey
            for entry in reader.stream(
                OptionNbboQuote, group="g", consumer="c", block=0.1, idle_timeout=0.5
            )
            if entry.deleted
        ]
    assert not isinstance(outcome[0], BaseException), outcome
    assert sorted(deletes) == doomed
    # Each entry holds the frame as the server sent it: a delete's says so in its _meta.
    raw = redis_server.client()
    for _, fields in raw.xrange(stream_key(QUOTE)):
        (envelope,) = decode_envelopes(fields[b"frame"], "proto")
        assert envelope.deleted == (fields[b"del"] == b"1")
    raw.close()


@pytest.mark.timeout(90)
def test_a_killed_worker_resumes_from_its_stored_highwater(
    server: ServerProcess, redis_server: RedisServer, tmp_path: Path
) -> None:
    log = tmp_path / "relay.log"
    relay = Relay([QUOTE, "--redis", redis_server.url, "--workers", "2", "--host", server.url], log)
    raw = redis_server.client()
    try:
        pids = dict(relay.next_start() for _ in range(2))
        with RelayReader(redis_server.url) as reader:
            wait_until(lvc_matches(reader, server), "the LVC to equal the server")
            # Worker 0 has relayed everything up to the server's highwater and pruned.
            highwater = server_highwater(server)
            fields = ("A,C,E,G,M,X", "A,C,E,G,M,X:image")
            wait_until(
                lambda: (
                    raw.hmget(resume_key(QUOTE), fields)[0] == str(highwater).encode()
                    and raw.hget(resume_key(QUOTE), fields[1]) is not None
                ),
                "worker 0 to store the server's highwater",
            )
            length = raw.xlen(stream_key(QUOTE))
            assert length == 60  # the two images

            os.kill(pids[0], signal.SIGKILL)
            # While it is down (or starting): 3 quotes of its stripes change.
            quotes = [q for q in server_state(server).values() if in_stripe(q, "A")][:3]
            with server.client() as client:
                client.postmsgs([attrs.evolve(q, bid_price=(q.bid_price or 0) + 1) for q in quotes])
            assert relay.next_start()[0] == 0
            wait_until(lvc_matches(reader, server), "the LVC to catch up after the restart")
            # Only the 3 changes were relayed again, not worker 0's image of 40 quotes.
            assert raw.xlen(stream_key(QUOTE)) == length + 3
            wait_until(lambda: f"resuming from highwaterTs {highwater}" in log.read_text(), "log")
    finally:
        raw.close()
        assert relay.stop() == 0, log.read_text()


@pytest.mark.timeout(60)
def test_a_periodic_full_image_prunes_a_key_whose_delete_was_not_seen(
    server: ServerProcess, redis_server: RedisServer
) -> None:
    # A jsonf stream is not told of deletes (MLink's JSON has no delete flag): only a full
    # image shows the key is gone.
    config = WorkerConfig(
        QUOTE,
        ("A", "F", "G"),
        redis_server.url,
        host=server.host,
        scheme="ws",
        encoding="jsonf",
        full_image_every=0.5,
    )
    # JSON carries the exact prices, protobuf their float32 values: compare as JSON. (Read
    # before the worker's thread starts, for the reason in the test above.)
    gone = min(json_state(server))
    with running_worker(config) as outcome, RelayReader(redis_server.url) as reader:
        wait_until(
            lambda: reader.lvc(OptionNbboQuote) == json_state(server), "the LVC to equal the server"
        )
        server.delete(QUOTE, [gone])
        wait_until(lambda: gone not in reader.lvc(OptionNbboQuote), "a periodic image prune")
        assert reader.lvc(OptionNbboQuote) == json_state(server)
    assert not isinstance(outcome[0], BaseException), outcome
