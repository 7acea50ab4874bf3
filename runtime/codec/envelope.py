"""The JSON envelope around each message, and the stand-in for message types we don't know."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

from ..errors import DecodeError
from ..message import Message
from .values import parse_datetime

__all__ = ["Envelope", "Header", "UnknownMessage", "parse_header"]


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


@frozen
class Envelope:
    """One decoded message with its header and the byte offset of its frame."""

    header: Header
    message: Message | UnknownMessage
    offset: int


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
