"""The client side of MLink's WebSocket protocol, with no I/O (sans-I/O).

:class:`ClientProtocol` turns requests into frames to send and received frames into
:mod:`events <srmlink.stream.events>`; the transport (:mod:`srmlink.stream.client`) only moves
bytes. It speaks both flows and picks the one the loaded schema defines:

- ``stream`` (2026): MLinkStream -> MLinkStreamAck, MLinkStreamCheckPt Begin / Active /
  Complete, records; MLinkSubscribe by primary key; MLinkSignalReady; MLinkHeartbeat.
- ``query`` (2023): MLinkQuery (FullQuery / IncrQuery / FullSubscription / IncrSubscription)
  -> records and MLinkResponse states.

It remembers every open subscription and the highwater time of its last checkpoint, so
after a reconnect :meth:`ClientProtocol.connection_made` returns the requests that resume
each one where it stopped (``highwaterTs``): live objects replace whole, so records sent
twice are harmless and none is skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from attrs import evolve, frozen

from ..auth import Credentials
from ..codec import Encoding, Envelope, FrameDecoder, encode_message
from ..errors import AuthError, DecodeError, MLinkStreamError
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import Message
from ..records import has_field, make, wire_value
from ..registry import Registry
from .events import BadMessage, CheckPoint, DataAck, Event, Heartbeat, Record, StreamAck

__all__ = ["SIGNAL_READY", "ClientProtocol", "Flow", "RequestOptions", "StreamRequest"]

Flow = Literal["stream", "query"]
#: ``active_latency`` value meaning "send updates when the consumer signals it is ready".
SIGNAL_READY = None
_LOGGED_ON = frozenset({"loggedon"})
_OTHER_ERROR = frozenset({"othererror", "error"})
_AUTH_FAILED = frozenset(
    {"logonfailed", "autherror", "accountsuspended", "inviteerror", "invitepending"}
)
_ACK_OK = frozenset({"ok"})


@frozen
class RequestOptions:
    """The spec's less common request fields, sent as given (None: not sent).

    A field the loaded schema's request message lacks raises :class:`MLinkStreamError` when
    the request is built (2026 MLinkStream has no x-ray filters; MLinkSubscribe has none of
    these), never silently dropped. In the 2023 flow ``schema_hash`` / ``local_msg_type`` /
    ``local_msg_name`` go into the MsgTypes entry, as that schema defines them.

    Attributes:
        sys_environment / sys_realm: records with this pair in their route history are not
            sent (no loops); SR enum names such as ``"Saturn"``.
        accnt_filter / client_firm_filter / user_name_filter: x-ray filters, comma separated.
        schema_hash: the client's schema hash of the message (binary encoding if it matches).
        local_msg_type / local_msg_name: the number / name the server translates the
            message's own to.
    """

    sys_environment: str | None = None
    sys_realm: str | None = None
    accnt_filter: str | None = None
    client_firm_filter: str | None = None
    user_name_filter: str | None = None
    schema_hash: int | None = None
    local_msg_type: int | None = None
    local_msg_name: str | None = None


@frozen
class StreamRequest:
    """One stream request, as the client remembers it for resuming.

    Attributes:
        query_id: the client's id for it (echoed by the server).
        msg_name: the message type.
        where / view: the documented clause syntax (or None).
        active_latency: ms between server pushes; None = paced by SignalReady.
        live: keep streaming updates after the cached records (False: records, then done).
        highwater_ts: only records changed after this time (ns); advanced by checkpoints.
        keys: 2023 flow: ticker / expiry / option key filters.
        pkeys: 2026 flow: subscribe to these primary keys only (MLinkSubscribe).
        stripe: the stripe this connection's copy of the request covers (stripeFilter).
        options: the other request fields (:class:`RequestOptions`).
    """

    query_id: int
    msg_name: str
    where: str | None = None
    view: str | None = None
    active_latency: int | None = SIGNAL_READY
    live: bool = True
    highwater_ts: int | None = None
    keys: tuple[TickerKey | ExpiryKey | OptionKey, ...] = ()
    pkeys: tuple[str, ...] = ()
    stripe: str | None = None
    options: RequestOptions = RequestOptions()


def detect_flow(registry: Registry) -> Flow:
    """The WebSocket flow the schema defines (2026 MLinkStream, else 2023 MLinkQuery)."""
    if "MLinkStream" in registry and registry.entry("MLinkStream").defined:
        return "stream"
    if "MLinkQuery" in registry and registry.entry("MLinkQuery").defined:
        return "query"
    raise MLinkStreamError("this schema defines neither MLinkStream nor MLinkQuery")


class ClientProtocol:
    """State of one logical streaming session across connections."""

    def __init__(
        self,
        registry: Registry,
        encoding: Encoding,
        credentials: Credentials | None,
        *,
        flow: Flow | None = None,
        jwt: str | None = None,
        raw_frames: bool = False,
    ) -> None:
        self.registry = registry
        self.raw_frames = raw_frames  # records carry their frames as received
        self.encoding: Encoding = encoding
        self.credentials = credentials
        self.jwt = jwt
        self.flow: Flow = flow or detect_flow(registry)
        self.subscriptions: dict[int, StreamRequest] = {}
        self.logged_on = False
        self._ids = itertools.count(1)
        self._signals = itertools.count(1)
        self._decoder = FrameDecoder(encoding, registry=registry, frames=raw_frames)
        #: signal id sent and not yet closed by a checkpoint (None: none outstanding).
        self.outstanding_signal: int | None = None
        # What each control message becomes (True: consumed silently); any other is data.
        self._control: dict[str, Callable[[Message], Event | bool]] = {
            "MLinkAdmin": self._admin,
            "MLinkStreamAck": self._ack,
            "MLinkSubscribeAck": self._ack,
            "MLinkStreamCheckPt": self._checkpoint,
            "MLinkSubscribeCheckPt": self._checkpoint,
            "MLinkResponse": self._checkpoint,
            "MLinkHeartbeat": self._heartbeat,
            "MLinkDataAck": self._data_ack,
        }

    # ---- requests --------------------------------------------------------------------------

    def _frame(self, name: str, **values: object) -> bytes:
        return self.message_frame(make(self.registry, name, **values))

    def _checked_frame(self, name: str, options: dict[str, object], **values: object) -> bytes:
        """As :meth:`_frame`, raising for an option (by wire name) ``name`` does not have."""
        cls = self.registry.by_name(name)
        for wire, value in options.items():
            if value is not None and not has_field(cls, wire):
                raise MLinkStreamError(f"{name} of this schema has no field {wire}")
        return self._frame(name, **values, **options)

    def message_frame(self, message: Message) -> bytes:
        """Any message (a raw request, an upload) as one frame in this session's encoding."""
        return encode_message(message, self.encoding, stamp=datetime.now(UTC))

    @property
    def authenticates(self) -> bool:
        """Whether this session logs on (credentials or a JWT); else it starts logged on."""
        return self.credentials is not None or self.jwt is not None

    def next_query_id(self) -> int:
        return next(self._ids)

    def connection_made(self) -> list[bytes]:
        """A new connection: the logon, then a resume request per open subscription."""
        self._decoder = FrameDecoder(self.encoding, registry=self.registry, frames=self.raw_frames)
        self.logged_on = False
        self.outstanding_signal = None
        out = [self.logon()] if self.authenticates else []
        out.extend(self.request(sub) for sub in self.subscriptions.values())
        return out

    def logon(self) -> bytes:
        """An MLinkLogon carrying the credentials and/or the JWT (``jwtToken``); never
        logged (see :mod:`srmlink.auth`)."""
        cls = self.registry.by_name("MLinkLogon")
        values: dict[str, object] = {"jwtToken": self.jwt}
        if self.jwt is not None and not has_field(cls, "jwtToken"):
            raise MLinkStreamError("MLinkLogon of this schema has no field jwtToken")
        if self.credentials is not None:
            key, _, password = self.credentials.token.partition(".")
            # The password has a field of its own: apiPassword (2023), password (2026).
            field = next((f for f in ("apiPassword", "password") if has_field(cls, f)), None)
            if field is not None:
                values.update({"apiKey": key, field: password or None})
            else:
                values["apiKey"] = self.credentials.token
        return self._frame("MLinkLogon", **values)

    def subscribe(self, subscription: StreamRequest) -> bytes:
        """Remember ``subscription`` and return its request frame."""
        frame = self.request(subscription)  # raises before anything is remembered
        self.subscriptions[subscription.query_id] = subscription
        return frame

    def request(self, sub: StreamRequest) -> bytes:
        """The request frame for ``sub`` as it stands (resuming from its highwater)."""
        if self.flow == "query":
            return self._query(sub)
        opts = sub.options
        if sub.pkeys:
            return self._checked_frame(
                "MLinkSubscribe",
                {"stripeFilter": sub.stripe, **_session_options(opts), **_type_options(opts)},
                subscribeID=sub.query_id,
                activeLatency=_latency_2026(sub.active_latency),
                Subscribe=[
                    {"msgName": sub.msg_name, "msgPKey": key, "highwaterTs": sub.highwater_ts}
                    for key in sub.pkeys
                ],
                View=[{"msgName": sub.msg_name, "view": sub.view}] if sub.view else None,
            )
        return self._checked_frame(
            "MLinkStream",
            {"stripeFilter": sub.stripe, **_session_options(opts), **_type_options(opts)},
            msgName=sub.msg_name,
            where=sub.where,
            view=sub.view,
            queryID=sub.query_id,
            queryLabel=_label(sub.query_id),
            activeLatency=_latency_2026(sub.active_latency),
            highwaterTs=sub.highwater_ts,
        )

    def _query(self, sub: StreamRequest) -> bytes:
        incremental = sub.highwater_ts is not None
        kind = ("Incr" if incremental else "Full") + ("Subscription" if sub.live else "Query")
        cls = self.registry.by_name(sub.msg_name)
        query = self.registry.by_name("MLinkQuery")
        # Repeater wire names differ between generator versions (TkeyFilters / TKeyFilters,
        # MsgType / MsgTypes): use the spelling this schema's class carries.
        filters: dict[str, list[dict[str, object]]] = {
            _wire_name(query, "TKeyFilters"): [],
            _wire_name(query, "EKeyFilters"): [],
            _wire_name(query, "OKeyFilters"): [],
        }
        names = list(filters)
        for key in sub.keys:
            if isinstance(key, OptionKey):
                filters[names[2]].append({"optionKey": key})
            elif isinstance(key, ExpiryKey):
                filters[names[1]].append({"expiryKey": key})
            else:
                filters[names[0]].append({"tickerKey": key})
        msg_types = _wire_name(query, "MsgTypes", "MsgType")
        entry = {
            "msgType": cls.MSG_NUM,
            "msgName": cls.MSG_NAME,
            "view": sub.view,
            "where": sub.where,
            **_type_options(sub.options),
        }
        entry_cls = next(f.type for f in query.SPEC.fields if f.wire_name == msg_types)
        for wire, value in _type_options(sub.options).items():
            if value is not None and (entry_cls is None or not has_field(entry_cls, wire)):
                raise MLinkStreamError(f"MLinkQuery.{msg_types} of this schema has no {wire}")
        return self._checked_frame(
            "MLinkQuery",
            {"stripeFilter": sub.stripe, **_session_options(sub.options)},
            queryLabel=_label(sub.query_id),
            queryType=kind,
            activeLatency=-1 if sub.active_latency is None else sub.active_latency,
            highwaterTs=sub.highwater_ts,
            **{msg_types: [entry]},
            **{name: items or None for name, items in filters.items()},
        )

    def unsubscribe(self, query_id: int) -> bytes | None:
        """Forget a subscription; the frame that ends it on the server (None if unknown).

        The 2023 flow has no unsubscribe message: the caller closes the connection instead.
        """
        sub = self.subscriptions.pop(query_id, None)
        if sub is None or self.flow == "query":
            return None
        if sub.pkeys:
            return self._frame(
                "MLinkSubscribe",
                subscribeID=sub.query_id,
                Unsubscribe=[{"msgName": sub.msg_name, "msgPKey": key} for key in sub.pkeys],
            )
        return self._frame(
            "MLinkStream", msgName=sub.msg_name, queryID=sub.query_id, unsubscribe="Yes"
        )

    @property
    def paced(self) -> bool:
        """Whether any subscription waits for SignalReady."""
        return any(sub.active_latency is None and sub.live for sub in self.subscriptions.values())

    def signal_ready(self, *, full_scan: bool = False) -> bytes:
        """An MLinkSignalReady; the server answers with pending updates and a checkpoint."""
        if self.flow == "query":
            label = next(iter(self.subscriptions), None)
            self.outstanding_signal = 0
            return self._frame(
                "MLinkSignalReady", queryLabel=_label(label) if label is not None else None
            )
        signal = next(self._signals)
        self.outstanding_signal = signal
        return self._frame(
            "MLinkSignalReady",
            signalID=signal,
            readyScan="FullScan" if full_scan else "Incremental",
        )

    # ---- responses -------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Events for one received WebSocket frame.

        Raises:
            AuthError: the server refused the credentials (MLinkAdmin).
            MLinkStreamError: the server reported another session-level error.
            FramingError: the frame stream is corrupt; the connection must be dropped.
        """
        events: list[Event] = []
        append = events.append
        # Asked once a frame, not once a record: most streams have no by-key subscription.
        keyed = any(sub.pkeys for sub in self.subscriptions.values())
        for envelope in self._decoded(data):
            if isinstance(envelope, BadMessage):
                append(envelope)
                continue
            message = envelope.message
            if not isinstance(message, Message):
                append(Record(message, envelope.header))
                continue
            name = message.MSG_NAME
            handle = self._control.get(name)
            if handle is None:  # data
                if keyed:
                    self._advance_keyed(name, envelope)
                append(Record(message, envelope.header, envelope.deleted, envelope.frame))
                continue
            event = handle(message)
            if not isinstance(event, bool):
                append(event)
        return events

    def _advance_keyed(self, name: str, envelope: Envelope) -> None:
        """Move the highwater of the by-key subscriptions of ``name`` to this record's send
        time: MLinkSubscribe's checkpoints carry none, so a resume starts from there."""
        sent = _sent_ns(envelope)
        if sent is None:
            return
        for query_id, sub in self.subscriptions.items():
            if sub.pkeys and sub.msg_name == name and (sub.highwater_ts or 0) < sent:
                self.subscriptions[query_id] = evolve(sub, highwater_ts=sent)

    def _decoded(self, data: bytes) -> list[Envelope | BadMessage]:
        """Every message ``data`` completes, in order; one that fails to decode becomes a
        BadMessage in its place and the rest of the frame is still read."""
        out: list[Envelope | BadMessage] = []
        chunk = data
        while True:
            try:
                got: Sequence[Envelope] = self._decoder.feed_envelopes(chunk)
            except DecodeError as exc:
                out.append(BadMessage(exc))
                if self.encoding == "json":
                    return out  # one message per frame: nothing else is waiting
                chunk = b""
                continue
            out.extend(got)
            # The decoder returns what decoded before a bad frame and raises for that frame
            # on the next feed: feed nothing more until it has nothing left.
            if not got or self.encoding == "json":
                return out
            chunk = b""

    def _heartbeat(self, message: Message) -> Heartbeat:
        return Heartbeat(wire_value(message, "timestamp"), message)

    def _data_ack(self, message: Message) -> DataAck:
        result = str(wire_value(message, "result") or "")
        return DataAck(
            wire_value(message, "msgType"),
            result.lower() in _ACK_OK,
            result,
            wire_value(message, "detail"),
            wire_value(message, "sendTs"),
            message,
        )

    def _admin(self, message: Message) -> bool:
        state = str(wire_value(message, "state") or "").lower()
        detail = wire_value(message, "detail")
        if state in _LOGGED_ON:
            self.logged_on = True
        elif state in _AUTH_FAILED:
            raise AuthError("MLinkLogon", str(wire_value(message, "state")), detail or "")
        elif state == "goodnight":
            raise MLinkStreamError(f"the server ended the session (GoodNight): {detail or ''}")
        elif state in _OTHER_ERROR:
            raise MLinkStreamError(f"MLinkAdmin {wire_value(message, 'state')}: {detail or ''}")
        # WaitingLogon and states newer than this client: nothing to do.
        return True

    def _ack(self, message: Message) -> StreamAck:
        query_id = wire_value(message, "queryID")
        if query_id is None:
            query_id = wire_value(message, "subscribeID")
        if message.MSG_NAME == "MLinkSubscribeAck":
            ok = str(wire_value(message, "succeeded")) == "Yes"
            result = "OK" if ok else "Error"
            detail = wire_value(message, "errorMsg")
        else:
            result = str(wire_value(message, "result") or "")
            ok = result.lower() in _ACK_OK
            detail = wire_value(message, "detail")
        if not ok and query_id in self.subscriptions:
            del self.subscriptions[query_id]
        return StreamAck(query_id, wire_value(message, "msgName"), ok, result, detail, message)

    def _checkpoint(self, message: Message) -> CheckPoint:
        state = str(wire_value(message, "state") or "")
        query_id = wire_value(message, "queryID")
        if query_id is None:
            query_id = wire_value(message, "subscribeID")
        if query_id is None:
            query_id = _query_id(wire_value(message, "queryLabel"))
        signal_id = wire_value(message, "signalID")
        highwater = wire_value(message, "highwaterTs")
        sub = self.subscriptions.get(query_id) if query_id is not None else None
        if sub is not None:
            if highwater:
                self.subscriptions[query_id] = sub = evolve(sub, highwater_ts=highwater)
            # Replaced: this id now names the request that replaced it, which stays open.
            if state in ("Terminated", "Error") or (state == "Complete" and not sub.live):
                del self.subscriptions[query_id]
        if self.outstanding_signal is not None and (
            signal_id == self.outstanding_signal or self.flow == "query"
        ):
            self.outstanding_signal = None
        return CheckPoint(
            state,
            query_id,
            signal_id,
            highwater,
            wire_value(message, "detail"),
            message,
            sub.stripe if sub is not None else None,
        )


