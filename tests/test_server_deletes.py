"""Deletes on the local server: ``POST /srmlink/fault/delete`` removes records (MLink's API
has no delete request), REST stops returning them and protobuf streams receive each delete
as MLink reports one (the last value with ``_meta.is_deleted``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from srmlink.codec import FrameDecoder, encode_message
from srmlink.errors import EncodeError
from srmlink.messages import OptionNbboQuote, registry
from srmlink.server import LiveStore, RestHandler
from srmlink.server.demo import seed
from srmlink.server.session import StreamSession
from srmlink.server.store import Deleted, UnknownRecordError
from srmlink.stream import CheckPoint, MLinkStream, Record
from srmlink.testing import ServerProcess, start_server

from .test_server_ws_session import quote

QUOTE = "OptionNbboQuote"


@pytest.fixture(scope="module")
def faulty() -> Iterator[ServerProcess]:
    server = start_server(extra=["--tick", "0", "--heartbeat", "0.5", "--faults"])
    try:
        yield server
    finally:
        server.stop()


def store_keys(server: ServerProcess) -> set[str]:
    with server.client() as rest:
        messages = rest.getmsgs(OptionNbboQuote, limit=1000).messages
    return {str(m.pkey) for m in messages}


def subscribed(stream: MLinkStream) -> None:
    """Subscribe to every quote and read up to the image's Complete."""
    stream.subscribe(OptionNbboQuote)
    while not (isinstance(event := stream.next_event(timeout=10), CheckPoint)
               and event.state == "Complete"):  # fmt: skip
        pass


def deletes_read(stream: MLinkStream, count: int) -> list[str]:
    """The flat keys of the next ``count`` delete records (failing on any other record)."""
    found: list[str] = []
    while len(found) < count:
        event = stream.next_event(timeout=10)
        if isinstance(event, Record):
            assert event.deleted, event
            found.append(str(event.message.pkey))
    return found


def test_a_protobuf_stream_receives_deletes_and_rest_forgets_the_keys(
    faulty: ServerProcess,
) -> None:
    before = sorted(store_keys(faulty))
    doomed = before[:3]
    with faulty.stream(encoding="proto", cache=True) as stream:
        subscribed(stream)
        assert faulty.delete(QUOTE, doomed) == 3
        assert sorted(deletes_read(stream, 3)) == doomed
        assert stream.cache is not None
        assert set(stream.cache.table(OptionNbboQuote)) == set(before[3:])
    assert store_keys(faulty) == set(before[3:])


def test_a_delete_naming_an_unknown_key_deletes_nothing(faulty: ServerProcess) -> None:
    before = store_keys(faulty)
    known = min(before)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        faulty.delete(QUOTE, [known, "NOPE-NMS-EQT-2026-01-16-1-C"])
    assert caught.value.response.status_code == 404
    assert "NOPE-NMS-EQT-2026-01-16-1-C" in caught.value.response.text
    with pytest.raises(httpx.HTTPStatusError) as caught:
        faulty.delete("NoSuchQuote", [known])
    assert caught.value.response.status_code == 400 and "NoSuchQuote" in caught.value.response.text
    assert store_keys(faulty) == before


def test_a_json_stream_is_not_sent_deletes_it_cannot_express(faulty: ServerProcess) -> None:
    with faulty.client() as rest:
        first, second = rest.getmsgs(OptionNbboQuote, limit=2).messages
    with faulty.stream(encoding="jsonf") as stream:
        subscribed(stream)
        faulty.delete(QUOTE, [str(first.pkey)])
        with faulty.client() as rest:
            rest.postmsgs([second])
        # The update posted after the delete is the first record to arrive.
        while not isinstance(event := stream.next_event(timeout=10), Record):
            pass
        assert event.message == second and not event.deleted


def test_the_session_sends_a_delete_once_as_its_last_value() -> None:
    handler = RestHandler(LiveStore(), registry, None)
    seed(handler)
    session = StreamSession(handler, "proto", authorised=True)
    session.feed(
        encode_message(handler.make("MLinkStream", msgName=QUOTE, activeLatency=1), "proto")
    )
    key = next(key for key, _, _ in handler.store.items(QUOTE))
    last = handler.store.get(QUOTE, key)
    handler.store.delete(QUOTE, [key])
    session.clock = lambda: 1e18  # the 1 ms latency has passed
    batch = session.due()
    assert batch[0] == Deleted(last) and len(batch) == 2  # the delete, then Active
    assert handler.store.get(QUOTE, key) is None
    with pytest.raises(UnknownRecordError, match=key):
        handler.store.delete(QUOTE, [key])


def test_a_deleted_frame_carries_is_deleted_and_json_refuses_one() -> None:
    record = quote("AAPL", 1.5)
    frame = encode_message(record, "proto", deleted=True)
    (envelope,) = FrameDecoder("proto", registry=registry).feed_envelopes(frame)
    assert envelope.deleted and envelope.message == record
    (plain,) = FrameDecoder("proto", registry=registry).feed_envelopes(
        encode_message(record, "proto")
    )
    assert not plain.deleted
    for encoding in ("json", "jsonf"):
        with pytest.raises(EncodeError, match="protobuf"):
            encode_message(record, encoding, deleted=True)  # type: ignore[arg-type]
