"""The relay's buffer (sans-I/O) and its Redis sink and reader against a real redis-server."""

from __future__ import annotations

import asyncio
import time
from datetime import date

import pytest

from srmlink import OptionKey
from srmlink.errors import DecodeError, QueryError
from srmlink.keys import CallPut
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, registry
from srmlink.records import make
from srmlink.relay import (
    AsyncRelayReader,
    RedisSink,
    RelayReader,
    SinkError,
    SinkResetError,
    lvc_key,
    stream_key,
)
from srmlink.relay.redis_sink import resume_key, safe_url, stats_key
from srmlink.relay.sink import Batch, Buffer, ResumePoint, entry_of
from srmlink.relay.supervisor import parse_stripes, split_stripes
from srmlink.relay.worker import WorkerConfig, _Relay
from srmlink.stream import CheckPoint
from srmlink.stripes import STRIPES

from .conftest import RedisServer, consume_in_group


def quote(ticker: str, strike: float, bid: float) -> OptionNbboQuote:
    okey = OptionKey("EQT", "NMS", ticker, date(2026, 12, 18), strike, CallPut.CALL)
    return OptionNbboQuote(pkey=OptionNbboQuotePKey(okey=okey), bid_price=bid)


def test_buffer_sheds_the_oldest_entries_counted_but_keeps_every_latest_value() -> None:
    buffer = Buffer(3)
    for i in range(5):
        buffer.add(entry_of(quote("AAPL", 100 + i, 1.0), "proto"))
    buffer.add(entry_of(quote("AAPL", 100, 2.0), "proto"))  # a newer value of the first key
    assert buffer.shed == buffer.shed_total == 3
    assert [e.pkey for e in buffer.entries] == [
        str(quote("AAPL", s, 0).pkey) for s in (103, 104, 100)
    ]
    assert len(buffer.latest) == 5  # one per key, whatever was shed from the stream
    batch = buffer.batch(2)
    assert len(batch.entries) == 2 and len(batch.latest) == 2 and batch.shed == 3
    buffer.done(batch)
    assert buffer.shed == 0 and buffer.shed_total == 3
    assert len(buffer.entries) == 1 and len(buffer.latest) == 3


def test_a_latest_value_replaced_while_publishing_is_kept() -> None:
    buffer = Buffer(10)
    buffer.add(entry_of(quote("AAPL", 100, 1.0), "proto"))
    batch = buffer.batch(10)
    newer = entry_of(quote("AAPL", 100, 2.0), "proto")
    buffer.add(newer)
    buffer.done(batch)
    assert list(buffer.latest.values()) == [newer]


def test_redis_urls_are_logged_without_their_password() -> None:
    assert safe_url("redis://user:s3cret@host:6379/2") == "redis://host:6379/2"
    assert "s3cret" not in repr(RedisSink("redis://:s3cret@127.0.0.1:1/0"))
    assert "s3cret" not in repr(RelayReader("redis://:s3cret@127.0.0.1:1/0"))


def publish_quotes(url: str, quotes: list[OptionNbboQuote], encoding: str = "proto") -> None:
    buffer = Buffer(len(quotes))
    for q in quotes:
        buffer.add(entry_of(q, encoding))  # type: ignore[arg-type]
    publish(url, buffer.batch(len(quotes)))


def publish(url: str, batch: Batch) -> None:
    async def go() -> None:
        sink = RedisSink(url, maxlen=1000)
        try:
            await sink.publish(batch)
        finally:
            await sink.close()

    asyncio.run(go())


@pytest.mark.parametrize("encoding", ["proto", "jsonf"])
def test_published_records_read_back_typed_from_the_lvc(
    redis_server: RedisServer, encoding: str
) -> None:
    buffer = Buffer(100)
    quotes = [quote("AAPL", 100 + i, 1.5 + i) for i in range(4)]
    for q in quotes:
        buffer.add(entry_of(q, encoding))  # type: ignore[arg-type]
    buffer.add(entry_of(quotes[0], encoding, deleted=True))  # type: ignore[arg-type]
    publish(redis_server.url, buffer.batch(100))
    with RelayReader(redis_server.url) as reader:
        lvc = reader.lvc(OptionNbboQuote)
    assert lvc == {str(q.pkey): q for q in quotes[1:]}
    raw = redis_server.client()
    assert raw.xlen(stream_key("OptionNbboQuote")) == 5
    assert raw.hlen(lvc_key("OptionNbboQuote")) == 3
    first = raw.xrange(stream_key("OptionNbboQuote"), count=1)[0][1]
    assert first[b"enc"] == encoding.encode() and first[b"name"] == b"OptionNbboQuote"
    raw.close()


