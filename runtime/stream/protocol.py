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
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from attrs import evolve, frozen

from ..auth import Credentials
from ..codec import Encoding, Envelope, FrameDecoder, encode_message
from ..errors import AuthError, DecodeError, MLinkStreamError
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import Message
from ..records import has_field, make, wire_value
from ..registry import Registry
from .events import BadMessage, CheckPoint, Event, Heartbeat, Record, StreamAck

__all__ = ["SIGNAL_READY", "ClientProtocol", "Flow", "Subscription"]

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
class Subscription:
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
    ) -> None:
        self.registry = registry
        self.encoding: Encoding = encoding
        self.credentials = credentials
        self.flow: Flow = flow or detect_flow(registry)
        self.subscriptions: dict[int, Subscription] = {}
        self.logged_on = False
        self._ids = itertools.count(1)
        self._signals = itertools.count(1)
        self._decoder = FrameDecoder(encoding, registry=registry)
        #: signal id sent and not yet closed by a checkpoint (None: none outstanding).
        self.outstanding_signal: int | None = None

    # ---- requests --------------------------------------------------------------------------

    def _frame(self, name: str, **values: object) -> bytes:
        return encode_message(
            make(self.registry, name, **values), self.encoding, stamp=datetime.now(UTC)
        )

    def next_query_id(self) -> int:
        return next(self._ids)

    def connection_made(self) -> list[bytes]:
        """A new connection: the logon, then a resume request per open subscription."""
        self._decoder = FrameDecoder(self.encoding, registry=self.registry)
        self.logged_on = False
        self.outstanding_signal = None
        out = [self.logon()] if self.credentials is not None else []
        out.extend(self.request(sub) for sub in self.subscriptions.values())
        return out

    def logon(self) -> bytes:
        """An MLinkLogon carrying the credentials (never logged: see :mod:`srmlink.auth`)."""
        assert self.credentials is not None
        cls = self.registry.by_name("MLinkLogon")
        key, _, password = self.credentials.token.partition(".")
        if has_field(cls, "apiPassword"):
            return self._frame("MLinkLogon", apiKey=key, apiPassword=password or None)
        return self._frame("MLinkLogon", apiKey=self.credentials.token)

    def subscribe(self, subscription: Subscription) -> bytes:
        """Remember ``subscription`` and return its request frame."""
        self.subscriptions[subscription.query_id] = subscription
        return self.request(subscription)

    def request(self, sub: Subscription) -> bytes:
        """The request frame for ``sub`` as it stands (resuming from its highwater)."""
        if self.flow == "query":
            return self._query(sub)
        if sub.pkeys:
            return self._frame(
                "MLinkSubscribe",
                subscribeID=sub.query_id,
                activeLatency=_latency_2026(sub.active_latency),
                Subscribe=[
                    {"msgName": sub.msg_name, "msgPKey": key, "highwaterTs": sub.highwater_ts}
                    for key in sub.pkeys
                ],
                View=[{"msgName": sub.msg_name, "view": sub.view}] if sub.view else None,
            )
        return self._frame(
            "MLinkStream",
            msgName=sub.msg_name,
            where=sub.where,
            view=sub.view,
            queryID=sub.query_id,
            queryLabel=_label(sub.query_id),
            activeLatency=_latency_2026(sub.active_latency),
            highwaterTs=sub.highwater_ts,
        )

    def _query(self, sub: Subscription) -> bytes:
        incremental = sub.highwater_ts is not None
        kind = ("Incr" if incremental else "Full") + ("Subscription" if sub.live else "Query")
        cls = self.registry.by_name(sub.msg_name)
        filters: dict[str, list[dict[str, object]]] = {
            "TkeyFilters": [],
            "EkeyFilters": [],
            "OkeyFilters": [],
        }
        for key in sub.keys:
            if isinstance(key, OptionKey):
                filters["OkeyFilters"].append({"optionKey": key})
            elif isinstance(key, ExpiryKey):
                filters["EkeyFilters"].append({"expiryKey": key})
            else:
                filters["TkeyFilters"].append({"tickerKey": key})
        return self._frame(
            "MLinkQuery",
            queryLabel=_label(sub.query_id),
            queryType=kind,
            activeLatency=-1 if sub.active_latency is None else sub.active_latency,
            highwaterTs=sub.highwater_ts,
            MsgType=[
                {
                    "msgType": cls.MSG_NUM,
                    "msgName": cls.MSG_NAME,
                    "view": sub.view,
                    "where": sub.where,
                }
            ],
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
        for envelope in self._decoded(data):
            if isinstance(envelope, BadMessage):
                events.append(envelope)
                continue
            message = envelope.message
            if not isinstance(message, Message):
                events.append(Record(message, envelope.header))
                continue
            event = self._control(message)
            if event is None:
                events.append(Record(message, envelope.header, envelope.deleted))
            elif not isinstance(event, bool):
                events.append(event)
        return events

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

    def _control(self, message: Message) -> Event | bool | None:
        """The event for a control message; True if consumed silently; None for data."""
        name = message.MSG_NAME
        if name == "MLinkAdmin":
            return self._admin(message)
        if name in ("MLinkStreamAck", "MLinkSubscribeAck"):
            return self._ack(message)
        if name in ("MLinkStreamCheckPt", "MLinkSubscribeCheckPt", "MLinkResponse"):
            return self._checkpoint(message)
        if name == "MLinkHeartbeat":
            return Heartbeat(wire_value(message, "timestamp"), message)
        return None

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
            state, query_id, signal_id, highwater, wire_value(message, "detail"), message
        )


def _latency_2026(active_latency: int | None) -> int:
    # 2026: 0 = wait for SignalReady, 1 = minimum delay; ours: None = SignalReady, 0 = asap.
    return 0 if active_latency is None else max(1, active_latency)


def _label(query_id: int) -> str:
    return f"srmlink-{query_id}"


def _query_id(label: object) -> int | None:
    if isinstance(label, str) and label.startswith("srmlink-") and label[8:].isdigit():
        return int(label[8:])
    return None