def _session_options(options: RequestOptions) -> dict[str, object]:
    """The request-level fields of ``options``, by wire name."""
    return {
        "sysEnvironment": options.sys_environment,
        "sysRealm": options.sys_realm,
        "accntFilter": options.accnt_filter,
        "clientFirmFilter": options.client_firm_filter,
        "userNameFilter": options.user_name_filter,
    }


def _type_options(options: RequestOptions) -> dict[str, object]:
    """The per-message-type fields of ``options``, by wire name."""
    return {
        "schemaHash": options.schema_hash,
        "localMsgType": options.local_msg_type,
        "localMsgName": options.local_msg_name,
    }


def _wire_name(cls: type[Message], *candidates: str) -> str:
    """The wire name ``cls`` spells one of ``candidates`` with (case-insensitive)."""
    for candidate in candidates:
        for spec in cls.SPEC.fields:
            if spec.wire_name.lower() == candidate.lower():
                return spec.wire_name
    raise MLinkStreamError(f"{cls.MSG_NAME} of this schema has no field {candidates[0]}")


def _latency_2026(active_latency: int | None) -> int:
    # 2026: 0 = wait for SignalReady, 1 = minimum delay; ours: None = SignalReady, 0 = asap.
    return 0 if active_latency is None else max(1, active_latency)


def _label(query_id: int) -> str:
    return f"srmlink-{query_id}"


def _query_id(label: object) -> int | None:
    if isinstance(label, str) and label.startswith("srmlink-") and label[8:].isdigit():
        return int(label[8:])
    return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sent_ns(envelope: Envelope) -> int | None:
    """When the server sent a record (ns since the epoch): ``_meta.time_sent`` (protobuf) or
    the header's ``sTim`` (JSON); None when it does not say."""
    if envelope.meta is not None and envelope.meta.time_sent:
        return envelope.meta.time_sent
    sent = envelope.header.s_tim if envelope.header is not None else None
    if sent is None:
        return None
    return (sent - _EPOCH) // timedelta(microseconds=1) * 1000
