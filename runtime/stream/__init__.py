"""MLink over WebSocket: streaming clients, their I/O-free protocol, events and cache."""

from __future__ import annotations

from .cache import LastValueCache
from .client import ENDPOINTS, AsyncMLinkStream, MLinkStream
from .events import BadMessage, CheckPoint, Event, Heartbeat, Reconnected, Record, StreamAck
from .protocol import SIGNAL_READY, ClientProtocol, Subscription

__all__ = [
    "ENDPOINTS",
    "SIGNAL_READY",
    "AsyncMLinkStream",
    "BadMessage",
    "CheckPoint",
    "ClientProtocol",
    "Event",
    "Heartbeat",
    "LastValueCache",
    "MLinkStream",
    "Reconnected",
    "Record",
    "StreamAck",
    "Subscription",
]