def test_shed_entries_are_counted_in_redis(redis_server: RedisServer) -> None:
    buffer = Buffer(2)
    for i in range(5):
        buffer.add(entry_of(quote("QQQ", 100 + i, 1.0), "proto"))
    publish(redis_server.url, buffer.batch(100))
    raw = redis_server.client()
    assert raw.hget(stats_key("OptionNbboQuote"), "shed") == b"3"
    assert raw.xlen(stream_key("OptionNbboQuote")) == 2
    assert raw.hlen(lvc_key("OptionNbboQuote")) == 5
    raw.close()


def test_a_publish_to_a_stopped_redis_raises_sink_error(redis_server: RedisServer) -> None:
    redis_server.stop()
    buffer = Buffer(2)
    buffer.add(entry_of(quote("QQQ", 100, 1.0), "proto"))
    with pytest.raises(SinkError, match=r"publish to redis://127\.0\.0\.1"):
        publish(redis_server.url, buffer.batch(10))


def test_a_consumer_group_of_two_sees_every_entry_exactly_once(redis_server: RedisServer) -> None:
    publish_quotes(redis_server.url, [quote("SPY", 100 + i, float(i)) for i in range(300)])
    first, second = consume_in_group(redis_server.url, 2)
    ids = first + second
    assert len(ids) == len(set(ids)) == 300
    assert first and second  # the load was shared
    raw = redis_server.client()
    assert raw.xpending(stream_key("OptionNbboQuote"), "g")["pending"] == 0  # all acked
    raw.close()


def test_a_consumer_that_stopped_mid_read_gets_its_unacknowledged_entries_again(
    redis_server: RedisServer,
) -> None:
    publish_quotes(redis_server.url, [quote("SPY", 100 + i, float(i)) for i in range(5)])
    with RelayReader(redis_server.url) as reader:
        first = reader.stream(OptionNbboQuote, group="g", consumer="c", count=3, idle_timeout=0.2)
        handled = [next(first).id, next(first).id]
        first.close()  # stopped while handling the second entry of a read of three
        again = [
            e.id
            for e in reader.stream(
                OptionNbboQuote, group="g", consumer="c", count=3, idle_timeout=0.2
            )
        ]
    assert again[:2] == handled and len(again) == len(set(again)) == 5


def test_a_redis_password_is_not_in_a_publish_error(redis_server: RedisServer) -> None:
    redis_server.stop()
    buffer = Buffer(2)
    buffer.add(entry_of(quote("QQQ", 100, 1.0), "proto"))
    url = redis_server.url.replace("redis://", "redis://:pw-s3cret@")
    with pytest.raises(SinkError) as caught:
        publish(url, buffer.batch(10))
    assert "pw-s3cret" not in str(caught.value)


def test_stripes_are_dealt_round_robin_to_workers() -> None:
    assert split_stripes(STRIPES, 2) == [("A", "C", "E", "G", "M", "X"), ("B", "D", "F", "H", "S")]
    assert split_stripes(STRIPES, 11) == [(code,) for code in STRIPES]
    with pytest.raises(ValueError, match="between 1 and 11"):
        split_stripes(STRIPES, 12)


def test_the_async_reader_reads_the_same_lvc_and_stream(redis_server: RedisServer) -> None:
    quotes = [quote("SPY", 100 + i, float(i)) for i in range(25)]
    publish_quotes(redis_server.url, quotes, "jsonf")

    async def read() -> tuple[dict[str, OptionNbboQuote], list[OptionNbboQuote]]:
        async with AsyncRelayReader(redis_server.url) as reader:
            lvc = await reader.lvc(OptionNbboQuote)
            entries = reader.stream(
                OptionNbboQuote, group="g", consumer="a", count=10, idle_timeout=0.2
            )
            return lvc, [entry.message async for entry in entries]

    lvc, streamed = asyncio.run(read())
    assert lvc == {str(q.pkey): q for q in quotes} and streamed == quotes
    raw = redis_server.client()
    assert raw.xpending(stream_key("OptionNbboQuote"), "g")["pending"] == 0
    raw.close()


def test_a_frame_that_is_not_the_asked_type_is_a_decode_error_naming_the_key(
    redis_server: RedisServer,
) -> None:
    raw = redis_server.client()
    raw.hset(lvc_key("OptionNbboQuote"), "X-1", b"not a frame")
    raw.close()
    with RelayReader(redis_server.url) as reader, pytest.raises(DecodeError, match="X-1"):
        reader.lvc(OptionNbboQuote)


def test_stripe_lists_are_checked_for_unknown_and_overlapping_codes() -> None:
    assert parse_stripes("a1, A2,S") == ("A1", "A2", "S")
    with pytest.raises(QueryError, match="unknown stripe 'Q'"):
        parse_stripes("A,Q")
    with pytest.raises(ValueError, match="A1 overlap"):
        parse_stripes("A,A1")
    with pytest.raises(ValueError, match="twice"):
        parse_stripes("B,b")


