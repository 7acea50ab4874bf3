"""What a WebSocket stream yields: typed events, the same for both MLink flows.

The 2026 flow (MLinkStream, MLinkStreamAck, MLinkStreamCheckPt, MLinkSubscribe...) and the
2023 flow (MLinkQuery, MLinkResponse) are mapped onto one vocabulary, so application code
does not depend on the server's schema version: a :class:`Record` per data object, a
:class:`StreamAck` per accepted or refused request, :class:`CheckPoint` for Begin / Active /
Complete / Replaced / Terminated, :class:`Heartbeat`, and :class:`Reconnected` after the
client resumed a dropped connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from attrs import field, frozen

from ..codec import Header, UnknownMessage
from ..errors import DecodeError
from ..message import Message

__all__ = [
    "BadMessage",
    "CheckPoint",
    "DataAck",
    "Event",
    "Heartbeat",
    "Reconnected",
    "Record",
    "StreamAck",
]


#: The message class a :class:`Record` carries (``Record[OptionNbboQuote]``).
M_co = TypeVar("M_co", bound=Message | UnknownMessage, covariant=True)


@frozen
class Record(Generic[M_co]):
    """One data object (a live object replaces the previous one with its primary key;
    ``deleted``: the object with this primary key was deleted).

    A subscription's own records are ``Record[ItsClass]``; the stream at large yields
    ``Record[Message | UnknownMessage]``. ``frame``: the MLink frame as received, for a
    stream opened with ``raw_frames=True`` (framed encodings; None otherwise).
    """

    message: M_co
    header: Header | None = None
    deleted: bool = False
    frame: bytes | None = field(default=None, repr=False)


@frozen
class StreamAck:
    """The server's answer to a stream or subscribe request.

    ``ok`` is False when the server refused it (``result`` and ``detail`` say why).
    """

    query_id: int | None
    msg_name: str | None
    ok: bool
    result: str
    detail: str | None
    message: Message


@frozen
class CheckPoint:
    """A stream's progress: ``state`` is Begin, Active, Complete, Replaced, Terminated or Error.

    ``highwater_ts`` (ns since the epoch) is the point a resumed stream starts after;
    ``signal_id`` echoes the SignalReady whose batch this checkpoint closes; ``stripe`` is
    the stripe of the connection it came on (None: an unstriped stream), so a striped
    stream's highwater can be followed per connection.
    """

    state: str
    query_id: int | None
    signal_id: int | None
    highwater_ts: int | None
    detail: str | None
    message: Message
    stripe: str | None = None


@frozen
class DataAck:
    """The server's answer to an uploaded message (MLinkDataAck).

    ``ok`` is False when the server did not store it (``result`` and ``detail`` say why);
    ``msg_type`` is the uploaded message's number (0 if the server could not tell).
    """

    msg_type: int | None
    ok: bool
    result: str
    detail: str | None
    send_ts: int | None
    message: Message


@frozen
class Heartbeat:
    """The server is alive (MLinkHeartbeat)."""

    timestamp: datetime | None
    message: Message


@frozen
class Reconnected:
    """The connection dropped and was re-established; subscriptions resumed.

    ``attempts`` is how many connection attempts it took; ``reason`` what broke the old one;
    ``stripe`` which connection of a striped stream it was (None: the only one).
    """

    attempts: int
    reason: str
    stripe: str | None = None


@frozen
class BadMessage:
    """One message that could not be decoded; the stream goes on (nothing is hidden)."""

    error: DecodeError


Event = (
    Record[Message | UnknownMessage]
    | StreamAck
    | CheckPoint
    | DataAck
    | Heartbeat
    | Reconnected
    | BadMessage
)
