"""The server side of one MLink WebSocket connection, with no I/O.

:class:`StreamSession` takes decoded client messages and store changes and says what to send;
the aiohttp adapter (:mod:`.app`) only moves frames and keeps time. Both flows are served,
as the loaded schema defines them:

- 2026: MLinkStream -> MLinkStreamAck, MLinkStreamCheckPt Begin, cached records, Active,
  Complete, then live updates each batch closed by an Active checkpoint carrying
  ``highwaterTs`` (and the ``signalID`` it answers); ``unsubscribe`` -> Terminated; the same
  queryID again -> Replaced. MLinkSubscribe adds and removes primary keys (MLinkSubscribeAck,
  MLinkSubscribeCheckPt).
- 2023: MLinkQuery FullQuery / IncrQuery (records, MLinkResponse Complete) and
  FullSubscription / IncrSubscription (then live updates, each batch closed by MLinkResponse
  Active).

Live objects replace whole: between two sends only the latest record per primary key is kept
(``pending``), so a slow consumer gets fewer, fresher updates, never a backlog. Updates go out
when the client signals ready (MLinkSignalReady), every ``activeLatency`` ms, or at once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from attrs import define, field

from ..codec import Encoding
from ..errors import QueryError, UnknownMessageError
from ..message import Message
from ..query import apply_view, check_view, compile_where, parse_view, parse_where
from ..records import wire_value
from .rest import RestHandler, has_key

__all__ = ["StreamSession"]

_WAIT_SIGNAL = None


@define
class _Sub:
    """One server-side subscription (a stream, a 2023 query, or a set of subscribed keys).

    ``latency``: None waits for SignalReady, 0 sends at once, N every N ms.
    """

    kind: str  # "stream", "query" or "subscribe"
    query_id: int | None
    label: str | None
    cls: type[Message]
    matches: Callable[[Message], bool]
    view: tuple[str, ...] | None
    latency: int | None
    keys: set[str] = field(factory=set)
    pending: dict[str, Message] = field(factory=dict)
    armed: bool = False
    signal_id: int | None = None
    last_flush: float = 0.0


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
        self.subs: list[_Sub] = []
        self.closing = False
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

    def receive(self, message: Message) -> list[Message]:
        """What to send in answer to one client message."""
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
        return []

    def _logon(self, message: Message) -> list[Message]:
        key = wire_value(message, "apiKey") or ""
        password = wire_value(message, "apiPassword")
        token = f"{key}.{password}" if password else key
        if self.handler.authorised_key(token):
            self.authorised = True
            return [self._admin("LoggedOn")]
        self.authorised = False
        self.closing = True
        return [self._admin("LogonFailed", "AuthError: invalid api key")]

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

    def _records(self, sub: _Sub, since: int | None) -> list[Message]:
        """The cached records ``sub`` starts with (changed after ``since``, if given)."""
        if since == -1:
            return []
        found = self.store.records(sub.cls.MSG_NAME, since_ns=since or None)
        return [self._shape(sub, r) for r in found if self._wanted(sub, r)]

    def _wanted(self, sub: _Sub, record: Message) -> bool:
        if sub.kind == "subscribe":
            return str(getattr(record, "pkey", "")) in sub.keys
        return sub.matches(record)

    def _shape(self, sub: _Sub, record: Message) -> Message:
        return apply_view(record, sub.view) if sub.view else record

    def _remove(self, kind: str, query_id: int | None) -> _Sub | None:
        for sub in self.subs:
            if sub.kind == kind and sub.query_id == query_id:
                self.subs.remove(sub)
                return sub
        return None

    def _stream(self, message: Message) -> list[Message]:
        query_id = wire_value(message, "queryID")
        msg_name = wire_value(message, "msgName")

        def ack(result: str, detail: str | None = None) -> Message:
            return self._make(
                "MLinkStreamAck",
                queryID=query_id,
                queryLabel=wire_value(message, "queryLabel"),
                msgName=msg_name,
                unsubscribe=wire_value(message, "unsubscribe"),
                result=result,
                detail=detail,
            )

        def checkpoint(state: str, **extra: Any) -> Message:
            return self._make("MLinkStreamCheckPt", queryID=query_id, state=state, **extra)

        if str(wire_value(message, "unsubscribe")) == "Yes":
            gone = self._remove("stream", query_id)
            if gone is None:
                return [ack("Error", f"no stream with queryID {query_id}")]
            return [ack("OK"), checkpoint("Terminated")]
        try:
            cls = self._class(msg_name)
            self._usable(cls)
            matches, view = self._filters(
                cls, wire_value(message, "where"), wire_value(message, "view")
            )
        except QueryError as exc:
            result = "UnkwnMsgType" if "unknown message type" in str(exc) else "Error"
            return [ack(result, str(exc))]
        out: list[Message] = [ack("OK")]
        replaced = self._remove("stream", query_id)
        if replaced is not None:
            out.append(checkpoint("Replaced", detail="replaced by a new MLinkStream"))
        latency = wire_value(message, "activeLatency") or 0
        sub = _Sub(
            kind="stream",
            query_id=query_id,
            label=None,
            cls=cls,
            matches=matches,
            view=view,
            latency=_WAIT_SIGNAL if latency == 0 else latency,
        )
        out.append(checkpoint("Begin"))
        out.extend(self._records(sub, wire_value(message, "highwaterTs")))
        highwater = self.store.highwater_ns
        out.append(checkpoint("Active", highwaterTs=highwater))
        out.append(checkpoint("Complete", highwaterTs=highwater))
        sub.last_flush = self.clock()
        self.subs.append(sub)
        return out

    def _query(self, message: Message) -> list[Message]:
        label = wire_value(message, "queryLabel")
        kind = str(wire_value(message, "queryType") or "FullQuery")

        def response(state: str, detail: str | None = None, **extra: Any) -> Message:
            return self._make(
                "MLinkResponse", queryLabel=label, state=state, detail=detail, **extra
            )

        items = wire_value(message, "MsgType") or ()
        if not items:
            return [response("Error", "MLinkQuery needs at least one MsgType entry")]
        # (flat key, the attribute that narrows a record's keys to its kind)
        keys = [
            (str(key), attr)
            for group, member, attr in (
                ("TKeyFilters", "tickerKey", "ticker_key"),
                ("EKeyFilters", "expiryKey", "expiry_key"),
                ("OKeyFilters", "optionKey", None),
            )
            for item in (wire_value(message, group) or ())
            if (key := wire_value(item, member)) is not None
        ]
        incremental = kind.startswith("Incr")
        live = kind.endswith("Subscription")
        since = wire_value(message, "highwaterTs") if incremental else None
        latency = wire_value(message, "activeLatency")
        out: list[Message] = []
        for item in items:
            try:
                number = wire_value(item, "msgType")
                cls = self._class(number if number else wire_value(item, "msgName"))
                self._usable(cls)
                matches, view = self._filters(
                    cls, wire_value(item, "where"), wire_value(item, "view")
                )
            except QueryError as exc:
                return [response("Error", str(exc))]

            def keyed(record: Message, base: Callable[[Message], bool] = matches) -> bool:
                return base(record) and (not keys or any(has_key(record, k, a) for k, a in keys))

            sub = _Sub(
                kind="query",
                query_id=None,
                label=label,
                cls=cls,
                matches=keyed,
                view=view,
                latency=_WAIT_SIGNAL if latency is None or latency < 0 else latency,
            )
            out.append(response("Begin"))
            out.extend(self._records(sub, since))
            if live:
                sub.last_flush = self.clock()
                self.subs.append(sub)
        out.append(response("Complete", highwaterTs=self.store.highwater_ns))
        return out

    def _subscribe(self, message: Message) -> list[Message]:
        subscribe_id = wire_value(message, "subscribeID")
        latency = wire_value(message, "activeLatency") or 0
        acks: dict[str, list[dict[str, Any]]] = {"Subscribe": [], "Unsubscribe": [], "View": []}
        records: list[Message] = []
        if str(wire_value(message, "doReset")) == "Yes":
            self.subs = [
                s for s in self.subs if s.kind != "subscribe" or s.query_id != subscribe_id
            ]
        for item in wire_value(message, "Subscribe") or ():
            name, key = wire_value(item, "msgName"), wire_value(item, "msgPKey")
            try:
                cls = self._class(name)
                self._usable(cls)
            except QueryError as exc:
                acks["Subscribe"].append(
                    {"msgName": name, "msgPKey": key, "result": "UnkwnMsgType", "detail": str(exc)}
                )
                continue
            if not key:
                acks["Subscribe"].append({"msgName": name, "result": "MissingPKey"})
                continue
            sub = self._keyed_sub(subscribe_id, cls, latency)
            sub.keys.add(str(key))
            found = self.store.get(cls.MSG_NAME, str(key))
            since = wire_value(item, "highwaterTs")
            if found is not None and (
                not since or self.store.stamp(cls.MSG_NAME, str(key)) > since
            ):
                records.append(self._shape(sub, found))
            acks["Subscribe"].append({"msgName": name, "msgPKey": key, "result": "OK"})
        for item in wire_value(message, "Unsubscribe") or ():
            name, key = wire_value(item, "msgName"), wire_value(item, "msgPKey")
            for sub in self.subs:
                if sub.kind == "subscribe" and sub.query_id == subscribe_id:
                    sub.keys.discard(str(key))
                    sub.pending.pop(str(key), None)
            acks["Unsubscribe"].append({"msgName": name, "msgPKey": key, "result": "OK"})
        for item in wire_value(message, "View") or ():
            name, view = wire_value(item, "msgName"), wire_value(item, "view")
            try:
                cls = self._class(name)
                fields = parse_view(str(view)) if view else None
                if fields is not None:
                    check_view(fields, cls)
            except QueryError as exc:
                acks["View"].append(
                    {"msgName": name, "view": view, "result": "ViewErr", "detail": str(exc)}
                )
                continue
            self._keyed_sub(subscribe_id, cls, latency).view = fields
            acks["View"].append({"msgName": name, "view": view, "result": "OK"})
        self.subs = [s for s in self.subs if s.kind != "subscribe" or s.keys]
        active = sum(len(s.keys) for s in self.subs if s.kind == "subscribe")
        failed = [a for group in acks.values() for a in group if a["result"] != "OK"]
        out = [
            self._make(
                "MLinkSubscribeAck",
                subscribeID=subscribe_id,
                numActiveSubscriptions=active,
                succeeded="No" if failed else "Yes",
                errorMsg=failed[0].get("detail") if failed else None,
                **{group: items or None for group, items in acks.items()},
            ),
            self._make("MLinkSubscribeCheckPt", subscribeID=subscribe_id, state="Begin"),
            *records,
            self._make("MLinkSubscribeCheckPt", subscribeID=subscribe_id, state="Active"),
        ]
        return out

    def _keyed_sub(self, subscribe_id: int | None, cls: type[Message], latency: int) -> _Sub:
        for sub in self.subs:
            if sub.kind == "subscribe" and sub.query_id == subscribe_id and sub.cls is cls:
                return sub
        sub = _Sub(
            kind="subscribe",
            query_id=subscribe_id,
            label=None,
            cls=cls,
            matches=lambda _m: True,
            view=None,
            latency=_WAIT_SIGNAL if latency == 0 else latency,
        )
        sub.last_flush = self.clock()
        self.subs.append(sub)
        return sub

    def _signal(self, message: Message) -> list[Message]:
        signal_id = wire_value(message, "signalID")
        full = str(wire_value(message, "readyScan")) == "FullScan"
        for sub in self.subs:
            if sub.latency is _WAIT_SIGNAL:
                sub.armed = True
                sub.signal_id = signal_id
                if full:
                    for key, record, _ in self.store.items(sub.cls.MSG_NAME):
                        if self._wanted(sub, record):
                            sub.pending[key] = record
        self.wake()
        return []

    # ---- updates ---------------------------------------------------------------------------

    def _on_change(self, name: str, key: str, message: Message, stamp: int) -> None:
        woke = False
        for sub in self.subs:
            if name == sub.cls.MSG_NAME and self._wanted(sub, message):
                sub.pending[key] = message  # replaces any older pending update of this key
                woke = True
        if woke:
            self.wake()

    def _ready(self, sub: _Sub, now: float) -> bool:
        if not sub.pending:
            return False
        if sub.latency is _WAIT_SIGNAL:
            return sub.armed
        return now - sub.last_flush >= sub.latency / 1000

    def next_deadline(self) -> float | None:
        """When the next timed flush falls due (clock time), None if none is waiting."""
        times = [
            s.last_flush + s.latency / 1000
            for s in self.subs
            if s.pending and s.latency is not _WAIT_SIGNAL
        ]
        return min(times) if times else None

    def due(self) -> list[Message]:
        """Every batch that is due now, each closed by its checkpoint."""
        now = self.clock()
        out: list[Message] = []
        for sub in self.subs:
            if self._ready(sub, now):
                out.extend(self._flush(sub, now))
        return out

    def _flush(self, sub: _Sub, now: float) -> list[Message]:
        batch = [self._shape(sub, record) for record in sub.pending.values()]
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