def test_a_deleted_record_leaves_the_lvc_and_the_keys_a_worker_holds(
    redis_server: RedisServer,
) -> None:
    config = WorkerConfig("OptionNbboQuote", ("A",), redis_server.url)
    kept, gone, elsewhere = quote("AAPL", 100, 1.0), quote("AAPL", 101, 1.0), quote("MSFT", 1, 1)

    async def go() -> _Relay:
        relay = _Relay(RedisSink(redis_server.url), config, OptionNbboQuote)
        relay.take(kept)
        relay.take(gone)
        await relay.drain()
        relay.take(gone, deleted=True)
        await relay.drain()
        await relay.sink.close()
        return relay

    relay = asyncio.run(go())
    with RelayReader(redis_server.url) as reader:
        assert reader.lvc(OptionNbboQuote) == {str(kept.pkey): kept}
    assert relay.held == {str(kept.pkey)} and relay.published == 3
    frame = entry_of(gone, "proto").frame
    assert relay.stale(str(gone.pkey), frame)  # stripe A, not held: pruned at start
    assert not relay.stale(str(kept.pkey), frame)
    assert not relay.stale(str(elsewhere.pkey), entry_of(elsewhere, "proto").frame)  # E


def test_a_sink_notices_that_redis_lost_what_it_published(redis_server: RedisServer) -> None:
    async def go() -> None:
        sink = RedisSink(redis_server.url)
        try:
            await sink.publish(Batch((), (), 0))  # nothing published yet: nothing to lose
            await sink.publish(Buffer(1).batch(1))
            entry = entry_of(quote("SPY", 1, 1.0), "proto")
            await sink.publish(Batch((entry,), (entry,)))
            await sink.publish(Batch((), (), 0))
            redis_server.stop()
            redis_server.start()
            with pytest.raises(SinkResetError, match=r"lost the relayed data of OptionNbboQuote"):
                await sink.publish(Batch((), (), 0))
        finally:
            await sink.close()

    asyncio.run(go())


def test_a_batch_carries_the_highwater_only_when_it_takes_everything_buffered() -> None:
    buffer = Buffer(10)
    for i in range(3):
        buffer.add(entry_of(quote("AAPL", 100 + i, 1.0), "proto"))
    assert buffer.batch(2, highwater=7).highwater is None  # a key would be left behind
    whole = buffer.batch(3, highwater=7)
    assert whole.highwater == 7
    buffer.done(whole)
    assert buffer.batch(1, highwater=8) == Batch((), (), 0, 8)  # nothing left: an empty one


def test_the_highwater_is_written_with_its_batch_and_read_back_per_worker(
    redis_server: RedisServer,
) -> None:
    entry = entry_of(quote("SPY", 1, 1.0), "proto")

    async def go() -> None:
        mine, other = RedisSink(redis_server.url, marker="A,C"), RedisSink(redis_server.url)
        try:
            assert await mine.resume_point("OptionNbboQuote") is None
            await mine.publish(Batch((entry,), (entry,), 0, highwater=41))
            assert await mine.resume_point("OptionNbboQuote") == ResumePoint(41, 0)
            await mine.publish(Batch((entry,), (entry,)))  # no highwater: the stored one stays
            before = time.time_ns()
            assert await mine.prune("OptionNbboQuote", lambda pkey, frame: False) == 0
            point = await mine.resume_point("OptionNbboQuote")
            assert point is not None and point.highwater == 41 and point.image_ns >= before
            assert await other.resume_point("OptionNbboQuote") is None
            redis_server.stop(save=True)
            with pytest.raises(SinkError, match="resume"):
                await mine.resume_point("OptionNbboQuote")
        finally:
            await mine.close()
            await other.close()

    asyncio.run(go())
    redis_server.start()  # with what it saved: the highwater is a plain hash field
    raw = redis_server.client()
    assert raw.hget(resume_key("OptionNbboQuote"), "A,C") == b"41"
    raw.close()


def test_a_worker_s_highwater_is_the_lowest_of_its_connections_once_each_has_one() -> None:
    config = WorkerConfig("OptionNbboQuote", ("A", "B"), "redis://127.0.0.1:1/0")
    relay = _Relay(RedisSink(config.redis_url), config, OptionNbboQuote)
    relay.connections = 2

    def checkpoint(state: str, highwater: int | None, stripe: str) -> CheckPoint:
        message = make(registry, "MLinkStreamCheckPt", state=state)
        return CheckPoint(state, relay.query_id, None, highwater, None, message, stripe)

    relay.checkpoint(checkpoint("Begin", None, "A"))
    relay.checkpoint(checkpoint("Complete", 50, "A"))
    assert relay.highwater() is None and not relay.prune_due  # B has sent none yet
    relay.checkpoint(checkpoint("Complete", 40, "B"))
    assert relay.highwater() == 40 and relay.prune_due  # both images complete: prune
    relay.checkpoint(checkpoint("Active", 60, "B"))
    assert relay.highwater() == 50
