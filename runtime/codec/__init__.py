"""Encode and decode MLink messages: JSON, framed JSON and protobuf, with no I/O.

>>> messages = decode(body, "jsonf")             # REST body or WebSocket frame -> objects
>>> body = encode(messages, "proto")             # objects -> framed protobuf
>>> decoder = FrameDecoder("proto")              # a stream cut into arbitrary chunks
>>> for chunk in chunks: handle(decoder.feed(chunk))

Errors: a corrupt frame header, a bad length or truncated data raise
:class:`~srmlink.errors.FramingError` (with the byte offset); invalid JSON / protobuf or a field
of the wrong type raise :class:`~srmlink.errors.DecodeError` (with the message type and field).
A message type the registry does not know becomes an :class:`UnknownMessage` that keeps its raw
bytes, and decoding goes on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import MappingProxyType, ModuleType
from typing import Any, Literal

import orjson

from ..errors import DecodeError, EncodeError, UnknownMessageError
from ..framing import MAX_PAYLOAD, FrameSplitter, encode_frame, split_frames
from ..message import Message
from ..registry import Registry, default_registry
from ._compile import KEY_CACHES
from .envelope import Envelope, Header, MessageMeta, UnknownMessage, parse_header
from .jsonc import json_decoder, json_encoder
from .limits import oversize
from .values import format_datetime

__all__ = [
    "Encoding",
    "Envelope",
    "FrameDecoder",
    "Header",
    "MessageMeta",
    "UnknownMessage",
    "clear_key_caches",
    "decode",
    "decode_envelopes",
    "encode",
    "encode_message",
]

Encoding = Literal["json", "jsonf", "proto"]
_ENCODINGS = ("json", "jsonf", "proto")


def clear_key_caches() -> None:
    """Forget the memoised security keys (decoders reuse one key object per distinct key;
    a stream repeats keys constantly). For benchmarks and memory-bound processes."""
    for cache in KEY_CACHES:
        cache.clear()


def _check_encoding(encoding: str) -> None:
    if encoding not in _ENCODINGS:
        raise ValueError(f"encoding must be one of {_ENCODINGS}, not {encoding!r}")


class _Decoding:
    """Decoding state shared by the one-shot and incremental APIs.

    With ``envelopes`` each result is an :class:`Envelope` (typed header, offset, and with
    ``frames`` the frame's bytes); without, the bare message, skipping the header parsing
    that most callers never look at.
    """

    def __init__(
        self, encoding: str, registry: Registry | None, *, envelopes: bool, frames: bool = False
    ) -> None:
        _check_encoding(encoding)
        self.encoding = encoding
        self.envelopes = envelopes
        self.frames_kept = frames
        self.registry = registry if registry is not None else default_registry()
        self._by_name: dict[str, tuple[type[Message] | None, Callable[[Any], Any] | None]] = {}
        self._by_mnum: dict[int, tuple[type[Message] | None, Callable[[Any], Any] | None]] = {}
        self._headers: dict[str, Header] = {}  # per type, for envelopes whose header is mTyp

    def _class(self, name: str | None, mnum: int | None) -> type[Message] | None:
        try:
            if name is not None:
                return self.registry.by_name(name)
            if mnum is not None:
                return self.registry.by_number(mnum)
        except UnknownMessageError:
            return None
        return None

    def _json_target(self, name: str) -> tuple[type[Message] | None, Callable[[Any], Any] | None]:
        found = self._by_name.get(name)
        if found is None:
            cls = self._class(name, None)
            found = (cls, json_decoder(cls) if cls is not None else None)
            self._by_name[name] = found
        return found

    def _proto_target(self, mnum: int) -> tuple[type[Message] | None, Callable[[Any], Any] | None]:
        found = self._by_mnum.get(mnum)
        if found is None:
            cls = self._class(None, mnum)
            usable = cls is not None and cls.SPEC.origin != "dictionary"
            decoder = (
                _protoc().proto_decoder(cls, meta=self.envelopes)
                if usable and cls is not None
                else None
            )
            found = (cls, decoder)
            self._by_mnum[mnum] = found
        return found

    def json_item(
        self,
        obj: Any,
        raw: bytes | None,
        mnum: int | None,
        offset: int,
        frame: bytes | None = None,
    ) -> Any:
        """One JSON envelope (``raw``: its exact bytes when framed; ``frame``: its frame)."""
        if obj.__class__ is not dict:
            raise DecodeError("expected a JSON object {header, message}", offset=offset)
        head = obj.get("header")
        header: Header | None = None
        mtyp = head.get("mTyp") if head.__class__ is dict else None
        if self.envelopes or mtyp.__class__ is not str:
            header = parse_header(head, offset)  # raises for a malformed header
            mtyp = header.mtyp
        assert isinstance(mtyp, str)  # parse_header rejects anything else
        cls, decoder = self._by_name.get(mtyp) or self._json_target(mtyp)
        result: Message | UnknownMessage
        if cls is None or decoder is None:
            data = raw if raw is not None else orjson.dumps(obj)
            result = UnknownMessage(mtyp, mnum, self.encoding, data)
        else:
            body = obj.get("message")
            if body.__class__ is not dict:
                raise DecodeError(
                    "'message' must be a JSON object", message_type=cls.MSG_NAME, offset=offset
                )
            try:
                result = decoder(body)
            except DecodeError as exc:
                exc.offset = offset
                raise
        return Envelope(header, result, offset, frame=frame) if header is not None else result

    def frame(self, kind: str, mnum: int, payload: bytes, offset: int) -> Any:
        """One framed message."""
        # The header is fixed-width, so rebuilding it gives the bytes as received.
        raw = encode_frame(kind, mnum, payload) if self.frames_kept else None
        if kind == "J":
            try:
                obj = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise DecodeError(f"invalid JSON: {exc}", offset=offset + 14 + exc.pos) from None
            return self.json_item(obj, payload, mnum, offset, raw)
        cls, decoder = self._proto_target(mnum)
        result: Message | UnknownMessage
        meta = None
        if cls is None or decoder is None:
            name = cls.MSG_NAME if cls is not None else None
            result = UnknownMessage(name, mnum, self.encoding, payload)
        else:
            try:
                decoded = decoder(payload)
            except DecodeError as exc:
                exc.offset = offset
                raise
            if self.envelopes:
                result, meta = decoded
            else:
                result = decoded
        if self.envelopes:
            header = Header(mtyp=cls.MSG_NAME if cls is not None else None)
            return Envelope(header, result, offset, meta, raw)
        return result

    def document(self, data: bytes) -> list[Any]:
        """A plain JSON body: an array of envelopes, or one envelope (a WebSocket frame)."""
        parsed = _loads(data, 0)
        items = parsed if parsed.__class__ is list else [parsed]
        return [self.json_item(item, None, None, 0) for item in items]

    def body(self, data: bytes) -> list[Any]:
        """A complete body in this decoder's encoding."""
        if self.encoding == "json":
            return self.document(data)
        return self.frames(split_frames(data))

    def frames(self, frames: Iterable[tuple[str, int, bytes, int]]) -> list[Any]:
        """Every frame of ``frames`` decoded, in order; a DecodeError names its offset.

        The common frame (a known type, a well-formed envelope; with envelopes, a header of
        ``mTyp`` alone, shared by every envelope of its type) is decoded inline here, one
        Python call per record; anything else goes through :meth:`frame`, which checks
        everything and raises the precise error.
        """
        frame = self.frame
        envelopes, kept = self.envelopes, self.frames_kept
        out: list[Any] = []
        append = out.append
        loads, by_name, by_mnum, headers = orjson.loads, self._by_name, self._by_mnum, self._headers
        for kind, mnum, payload, at in frames:
            decoder: Callable[[Any], Any] | None = None
            name: Any = None
            arg: Any = payload
            if kind == "J":
                try:
                    obj = loads(payload)
                except orjson.JSONDecodeError:
                    obj = None  # frame() raises with the offset
                head = obj.get("header") if obj.__class__ is dict else None
                # An envelope's header inline only when it is mTyp alone (as servers send it).
                if head.__class__ is dict and not (envelopes and len(head) != 1):
                    name = head.get("mTyp")
                found = by_name.get(name) if name.__class__ is str else None
                arg = obj.get("message") if found is not None else None
                if arg.__class__ is dict:
                    decoder = found[1]  # type: ignore[index]
            else:
                found = by_mnum.get(mnum)
                if found is not None and found[0] is not None:
                    name, decoder = found[0].MSG_NAME, found[1]
            if decoder is None:
                append(frame(kind, mnum, payload, at))
                continue
            try:
                result = decoder(arg)
            except DecodeError as exc:
                exc.offset = at
                raise
            if not envelopes:
                append(result)
                continue
            header = headers.get(name)
            if header is None:  # shared by every envelope of the type: read-only extras
                header = headers[name] = Header(mtyp=name, extra=MappingProxyType({}))
            # The header is fixed-width: rebuilt, it gives the frame's bytes as received.
            raw = encode_frame(kind, mnum, payload) if kept else None
            if kind == "J":
                append(Envelope(header, result, at, frame=raw))
            else:
                append(Envelope(header, result[0], at, result[1], raw))
        return out


def _loads(data: bytes, offset: int) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}", offset=offset + exc.pos) from None


