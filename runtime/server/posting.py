"""postmsgs and replies, record by record: split a posted body into post attempts, check that
a record can travel in every encoding, and frame a reply whatever it holds.

MLink acknowledges each post attempt with its own PostAck, so one bad record must not reject
its neighbours: a body is split into items first (JSON array elements, frames) and each item
decoded on its own. Only a body that cannot even be split (invalid JSON, a corrupt frame
header) fails as a whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from attrs import frozen

from ..codec import Encoding, UnknownMessage, decode, encode_message
from ..codec.protoc import proto_encoder
from ..errors import DecodeError, EncodeError, FramingError, UnknownMessageError
from ..framing import HEADER_SIZE, encode_frame, split_frames
from ..message import Message
from ..registry import Registry

__all__ = [
    "UNENCODABLE",
    "Attempt",
    "encode_record",
    "join_reply",
    "posted_records",
    "unencodable",
]

#: What encoding a record can raise: EncodeError as promised, and (until every codec path
#: checks ranges itself) what orjson, protobuf and the framer raise for out-of-range values.
UNENCODABLE = (EncodeError, TypeError, ValueError, OverflowError)
_DETAIL_CHARS = 300


@frozen
class Attempt:
    """One post attempt: the decoded record, or why there is none (a PostAckResult name)."""

    mnum: int | None
    record: Message | None
    failure: str = "Ok"
    detail: str | None = None


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS] + "..."


def _number(registry: Registry, name: object) -> int | None:
    try:
        return registry.entry(str(name)).number if isinstance(name, str) else None
    except UnknownMessageError:
        return None


def _items(
    body: bytes, encoding: Encoding, registry: Registry
) -> Iterator[tuple[int | None, bytes]]:
    """(mNum if known, bytes of one item in ``encoding``) of every item of a body."""
    if encoding == "json":
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"invalid JSON: {exc}", offset=exc.pos) from None
        for item in parsed if isinstance(parsed, list) else [parsed]:
            head = item.get("header") if isinstance(item, dict) else None
            name = head.get("mTyp") if isinstance(head, dict) else None
            yield _number(registry, name), orjson.dumps(item)
        return
    for _kind, mnum, payload, offset in split_frames(body):
        yield mnum, body[offset : offset + HEADER_SIZE + len(payload)]


def posted_records(body: bytes, encoding: Encoding, registry: Registry) -> Iterator[Attempt]:
    """Every post attempt of a postmsgs body, in order.

    Raises:
        DecodeError, FramingError: the body cannot be split into items at all.
    """
    for mnum, data in _items(body, encoding, registry):
        try:
            decoded = decode(data, encoding, registry=registry)
        except (DecodeError, FramingError) as exc:
            yield Attempt(mnum, None, "ParseError", _clip(str(exc)))
            continue
        for item in decoded:
            if isinstance(item, UnknownMessage):
                what = item.name or f"mNum {item.mnum}"
                detail = f"unknown message type {what}" + (
                    "" if item.name is None else f" (no {encoding} form in this schema)"
                )
                yield Attempt(item.mnum or mnum, None, "InvldMsgType", detail)
            else:
                yield Attempt(item.MSG_NUM if item.MSG_NUM is not None else mnum, item)


def unencodable(record: Message) -> str | None:
    """Why ``record`` cannot be sent back in one of the encodings it has a form in (None:
    it can). A record that passes can never fail a later query or stream."""
    has_number = record.MSG_NUM is not None
    encodings: list[Encoding] = ["json"]
    if has_number:
        encodings.append("jsonf")
        if record.SPEC.origin != "dictionary":
            encodings.append("proto")
    for encoding in encodings:
        try:
            encode_message(record, encoding)
        except UNENCODABLE as exc:
            return _clip(f"{record.MSG_NAME} cannot be encoded as {encoding}: {exc}")
    return None


def encode_record(record: Message, encoding: Encoding) -> bytes:
    """One record of a reply. A framed JSON record whose type has no message number (a
    schema whose control messages lack one) goes with mNum 0, which decoders resolve from
    the JSON header; protobuf has no such fallback, so it raises as :func:`encode_message`."""
    if encoding == "jsonf" and record.MSG_NUM is None:
        return encode_frame("J", 0, encode_message(record, "json"))
    return encode_message(record, encoding)


def join_reply(parts: list[bytes], trailer: Message, encoding: Encoding) -> bytes:
    """A reply body: encoded records, then the trailer (a QueryResult). A protobuf trailer
    with no message number is framed with mNum 0 (its ``_meta`` names it)."""
    if encoding == "json":
        return b"[" + b",".join([*parts, encode_message(trailer, "json")]) + b"]"
    if encoding == "proto" and trailer.MSG_NUM is None:
        return b"".join(parts) + encode_frame("P", 0, proto_encoder(type(trailer))(trailer))
    return b"".join(parts) + encode_record(trailer, encoding)
