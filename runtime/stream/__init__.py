"""MLink over WebSocket: streaming clients, their I/O-free protocol, events and cache."""

from __future__ import annotations

from .cache import LastValueCache
from .client import ENDPOINTS, AsyncMLinkStream
from .events import (
    BadMessage,
    CheckPoint,
    DataAck,
    Event,
    Heartbeat,
    Reconnected,
    Record,
    StreamAck,
)
from .protocol import SIGNAL_READY, ClientProtocol, RequestOptions, StreamRequest
from .subscription import AsyncSubscription, Subscription
from .sync import MLinkStream

__all__ = [
    "ENDPOINTS",
    "SIGNAL_READY",
    "AsyncMLinkStream",
    "AsyncSubscription",
    "BadMessage",
    "CheckPoint",
    "ClientProtocol",
    "DataAck",
    "Event",
    "Heartbeat",
    "LastValueCache",
    "MLinkStream",
    "Reconnected",
    "Record",
    "RequestOptions",
    "StreamAck",
    "StreamRequest",
    "Subscription",
]
