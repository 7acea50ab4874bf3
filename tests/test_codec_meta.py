"""Protobuf ``_meta`` (issue 15): srmlink writes it on every message, reads it into
``Envelope.meta``, and a deleted record reaches the stream's users as a typed delete (the
``Record`` event says ``deleted``; the last-value cache drops the key). Google's view of the
same bytes is in test_codec_independent.py."""

from __future__ import annotations

import re

import pytest

from srmlink import OptionKey
from srmlink.codec import Envelope, MessageMeta, decode_envelopes, encode
from srmlink.codec.protoc import _META_FIELDS, protobuf_class
from srmlink.framing import encode_frame
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey, registry
from srmlink.stream import LastValueCache, Record
from srmlink.stream.protocol import ClientProtocol

from .conftest import SNAPSHOTS, snapshot_dir

KEY = OptionKey.parse("AAPL-NMS-EQT-2026-12-18-190-C")


def quote(bid: float) -> OptionNbboQuote:
    return OptionNbboQuote(pkey=OptionNbboQuotePKey(okey=KEY), bid_price=bid)


def framed(message: OptionNbboQuote, **meta: object) -> bytes:
    """A protobuf frame of ``message`` with ``_meta`` set as the service would."""
    pb = protobuf_class(OptionNbboQuote)
    record = pb.FromString(encode([message], "proto")[14:])
    for name, value in meta.items():
        setattr(record._meta, name, value)
    assert OptionNbboQuote.MSG_NUM is not None
    return encode_frame("P", OptionNbboQuote.MSG_NUM, record.SerializeToString())


def test_every_protobuf_envelope_has_its_meta() -> None:
    (envelope,) = decode_envelopes(encode([quote(1.5)], "proto"), "proto", registry=registry)
    assert envelope.meta == MessageMeta(message_type="OptionNbboQuote")
    assert not envelope.deleted


@pytest.mark.parametrize("encoding", ["json", "jsonf"])
def test_json_carries_no_meta(encoding: str) -> None:
    (envelope,) = decode_envelopes(encode([quote(1.5)], encoding), encoding, registry=registry)  # type: ignore[arg-type]
    assert envelope.meta is None and not envelope.deleted


def test_meta_fields_are_read() -> None:
    body = framed(quote(1.5), is_deleted=True, sender_id=9, from_bridge=True, time_sent=-1)
    (envelope,) = decode_envelopes(body, "proto", registry=registry)
    assert isinstance(envelope, Envelope) and envelope.deleted
    assert envelope.meta == MessageMeta(
        message_type="OptionNbboQuote", is_deleted=True, sender_id=9, from_bridge=True, time_sent=-1
    )


def test_a_deleted_record_is_a_typed_delete_in_the_stream_and_the_cache() -> None:
    client = ClientProtocol(registry, "proto", None)
    cache = LastValueCache()
    events = client.receive(framed(quote(1.5)) + framed(quote(2.0), is_deleted=True))
    assert [(type(e), getattr(e, "deleted", None)) for e in events] == [
        (Record, False),
        (Record, True),
    ]
    cache.apply(events[0])
    assert cache.get(OptionNbboQuote, OptionNbboQuotePKey(okey=KEY)) == quote(1.5)
    cache.apply(events[1])
    assert cache.get(OptionNbboQuote, OptionNbboQuotePKey(okey=KEY)) is None
    assert len(cache) == 0
    cache.apply(events[1])  # deleting what is not cached changes nothing
    cache.apply(events[0])
    assert len(cache) == 1


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_meta_layout_matches_every_snapshot(snapshot: str) -> None:
    """srmlink declares MessageMetadata as spiderrock_common.proto does; 2023-05 names it
    MbusInfo and numbers only the first four fields alike."""
    text = (snapshot_dir(snapshot) / "proto_files" / "spiderrock_common.proto").read_text()
    found = re.search(r"message (MessageMetadata|MbusInfo) \{(.*?)\}", text, re.S)
    assert found is not None
    fields = re.findall(r"(\w+) (\w+) = (\d+);", found[2])
    declared = [(name, number) for _, name, number in fields]
    ours = [(name, str(n)) for n, (name, _) in enumerate(_META_FIELDS, start=1)]
    shared = 4 if found[1] == "MbusInfo" else len(declared)
    assert declared[:shared] == ours[:shared]
    assert len(declared) >= 4
    # Every message of the snapshot carries it as field 1, named _meta.
    protos = list((snapshot_dir(snapshot) / "proto_files").rglob("*.proto"))
    with_meta = [p for p in protos if f"{found[1]} _meta = 1;" in p.read_text()]
    assert len(with_meta) > len(protos) // 2