def decode_envelopes(
    data: bytes, encoding: Encoding, *, registry: Registry | None = None
) -> list[Envelope]:
    """Every message of a complete body with its envelope header, in order."""
    return _Decoding(encoding, registry, envelopes=True).body(data)


def decode(
    data: bytes, encoding: Encoding, *, registry: Registry | None = None
) -> list[Message | UnknownMessage]:
    """Every message of a complete body (REST response or WebSocket frame), in order."""
    return _Decoding(encoding, registry, envelopes=False).body(data)


class FrameDecoder:
    """Incremental decoding of a stream fed in arbitrary chunks.

    For ``jsonf`` and ``proto`` a message may be cut across chunks and a chunk may carry many.
    For ``json`` every chunk must be a complete document (one WebSocket frame).
    With ``frames`` each envelope of a framed encoding carries its frame's bytes
    (``Envelope.frame``: for relaying a record without encoding it again).
    After a :class:`~srmlink.errors.FramingError` the decoder stops (every later feed raises
    it again): the stream has lost its boundaries. A :class:`~srmlink.errors.DecodeError` in
    one message does not stop it: that frame is consumed and the next feed goes on. When
    messages before the bad one complete in the same feed, that feed returns them and the
    next feed raises the error.
    """

    def __init__(
        self, encoding: Encoding, *, registry: Registry | None = None, frames: bool = False
    ) -> None:
        self._messages = _Decoding(encoding, registry, envelopes=False)
        self._envelopes = _Decoding(
            encoding, self._messages.registry, envelopes=True, frames=frames
        )
        self._splitter = FrameSplitter()
        self._pending: deque[tuple[str, int, bytes, int]] = deque()

    def _feed(self, state: _Decoding, chunk: bytes) -> list[Any]:
        if state.encoding == "json":
            return state.document(chunk)
        pending = self._pending
        pending.extend(self._splitter.feed_tuples(chunk))
        try:
            out = state.frames(pending)
        except DecodeError:
            pass  # decoded again one by one below, to return the frames before the bad one
        else:
            pending.clear()
            return out
        out = []
        frame = state.frame
        while pending:
            # Popped before decoding: a frame that fails to decode is consumed by its raise.
            kind, mnum, payload, offset = pending.popleft()
            try:
                out.append(frame(kind, mnum, payload, offset))
            except DecodeError:
                if not out:
                    raise
                # Raising now would lose the messages decoded before it: return those, and
                # the bad frame, first in line again, raises on the next feed.
                pending.appendleft((kind, mnum, payload, offset))
                return out
        return out

    def feed(self, chunk: bytes) -> list[Message | UnknownMessage]:
        """Add ``chunk``; every message it completes, in order."""
        return self._feed(self._messages, chunk)

    def feed_envelopes(self, chunk: bytes) -> list[Envelope]:
        """Add ``chunk``; the envelopes of every message it completes."""
        return self._feed(self._envelopes, chunk)

    def close(self) -> None:
        """The stream ended: raises FramingError if it ended inside a frame."""
        self._splitter.close()


