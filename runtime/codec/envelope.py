"""The JSON envelope around each message, and the stand-in for message types we don't know."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from attrs import field, frozen

from ..errors import DecodeError
from ..message import Message
from .values import parse_datetime

__all__ = ["Envelope", "Header", "MessageMeta", "UnknownMessage", "parse_header"]


@frozen
class Header:
    """An envelope header: ``mTyp`` and the server's fields (all optional).

    Attributes:
        mtyp: message type name (``mTyp``).
        s_tim: server send time (``sTim``), UTC.
        enc_t: encode time (``encT``), UTC.
        seq_n: sequence number (``seqN``).
        s_id: server / session id (``sID``), as sent.
        extra: every other header member, untouched (unknown keys are tolerated).
    """

    mtyp: str | None
    s_tim: datetime | None = None
    enc_t: datetime | None = None
    seq_n: int | None = None
    s_id: str | int | None = None
    extra: Mapping[str, Any] = field(factory=dict)


@frozen
class UnknownMessage:
    """A message of a type the registry does not know: kept, raw, so nothing is lost.

    ``raw`` is the exact payload for framed encodings; for a plain JSON array it is the
    element re-serialised (the array's own bytes are not split per element).
    """

    name: str | None
    mnum: int | None
    encoding: str
    raw: bytes


class MessageMeta(NamedTuple):
    """A protobuf payload's ``_meta`` (field 1, ``MessageMetadata`` of spiderrock_common.proto).

    A named tuple, not an attrs class: one is built for every record a stream receives, and
    a tuple is built in C (a frozen attrs class of eight fields cost half a record's decode).

    The first four fields are numbered alike in every schema snapshot (2023-05 calls the
    message ``MbusInfo``); the later ones as ``MessageMetadata`` numbers them (2026-07,
    2023-07: 2023-05's ``MbusInfo`` puts environment / realm enums there instead).

    Attributes:
        message_type: the message type's name (SpiderRock's clients dispatch on it).
        is_deleted: the record was deleted (its primary key no longer exists).
        time_sent: send time as the server stamps it (an integer, as sent).
        sender_id: the sender's id.
        from_bridge: relayed by a bridge.
        from_cache: sent from the server's cache (not a live update).
        encoded_time: encode time, as sent.
        server_rcvd_time: time the server received it, as sent.
    """

    message_type: str = ""
    is_deleted: bool = False
    time_sent: int = 0
    sender_id: int = 0
    from_bridge: bool = False
    from_cache: bool = False
    encoded_time: int = 0
    server_rcvd_time: int = 0


@frozen
class Envelope:
    """One decoded message with its header and the byte offset of its frame.

    ``meta`` is the protobuf ``_meta`` when the payload carried one (None otherwise, and
    always for JSON); ``deleted`` says the record is a delete of its primary key. ``frame``
    is the whole frame (header and payload) as received, when the decoder was asked to keep
    frames (``FrameDecoder(..., frames=True)``; never for plain JSON).
    """

    header: Header
    message: Message | UnknownMessage
    offset: int
    meta: MessageMeta | None = None
    frame: bytes | None = field(default=None, repr=False)

    @property
    def deleted(self) -> bool:
        """The record deletes its primary key (``_meta.is_deleted``)."""
        return self.meta is not None and self.meta.is_deleted


_TIMES = {"sTim": "s_tim", "encT": "enc_t"}


def parse_header(obj: object, offset: int) -> Header:
    """The typed header of an envelope; raises DecodeError naming a malformed member."""
    if obj is None:
        raise DecodeError("envelope without a 'header'", offset=offset)
    if obj.__class__ is not dict:
        raise DecodeError("'header' must be a JSON object", offset=offset)
    assert isinstance(obj, dict)
    mtyp = obj.get("mTyp")
    if not isinstance(mtyp, str):
        raise DecodeError(f"header.mTyp must be a string, got {mtyp!r:.40}", offset=offset)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "mTyp":
            continue
        if key in _TIMES and isinstance(value, str):
            try:
                values[_TIMES[key]] = parse_datetime(value)
            except ValueError:
                raise DecodeError(
                    f"invalid time {value!r}",
                    message_type=mtyp,
                    field=f"header.{key}",
                    offset=offset,
                ) from None
        elif key == "seqN" and isinstance(value, int) and not isinstance(value, bool):
            values["seq_n"] = value
        elif key == "sID" and isinstance(value, str | int) and not isinstance(value, bool):
            values["s_id"] = value
        else:
            extra[key] = value
    return Header(mtyp=mtyp, extra=extra, **values)
