"""What a WebSocket client sends the local server: frames in, requests or rejections out.

No I/O. :class:`RequestReader` is liberal where real clients differ harmlessly and strict
where silence would mislead:

- any header members are accepted (``sTim``, ``encT``, ...); ``sTim`` becomes the request's
  send time when it parses; framed JSON may carry mNum 0 (the type is read from the header);
- in JSON, a member whose value is ``""`` is taken as not given (``"signalID": ""``), and
  ``sesionID`` (sic, as SpiderRock's samples write it) means ``sessionID``;
- MLinkQuery's repeaters are also accepted under the spec's names (``MsgTypes``,
  ``TKeyFilters``, ``EKeyFilters``, ``OKeyFilters``) and the older singular ``MsgType``,
  whatever this schema calls them; a request member the schema does not define is refused,
  naming it, never silently ignored (it would widen a filtered query to everything);
- what cannot be read becomes a :class:`Rejected` naming the message type (or number), the
  field and the byte offset where known, and reading goes on with the next frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from attrs import frozen

from ..codec import Encoding
from ..codec.jsonc import json_decoder
from ..codec.protoc import proto_decoder
from ..codec.values import parse_datetime
from ..errors import DecodeError, FramingError, UnknownMessageError
from ..framing import FrameSplitter
from ..message import FieldSpec, Message
from ..registry import Registry

__all__ = ["REQUESTS", "Rejected", "Request", "RequestReader", "field_with_child"]

#: The request types whose members are checked strictly.
REQUESTS = frozenset({"MLinkStream", "MLinkQuery", "MLinkSubscribe", "MLinkSignalReady"})
_STRINGS = frozenset({"String", "Text1", "Text2"})
# The spec's names of MLinkQuery's repeaters, each found by the member its elements carry.
_QUERY_REPEATERS = {
    "MsgTypes": "msgType",
    "MsgType": "msgType",
    "TKeyFilters": "tickerKey",
    "EKeyFilters": "expiryKey",
    "OKeyFilters": "optionKey",
}
_TOP_ALIASES = {"sesionID": "sessionID"}


@frozen
class Request:
    """A decoded client message and the send time its header gave (ns since the epoch)."""

    message: Message
    sent_ns: int | None = None


@frozen
class Rejected:
    """A client message the server could not take.

    Attributes:
        result: the MLinkDataAck result naming the kind of failure (``FrameError``,
            ``JsonError``, ``ProtoError``, ``InvldMsgType``, ``OtherError``).
        mnum: the message number when known, else 0.
        name: the message type name when known.
        detail: what was wrong and where.
        sent_ns: the header's send time, when it parsed.
        request: a request refused for an unknown member, decoded without it, so the answer
            can name the query it refuses.
    """

    result: str
    mnum: int
    name: str | None
    detail: str
    sent_ns: int | None = None
    request: Message | None = None


def field_with_child(cls: type[Any], member: str) -> FieldSpec | None:
    """The repeater of ``cls`` whose elements have a field with wire name ``member``."""
    fields: tuple[FieldSpec, ...] = cls.SPEC.fields
    for spec in fields:
        children = spec.type.SPEC.fields if spec.sr_type == "Repeater" and spec.type else ()
        if any(child.wire_name == member for child in children):
            return spec
    return None


def _ns(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000


def _sent_ns(header: Mapping[str, Any]) -> int | None:
    text = header.get("sTim")
    if not isinstance(text, str):
        return None
    try:
        return _ns(parse_datetime(text))
    except ValueError:
        return None  # a header member we cannot read is tolerated, like an unknown one


class _Unknown(Exception):
    """A request member the schema does not define (a path like ``MLinkQuery.TKeyFilter``)."""


def _aliases(cls: type[Any]) -> dict[str, str]:
    out = {alias: real for alias, real in _TOP_ALIASES.items() if _has(cls, real)}
    if cls.MSG_NAME == "MLinkQuery":
        for alias, member in _QUERY_REPEATERS.items():
            spec = field_with_child(cls, member)
            if spec is not None and alias != spec.wire_name:
                out[alias] = spec.wire_name
    return out


def _has(cls: type[Any], wire: str) -> bool:
    return any(spec.wire_name == wire for spec in cls.SPEC.fields)


def _clean(
    cls: type[Any], body: Mapping[str, Any], path: str, *, strict: bool, top: bool = True
) -> dict[str, Any]:
    """``body`` with ``""`` members dropped and aliases resolved; an unknown member raises
    :class:`_Unknown` when ``strict``, else is dropped."""
    specs = {spec.wire_name: spec for spec in cls.SPEC.fields}
    aliases = _aliases(cls) if top else {}
    out: dict[str, Any] = {}
    for member, value in body.items():
        if value == "":
            continue  # real clients send "" for "not given"
        wire = aliases.get(member, member)
        spec = specs.get(wire)
        if spec is None:
            if strict:
                raise _Unknown(_unknown_detail(path, member, specs))
            continue
        if spec.sr_type == "Repeater" and spec.type is not None and isinstance(value, list):
            out[wire] = [
                _clean(spec.type, item, f"{path}.{wire}[{i}]", strict=strict, top=False)
                if isinstance(item, dict)
                else item
                for i, item in enumerate(value)
            ]
        else:
            out[wire] = value
    return out


def _unknown_detail(path: str, member: str, specs: Mapping[str, FieldSpec]) -> str:
    near = [wire for wire in specs if wire.lower() == member.lower()]
    hint = f" (did you mean {near[0]!r}?)" if near else f"; it has {', '.join(specs)}"
    return f"{path}: unknown member {member!r}{hint}"


class RequestReader:
    """Decodes the frames one WebSocket client sends (see the module docstring)."""

    def __init__(self, registry: Registry, encoding: Encoding) -> None:
        self.registry = registry
        self.encoding: Encoding = encoding
        self._splitter = FrameSplitter()

    def feed(self, data: bytes) -> list[Request | Rejected]:
        """Every request one WebSocket frame completes, and every failure, in order."""
        if self.encoding == "json":
            return self._document(data)
        try:
            frames = self._splitter.feed_tuples(data)
        except FramingError as exc:
            # A WebSocket frame is a boundary the byte stream lacks: start afresh with the next.
            self._splitter = FrameSplitter()
            return [Rejected("FrameError", 0, None, str(exc))]
        return [self._frame(kind, mnum, payload, offset) for kind, mnum, payload, offset in frames]

    def _document(self, data: bytes) -> list[Request | Rejected]:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            return [Rejected("JsonError", 0, None, f"invalid JSON at byte {exc.pos}: {exc.msg}")]
        items = parsed if isinstance(parsed, list) else [parsed]
        return [self._json(item, 0, 0) for item in items]

    def _older_query_forms(self, cls: type[Any], body: dict[str, Any]) -> dict[str, Any]:
        """MLinkQuery as SpiderRock's samples write it where this schema differs: the spec's
        ``{"msgName": ...}`` entries on a schema whose entries have only ``msgType`` (2023-05)
        become that type's number, and the older sample's top-level ``msgNameFilter`` names
        the type of entries that give none."""
        body = dict(body)
        name_filter = body.pop("msgNameFilter", None)
        spec = field_with_child(cls, "msgType")
        if spec is None or spec.type is None:
            return body
        wire = next((a for a in (spec.wire_name, *_QUERY_REPEATERS) if a in body), None)
        entries = body.get(wire) if wire is not None else None
        if wire is None or not isinstance(entries, list):
            if name_filter:
                body[spec.wire_name] = [{"msgName": name_filter}]
                return self._older_query_forms(cls, body)
            return body
        by_name = _has(spec.type, "msgName")
        fixed = []
        for entry in entries:
            item = dict(entry) if isinstance(entry, dict) else entry
            if isinstance(item, dict):
                if name_filter and "msgType" not in item and "msgName" not in item:
                    item["msgName"] = name_filter
                if not by_name and "msgName" in item:
                    named = item.pop("msgName")
                    number = self._number(named)
                    if "msgType" not in item:
                        item["msgType"] = number if number is not None else named
            fixed.append(item)
        body[wire] = fixed
        return body

    def _number(self, name: object) -> int | None:
        try:
            return self.registry.entry(str(name)).number
        except UnknownMessageError:
            return None

    def _frame(self, kind: str, mnum: int, payload: bytes, offset: int) -> Request | Rejected:
        if kind == "J":
            try:
                obj = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                return Rejected(
                    "JsonError", mnum, None, f"invalid JSON at byte {offset + 14 + exc.pos}"
                )
            return self._json(obj, mnum, offset)
        cls = self._lookup(None, mnum)
        if cls is None or cls.SPEC.origin == "dictionary":
            return Rejected("InvldMsgType", mnum, None, f"unknown message number {mnum}")
        try:
            return Request(proto_decoder(cls)(payload))
        except DecodeError as exc:
            return Rejected("ProtoError", mnum, cls.MSG_NAME, f"{exc} (frame at byte {offset})")

    def _lookup(self, name: str | None, mnum: int) -> type[Message] | None:
        try:
            if name:
                return self.registry.by_name(name)
            return self.registry.by_number(mnum) if mnum else None
        except UnknownMessageError:
            return None

    def _json(self, obj: object, mnum: int, offset: int) -> Request | Rejected:
        if not isinstance(obj, dict):
            return Rejected("JsonError", mnum, None, "expected a JSON object {header, message}")
        header = obj.get("header")
        header = header if isinstance(header, dict) else {}
        sent = _sent_ns(header)
        name = header.get("mTyp")
        name = name if isinstance(name, str) else None
        cls = self._lookup(name, mnum)
        if cls is None:
            what = repr(name) if name else f"number {mnum}" if mnum else "(no header.mTyp)"
            return Rejected("InvldMsgType", mnum, name, f"unknown message type {what}", sent)
        number = cls.MSG_NUM or 0
        body = obj.get("message", {})
        if not isinstance(body, dict):
            return Rejected(
                "JsonError", number, cls.MSG_NAME, "'message' must be a JSON object", sent
            )
        decode = json_decoder(cls)
        try:
            if cls.MSG_NAME not in REQUESTS:
                return Request(decode(body), sent)
            if cls.MSG_NAME == "MLinkQuery":
                body = self._older_query_forms(cls, body)
            try:
                return Request(decode(_clean(cls, body, cls.MSG_NAME, strict=True)), sent)
            except _Unknown as exc:
                # Decoded without the unknown members only to answer in kind (its queryID).
                lenient = decode(_clean(cls, body, cls.MSG_NAME, strict=False))
                return Rejected("OtherError", number, cls.MSG_NAME, str(exc), sent, lenient)
        except DecodeError as exc:
            detail = f"{exc} (frame at byte {offset})" if self.encoding == "jsonf" else str(exc)
            return Rejected("JsonError", number, cls.MSG_NAME, detail, sent)