def _header(header: dict[str, Any] | None, stamp: datetime | None) -> dict[str, Any] | None:
    """The header members after ``mTyp``: ``sTim`` / ``encT`` from ``stamp``, then ``header``."""
    if stamp is None:
        return header
    text = format_datetime(stamp)
    return {"sTim": text, "encT": text, **(header or {})}


def _envelope_dict(message: Message, header: dict[str, Any] | None) -> dict[str, Any]:
    head = {"mTyp": message.MSG_NAME}
    if header:
        head.update(header)
    return {"header": head, "message": json_encoder(type(message))(message)}


def _dumps(value: Any, message: Message) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate, or a header member
        raise EncodeError(str(exc), message_type=message.MSG_NAME) from None


def _json_record(message: Message, header: dict[str, Any] | None) -> bytes:
    """One JSON envelope; raises EncodeError if no frame could hold it."""
    envelope = _envelope_dict(message, header)
    data = _dumps(envelope, message)
    if len(data) > MAX_PAYLOAD:
        raise oversize(message.MSG_NAME, len(data), envelope["message"])
    return data


def _json_array(items: Sequence[Message], header: dict[str, Any] | None) -> bytes:
    envelopes = [_envelope_dict(m, header) for m in items]
    try:
        data = orjson.dumps(envelopes)
    except orjson.JSONEncodeError:
        data = b""  # one of them cannot travel: the loop below names it
    if len(data) > MAX_PAYLOAD or not data:
        # Every record must fit a frame, whatever encoding carries it later.
        for m in items:
            _json_record(m, header)
    return data


