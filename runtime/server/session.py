"""The server side of one MLink WebSocket connection, with no I/O.

:class:`StreamSession` takes decoded client messages and store changes and says what to send;
the aiohttp adapter (:mod:`.app`) only moves frames and keeps time. Both flows are served,
as the loaded schema defines them:

- 2026: MLinkStream -> MLinkStreamAck, MLinkStreamCheckPt Begin, cached records, Active,
  Complete, then live updates each batch closed by an Active checkpoint carrying
  ``highwaterTs`` (and the ``signalID`` it answers); ``unsubscribe`` -> Terminated. Several
  streams run at once, told apart by queryID, else queryLabel: only the same one again
  replaces a stream (Replaced). ``stripeFilter`` keeps one stripe (:mod:`srmlink.stripes`).
  MLinkSubscribe adds and removes primary keys (MLinkSubscribeAck, MLinkSubscribeCheckPt);
  its View shapes the records it sends, snapshot included; a key the store lacks is refused
  (UnkwnPKey).
- 2023: MLinkQuery FullQuery / IncrQuery (records, MLinkResponse Complete) and
  FullSubscription / IncrSubscription (then live updates, each batch closed by MLinkResponse
  Active), with its repeaters found by what their elements carry, whatever this schema calls
  them.
- Any other data message the client sends is validated, stored like a REST post and acked
  with MLinkDataAck; what cannot be read gets an MLinkDataAck error naming it (see
  :mod:`.incoming`), and the connection goes on.

Live objects replace whole: between two sends only the latest record per primary key is kept
(``pending``), so a slow consumer gets fewer, fresher updates, never a backlog. A record
deleted from the store (:meth:`LiveStore.delete`) is sent as a :class:`Deleted` (its last
value, which the adapter frames with ``_meta.is_deleted``). Updates go out
when the client signals ready (MLinkSignalReady), every ``activeLatency`` ms, or at once.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from ..codec import Encoding, encode_message
from ..codec.jsonc import json_decoder
from ..errors import DecodeError, EncodeError, QueryError, SRMLinkError, UnknownMessageError
from ..message import Message
from ..query import apply_view, check_view, compile_where, parse_view, parse_where
from ..records import wire_value
from .incoming import Rejected, RequestReader, field_with_child
from .rest import RestHandler, has_key
from .store import Deleted, record_key
from .subscriptions import WAIT_SIGNAL, Sub, stream_ident, striped

__all__ = ["StreamSession"]

log = logging.getLogger("srmlink.server")
_CONTROL_TOKENS = frozenset({"MLinkWs", "MLinkRest"})
# MLinkQuery's key filters: the member each repeater's elements carry, and the attribute
# that narrows a record's key to that kind (None: the whole option key).
_KEY_FILTERS = (("tickerKey", "ticker_key"), ("expiryKey", "expiry_key"), ("optionKey", None))


class StreamSession:
    """What one WebSocket connection has asked for, and what to send it next."""

    def __init__(
        self,
        handler: RestHandler,
        encoding: Encoding,
        *,
        authorised: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.handler = handler
        self.registry = handler.registry
        self.store = handler.store
        self.encoding: Encoding = encoding
        self.authorised = authorised
        self.clock = clock
        self.subs: list[Sub] = []
        self.closing = False
        self.reader = RequestReader(self.registry, encoding)
        self._views: dict[tuple[object, str], tuple[str, ...] | None] = {}
        self._heartbeats = itertools.count(1)
        self._stop_listening = self.store.listen(self._on_change)
        #: set by the adapter: called whenever something may have become due.
        self.wake: Callable[[], None] = lambda: None

    def close(self) -> None:
        """Stop following the store (the connection is gone)."""
        self._stop_listening()

    def _make(self, name: str, /, **values: Any) -> Message:
        return self.handler.make(name, **values)

    def _admin(self, state: str, detail: str | None = None) -> Message:
        return self._make("MLinkAdmin", state=state, detail=detail)

    def _data_ack(
        self, msg_type: int, result: str, detail: str | None = None, sent: int | None = None
    ) -> Message:
        return self._make("MLinkDataAck", msgType=msg_type, sendTs=sent, result=result,
                          detail=detail)  # fmt: skip

    # ---- connection ------------------------------------------------------------------------

    def opening(self) -> list[Message]:
        """The first message: MLinkAdmin LoggedOn, or WaitingLogon until MLinkLogon."""
        return [self._admin("LoggedOn" if self.authorised else "WaitingLogon")]

    def heartbeat(self) -> list[Message]:
        """An MLinkHeartbeat (none where the schema has no such message)."""
        if "MLinkHeartbeat" not in self.registry:
            return []
        return [
            self._make("MLinkHeartbeat", seqNum=next(self._heartbeats), timestamp=datetime.now(UTC))
        ]

    def feed(self, data: bytes) -> list[Message]:
        """What to send in answer to one WebSocket frame from the client."""
        out: list[Message] = []
        for item in self.reader.feed(data):
            if isinstance(item, Rejected):
                out.extend(self._rejected(item))
            else:
                out.extend(self.receive(item.message, item.sent_ns))
            if self.closing:
                break
        return out

    def receive(self, message: Message, sent_ns: int | None = None) -> list[Message]:
        """What to send in answer to one decoded client message (``sent_ns``: its header's
        send time, if any)."""
        name = message.MSG_NAME
        if name == "MLinkLogon":
            return self._logon(message)
        if not self.authorised:
            return [self._admin("WaitingLogon", "log on first: send MLinkLogon")]
        if name == "MLinkStream":
            return self._stream(message)
        if name == "MLinkQuery":
            return self._query(message)
        if name == "MLinkSubscribe":
            return self._subscribe(message)
        if name == "MLinkSignalReady":
            return self._signal(message)
        if message.TOKEN in _CONTROL_TOKENS:
            return [
                self._data_ack(
                    message.MSG_NUM or 0, "InvldMsgType", f"{name} is not a request", sent_ns
                )
            ]
        return [self._upload(message, sent_ns)]

    def _rejected(self, item: Rejected) -> list[Message]:
        if not self.authorised:
            return [self._admin("WaitingLogon", "log on first: send MLinkLogon")]
        request = item.request
        if request is not None and request.MSG_NAME == "MLinkStream":
            return [self._stream_ack(request, "Error", item.detail)]
        if request is not None and request.MSG_NAME == "MLinkQuery":
            label = wire_value(request, "queryLabel")
            return [self._make("MLinkResponse", queryLabel=label, state="Error",
                               detail=item.detail)]  # fmt: skip
        if request is not None and request.MSG_NAME == "MLinkSubscribe":
            return [
                self._make(
                    "MLinkSubscribeAck",
                    subscribeID=wire_value(request, "subscribeID"),
                    succeeded="No",
                    errorMsg=item.detail,
                )
            ]
        what = item.name or (f"message number {item.mnum}" if item.mnum else "a message")
        log.warning("WebSocket client sent %s that cannot be read: %s", what, item.result)
        return [self._data_ack(item.mnum, item.result, item.detail, item.sent_ns)]

    def _logon(self, message: Message) -> list[Message]:
        """Check an MLinkLogon: a JWT (``jwtToken``), or an API key with its password
        (``apiPassword`` in 2023, ``password`` in 2026), with the REST handler's checks."""
        jwt = wire_value(message, "jwtToken") or ""
        key = wire_value(message, "apiKey") or ""
        password = wire_value(message, "apiPassword") or wire_value(message, "password")
        token = f"{key}.{password}" if password else key
        if (
            self.handler.keys.open
            or (jwt and self.handler.authorised_jwt(jwt))
            or (key and self.handler.authorised_key(token))
        ):
            self.authorised = True
            return [self._admin("LoggedOn")]
        self.authorised = False
        self.closing = True
        return [self._admin("LogonFailed", "AuthError: invalid api key or JWT")]

    def _upload(self, message: Message, sent_ns: int | None) -> Message:
        """Store an uploaded record like a REST post, after checking every encoding that may
        have to carry it to a subscriber can."""
        number = message.MSG_NUM or 0
        try:
            for encoding in self._encodings(message):
                encode_message(message, encoding)
        except (EncodeError, ValueError, TypeError, OverflowError) as exc:
            # ValueError / TypeError / OverflowError: what the encoders let through for a
            # value out of range; stored, it would poison every reader of its type.
            detail = f"{message.MSG_NAME} not stored: cannot be encoded as {encoding}: {exc}"
            return self._data_ack(number, "OtherError", detail, sent_ns)
        _, stamp = self.store.put(message)
        return self._data_ack(number, "OK", None, sent_ns if sent_ns is not None else stamp)

    @staticmethod
    def _encodings(message: Message) -> tuple[Encoding, ...]:
        if message.MSG_NUM is None:
            return ("json",)
        if message.SPEC.origin == "dictionary":
            return ("json", "jsonf")
        return ("json", "jsonf", "proto")

    # ---- requests --------------------------------------------------------------------------

    def _class(self, name: object) -> type[Message]:
        text = str(name or "").strip()
        if not text:
            raise QueryError("msgName is required")
        try:
            return self.registry.lookup(text)
        except UnknownMessageError:
            raise QueryError(f"unknown message type {text!r}") from None

    def _usable(self, cls: type[Message]) -> None:
        if self.encoding == "proto" and (cls.SPEC.origin == "dictionary" or cls.MSG_NUM is None):
            raise QueryError(f"{cls.MSG_NAME} has no protobuf form: use json or jsonf")

    def _filters(
        self, cls: type[Message], where: object, view: object
    ) -> tuple[Callable[[Message], bool], tuple[str, ...] | None]:
        matches = compile_where(parse_where(str(where)), cls) if where else (lambda _m: True)
        fields = parse_view(str(view)) if view else None
        if fields is not None:
            check_view(fields, cls)
        return matches, fields

    def _records(self, sub: Sub, since: int | None) -> list[Message]:
        """The cached records ``sub`` starts with (changed after ``since``, if given)."""
        if since == -1:
            return []
        found = self.store.records(sub.cls.MSG_NAME, since_ns=since or None)
        return [self._shape(sub, r) for r in found if self._wanted(sub, r)]

    def _wanted(self, sub: Sub, record: Message) -> bool:
        if sub.kind == "subscribe":
            return record_key(record) in sub.keys if hasattr(record, "pkey") else False
        return sub.matches(record)

    def _shape(self, sub: Sub, record: Message) -> Message:
        return apply_view(record, sub.view) if sub.view else record

    def _remove(self, kind: str, ident: object) -> Sub | None:
        for sub in self.subs:
            if sub.kind == kind and sub.ident == ident:
                self.subs.remove(sub)
                return sub
        return None

    def _stream_ack(self, message: Message, result: str, detail: str | None = None) -> Message:
        return self._make(
            "MLinkStreamAck",
            queryID=wire_value(message, "queryID"),
            queryLabel=wire_value(message, "queryLabel"),
            msgName=wire_value(message, "msgName"),
            unsubscribe=wire_value(message, "unsubscribe"),
            result=result,
            detail=detail,
        )

    def _stream(self, message: Message) -> list[Message]:
        query_id = wire_value(message, "queryID") or None
        ident = stream_ident(query_id, wire_value(message, "queryLabel"))

        def checkpoint(state: str, **extra: Any) -> Message:
            return self._make("MLinkStreamCheckPt", queryID=query_id, state=state, **extra)

        if str(wire_value(message, "unsubscribe")) == "Yes":
            gone = self._remove("stream", ident)
            if gone is None:
                name = "queryID" if ident[0] == "id" else "queryLabel"
                return [self._stream_ack(message, "Error", f"no stream with {name} {ident[1]}")]
            return [self._stream_ack(message, "OK"), checkpoint("Terminated")]
        try:
            cls = self._class(wire_value(message, "msgName"))
            self._usable(cls)
            matches, view = self._filters(
                cls, wire_value(message, "where"), wire_value(message, "view")
            )
            matches = striped(matches, wire_value(message, "stripeFilter"))
        except QueryError as exc:
            result = "UnkwnMsgType" if "unknown message type" in str(exc) else "Error"
            return [self._stream_ack(message, result, str(exc))]
        out: list[Message] = [self._stream_ack(message, "OK")]
        replaced = self._remove("stream", ident)
        if replaced is not None:
            out.append(checkpoint("Replaced", detail="replaced by a new MLinkStream"))
        latency = wire_value(message, "activeLatency") or 0
        sub = Sub(
            kind="stream",
            query_id=query_id,
            label=wire_value(message, "queryLabel"),
            cls=cls,
            matches=matches,
            view=view,
            latency=WAIT_SIGNAL if latency == 0 else latency,
            ident=ident,
        )
        out.append(checkpoint("Begin"))
        out.extend(self._records(sub, wire_value(message, "highwaterTs")))
        highwater = self.store.highwater_ns
        out.append(checkpoint("Active", highwaterTs=highwater))
        out.append(checkpoint("Complete", highwaterTs=highwater))
        sub.last_flush = self.clock()
        self.subs.append(sub)
        return out

    def _repeated(self, message: Message, member: str) -> tuple[Any, ...]:
        """The elements of ``message``'s repeater whose elements carry ``member``."""
        spec = field_with_child(type(message), member)
        return tuple(getattr(message, spec.name) or ()) if spec is not None else ()

    def _query(self, message: Message) -> list[Message]:
        label = wire_value(message, "queryLabel")
        kind = str(wire_value(message, "queryType") or "FullQuery")

        def response(state: str, detail: str | None = None, **extra: Any) -> Message:
            return self._make(
                "MLinkResponse", queryLabel=label, state=state, detail=detail, **extra
            )

        items = self._repeated(message, "msgType")
        if not items:
            return [response("Error", "MLinkQuery needs at least one MsgTypes entry")]
        # (flat key, the attribute that narrows a record's keys to its kind)
        keys = [
            (str(key), attr)
            for member, attr in _KEY_FILTERS
            for item in self._repeated(message, member)
            if (key := wire_value(item, member)) is not None
        ]
        incremental = kind.startswith("Incr")
        live = kind.endswith("Subscription")
        since = wire_value(message, "highwaterTs") if incremental else None
        latency = wire_value(message, "activeLatency")
        out: list[Message] = []
        subs: list[Sub] = []
        for item in items:
            try:
                number = wire_value(item, "msgType")
                cls = self._class(number if number else wire_value(item, "msgName"))
                self._usable(cls)
                matches, view = self._filters(
                    cls, wire_value(item, "where"), wire_value(item, "view")
                )
                matches = striped(matches, wire_value(message, "stripeFilter"))
            except QueryError as exc:
                return [response("Error", str(exc))]

            def keyed(record: Message, base: Callable[[Message], bool] = matches) -> bool:
                return base(record) and (not keys or any(has_key(record, k, a) for k, a in keys))

            subs.append(
                Sub(
                    kind="query",
                    query_id=None,
                    label=label,
                    cls=cls,
                    matches=keyed,
                    view=view,
                    latency=WAIT_SIGNAL if latency is None or latency < 0 else latency,
                )
            )
        for sub in subs:
            out.append(response("Begin"))
            out.extend(self._records(sub, since))
            if live:
                sub.last_flush = self.clock()
                self.subs.append(sub)
        out.append(response("Complete", highwaterTs=self.store.highwater_ns))
        return out

    def _pkey_text(self, cls: type[Message], key: object) -> str:
        """A msgPKey as the store keys it: flat text as given, JSON parsed (QueryError)."""
        text = str(key).strip()
        if not text.startswith("{"):
            return text
        pkey_type = cls.SPEC.field("pkey").type if hasattr(cls, "pkey") else None
        try:
            if pkey_type is None:
                raise ValueError(f"{cls.MSG_NAME} has no primary key")
            return str(json_decoder(pkey_type)(orjson.loads(text)))
        except (ValueError, DecodeError, orjson.JSONDecodeError) as exc:
            raise QueryError(f"invalid msgPKey {text[:80]!r}: {exc}") from None

    def _subscribe(self, message: Message) -> list[Message]:
        subscribe_id = wire_value(message, "subscribeID")
        if str(wire_value(message, "doReset")) == "Yes":
            self.subs = [
                s for s in self.subs if s.kind != "subscribe" or s.query_id != subscribe_id
            ]
        # Views first: they shape this request's snapshot records too.
        acks = {"View": self._subscribe_views(subscribe_id, wire_value(message, "View") or ())}
        latency = wire_value(message, "activeLatency") or 0
        acks["Subscribe"], records = self._subscribe_keys(
            subscribe_id, latency, wire_value(message, "Subscribe") or ()
        )
        acks["Unsubscribe"] = self._unsubscribe_keys(
            subscribe_id, wire_value(message, "Unsubscribe") or ()
        )
        self.subs = [s for s in self.subs if s.kind != "subscribe" or s.keys]
        active = sum(len(s.keys) for s in self.subs if s.kind == "subscribe")
        failed = [a for group in acks.values() for a in group if a["result"] != "OK"]
        return [
            self._make(
                "MLinkSubscribeAck",
                subscribeID=subscribe_id,
                numActiveSubscriptions=active,
                succeeded="No" if failed else "Yes",
                errorMsg=failed[0].get("detail") if failed else None,
                **{group: acks[group] or None for group in ("Subscribe", "Unsubscribe", "View")},
            ),
            self._make("MLinkSubscribeCheckPt", subscribeID=subscribe_id, state="Begin"),
            *records,
            self._make("MLinkSubscribeCheckPt", subscribeID=subscribe_id, state="Active"),
        ]

    def _subscribe_views(self, subscribe_id: int | None, items: Any) -> list[dict[str, Any]]:
        acks: list[dict[str, Any]] = []
        for item in items:
            name, view = wire_value(item, "msgName"), wire_value(item, "view")
            try:
                cls = self._class(name)
                fields = parse_view(str(view)) if view else None
                if fields is not None:
                    check_view(fields, cls)
            except QueryError as exc:
                acks.append(
                    {"msgName": name, "view": view, "result": "ViewErr", "detail": str(exc)}
                )
                continue
            self._views[(subscribe_id, cls.MSG_NAME)] = fields
            for sub in self.subs:
                if sub.kind == "subscribe" and sub.query_id == subscribe_id and sub.cls is cls:
                    sub.view = fields
            acks.append({"msgName": name, "view": view, "result": "OK"})
        return acks

    def _subscribe_keys(
        self, subscribe_id: int | None, latency: int, items: Any
    ) -> tuple[list[dict[str, Any]], list[Message]]:
        acks: list[dict[str, Any]] = []
        records: list[Message] = []
        for item in items:
            name, key = wire_value(item, "msgName"), wire_value(item, "msgPKey")
            ack: dict[str, Any] = {"msgName": name, "msgPKey": key}
            acks.append(ack)
            try:
                cls = self._class(name)
                self._usable(cls)
            except QueryError as exc:
                ack.update(result="UnkwnMsgType", detail=str(exc))
                continue
            if not key:
                ack.update(result="MissingPKey")
                continue
            try:
                text = self._pkey_text(cls, key)
            except QueryError as exc:
                ack.update(result="InvldPKey", detail=str(exc))
                continue
            found = self.store.get(cls.MSG_NAME, text)
            if found is None:
                ack.update(result="UnkwnPKey", detail=f"no {cls.MSG_NAME} with pkey {text!r}")
                continue
            sub = self._keyed_sub(subscribe_id, cls, latency)
            sub.keys.add(text)
            since = wire_value(item, "highwaterTs")
            if not since or self.store.stamp(cls.MSG_NAME, text) > since:
                records.append(self._shape(sub, found))
            ack.update(result="OK")
        return acks, records

    def _unsubscribe_keys(self, subscribe_id: int | None, items: Any) -> list[dict[str, Any]]:
        acks: list[dict[str, Any]] = []
        for item in items:
            name, key = wire_value(item, "msgName"), wire_value(item, "msgPKey")
            for sub in self.subs:
                if sub.kind != "subscribe" or sub.query_id != subscribe_id:
                    continue
                if not key and str(name or "") in (sub.cls.MSG_NAME, ""):
                    sub.keys.clear()  # no key: every subscription of that type goes
                    sub.pending.clear()
                sub.keys.discard(str(key))
                sub.pending.pop(str(key), None)
            acks.append({"msgName": name, "msgPKey": key, "result": "OK"})
        return acks

    def _keyed_sub(self, subscribe_id: int | None, cls: type[Message], latency: int) -> Sub:
        for sub in self.subs:
            if sub.kind == "subscribe" and sub.query_id == subscribe_id and sub.cls is cls:
                return sub
        sub = Sub(
            kind="subscribe",
            query_id=subscribe_id,
            label=None,
            cls=cls,
            matches=lambda _m: True,
            view=self._views.get((subscribe_id, cls.MSG_NAME)),
            latency=WAIT_SIGNAL if latency == 0 else latency,
        )
        sub.last_flush = self.clock()
        self.subs.append(sub)
        return sub

    def _signal(self, message: Message) -> list[Message]:
        signal_id = wire_value(message, "signalID")
        full = str(wire_value(message, "readyScan")) == "FullScan"
        label = wire_value(message, "queryLabel")  # 2023: signals that query only
        for sub in self.subs:
            if sub.latency is WAIT_SIGNAL and (not label or sub.label == label):
                sub.armed = True
                sub.signal_id = signal_id
                if full:
                    for key, record, _ in self.store.items(sub.cls.MSG_NAME):
                        if self._admits(sub, record):
                            sub.pending[key] = record
        self.wake()
        return []

    # ---- updates ---------------------------------------------------------------------------

    def _admits(self, sub: Sub, record: Message) -> bool:
        """``_wanted``, but a record a filter cannot judge is logged and left out: one bad
        record must not stop the store's other listeners or this session."""
        try:
            return self._wanted(sub, record)
        except (SRMLinkError, ValueError, TypeError, AttributeError) as exc:
            log.error("skipping a %s record a stream filter cannot test: %s", sub.cls.MSG_NAME,
                      type(exc).__name__)  # fmt: skip
            return False

    def _on_change(self, name: str, key: str, message: Message, stamp: int, deleted: bool) -> None:
        woke = False
        for sub in self.subs:
            if name == sub.cls.MSG_NAME and self._admits(sub, message):
                # Replaces any older pending update of this key (a delete too).
                sub.pending[key] = Deleted(message) if deleted else message
                woke = True
        if woke:
            self.wake()

    def _ready(self, sub: Sub, now: float) -> bool:
        if not sub.pending:
            return False
        if sub.latency is WAIT_SIGNAL:
            return sub.armed
        return now - sub.last_flush >= sub.latency / 1000

    def next_deadline(self) -> float | None:
        """When the next timed flush falls due (clock time), None if none is waiting."""
        times = [
            s.last_flush + s.latency / 1000
            for s in self.subs
            if s.pending and s.latency is not WAIT_SIGNAL
        ]
        return min(times) if times else None

    def due(self) -> list[Message | Deleted]:
        """Every batch that is due now, each closed by its checkpoint."""
        now = self.clock()
        out: list[Message | Deleted] = []
        for sub in self.subs:
            if self._ready(sub, now):
                out.extend(self._flush(sub, now))
        return out

    def _flush(self, sub: Sub, now: float) -> list[Message | Deleted]:
        batch = [
            Deleted(self._shape(sub, r.message)) if isinstance(r, Deleted) else self._shape(sub, r)
            for r in sub.pending.values()
        ]
        sub.pending.clear()
        sub.last_flush = now
        signal_id, sub.signal_id = sub.signal_id, None
        sub.armed = False
        highwater = self.store.highwater_ns
        if sub.kind == "stream":
            closing = self._make(
                "MLinkStreamCheckPt",
                queryID=sub.query_id,
                signalID=signal_id,
                state="Active",
                highwaterTs=highwater,
                numMessagesSent=len(batch),
            )
        elif sub.kind == "subscribe":
            closing = self._make(
                "MLinkSubscribeCheckPt",
                subscribeID=sub.query_id,
                signalID=signal_id,
                state="Active",
            )
        else:
            closing = self._make(
                "MLinkResponse",
                queryLabel=sub.label,
                state="Active",
                highwaterTs=highwater,
                numMessagesSent=len(batch),
            )
        return [*batch, closing]