def encode(
    messages: Iterable[Message],
    encoding: Encoding,
    *,
    header: dict[str, Any] | None = None,
    stamp: datetime | None = None,
) -> bytes:
    """Serialise ``messages`` for MLink: a JSON array, or concatenated frames.

    Framed headers carry each class's ``MSG_NUM`` and the exact payload length. ``header``
    adds members to each JSON envelope header. ``stamp`` writes ``sTim`` and ``encT`` into
    each JSON header as SpiderRock's clients do (``2026-07-12 14:03:07.123456``, UTC;
    protobuf payloads carry no header, so it does not change them).

    Raises:
        EncodeError: (and nothing else) a message has no number (framed encodings), cannot
            travel as protobuf, has a value of the wrong type or outside its field's wire range,
            or is too large for one frame; it names the message type and field.
    """
    _check_encoding(encoding)
    items: Sequence[Message] = list(messages)
    header = _header(header, stamp)
    if encoding == "json":
        return _json_array(items, header)
    out = bytearray()
    proto_encoder = _protoc().proto_encoder if encoding == "proto" else None
    for m in items:
        mnum = m.MSG_NUM
        if mnum is None:
            raise EncodeError(f"{m.MSG_NAME} has no message number: framed encodings need one")
        if proto_encoder is None:
            out += encode_frame("J", mnum, _json_record(m, header))
        else:
            out += encode_frame("P", mnum, proto_encoder(type(m))(m))
    return bytes(out)


def _protoc() -> ModuleType:
    """The protobuf codec, imported at first use: google.protobuf is a large import that a
    JSON-only program (and ``from srmlink import MLinkClient``) does not need."""
    from . import protoc  # noqa: PLC0415

    return protoc


def encode_message(
    message: Message,
    encoding: Encoding,
    *,
    header: dict[str, Any] | None = None,
    stamp: datetime | None = None,
    deleted: bool = False,
) -> bytes:
    """One message on its own: a single JSON envelope object (one WebSocket frame of the
    ``json`` protocol) or one frame. Takes and raises as :func:`encode`; ``deleted`` frames
    a delete of the message's primary key (protobuf ``_meta.is_deleted``; MLink's JSON has
    no documented delete flag, so a JSON delete raises EncodeError)."""
    _check_encoding(encoding)
    if deleted:
        if encoding != "proto":
            raise EncodeError(
                f"{message.MSG_NAME}: a delete travels only as protobuf (_meta.is_deleted), "
                f"not {encoding}"
            )
        if message.MSG_NUM is None:
            raise EncodeError(
                f"{message.MSG_NAME} has no message number: framed encodings need one"
            )
        return encode_frame(
            "P", message.MSG_NUM, _protoc().proto_encoder(type(message), deleted=True)(message)
        )
    if encoding == "json":
        return _json_record(message, _header(header, stamp))
    return encode((message,), encoding, header=header, stamp=stamp)
