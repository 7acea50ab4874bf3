"""MLink REST requests, built with no I/O: one function per command.

Every builder returns a :class:`RestRequest` (method, command, query parameters, body); the
sync and async clients only add the host, the encoding, the credentials and a transport.
Parameter values are validated here, so both clients reject bad input identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from attrs import frozen

from ..clauses import clause_text
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import Message, PrimaryKey

__all__ = [
    "IDEMPOTENT",
    "MAX_LIMIT",
    "MessageType",
    "RestRequest",
    "getaggregate",
    "getapikey",
    "getcount",
    "getekeyset",
    "getlayout",
    "getmsg",
    "getmsgs",
    "getmsgtypes",
    "getokeyset",
    "getschema",
    "getsummary",
    "gettkeyset",
    "logon",
    "postmsgs",
]

MAX_LIMIT = 10_000
# Commands safe to repeat after a failure: everything that only reads.
IDEMPOTENT = frozenset(
    {
        "getmsgtypes",
        "getschema",
        "getlayout",
        "getsummary",
        "gettkeyset",
        "getekeyset",
        "getokeyset",
        "getmsg",
        "getmsgs",
        "getcount",
        "getaggregate",
    }
)

MessageType = str | type[Message]
Clause = str | object  # query builders (srmlink.query) render themselves with str()


@frozen
class RestRequest:
    """One REST call before transport: ``params`` excludes credentials and encoding.

    ``message_type`` is the class the response's records are expected to be (when known);
    ``json_only`` says the records cannot travel as protobuf.
    """

    method: Literal["GET", "POST"]
    command: str
    params: tuple[tuple[str, str], ...]
    body: bytes | None = None
    json_only: bool = False

    @property
    def idempotent(self) -> bool:
        return self.command in IDEMPOTENT


def _name(msgtype: MessageType) -> str:
    if isinstance(msgtype, str):
        if not msgtype.strip():
            raise ValueError("msgtype must be a message name or class")
        return msgtype.strip()
    return msgtype.MSG_NAME


def _json_only(msgtype: MessageType) -> bool:
    return not isinstance(msgtype, str) and msgtype.SPEC.origin == "dictionary"


def _text(value: object, what: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError(f"{what} must not be empty")
    return text


def _limit(limit: int | None) -> list[tuple[str, str]]:
    if limit is None:
        return []
    # Over MAX_LIMIT is sent as given (SpiderRock's own samples send 999999): the server
    # clamps it to its maximum and says so in the QueryResult detail.
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(
            f"limit must be a positive integer (the server's maximum is {MAX_LIMIT:,}), "
            f"not {limit!r}"
        )
    return [("limit", str(limit))]


def _clauses(
    msgtype: MessageType, where: Clause | None, view: Clause | None, order: Clause | None
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in (("where", where), ("view", view), ("order", order)):
        if value is not None:
            out.append((name, clause_text(value, name, msgtype)))
    return out


def _get(command: str, msgtype: MessageType | None = None, *rest: tuple[str, str]) -> RestRequest:
    params = [("msgtype", _name(msgtype))] if msgtype is not None else []
    return RestRequest(
        "GET", command, (*params, *rest), json_only=msgtype is not None and _json_only(msgtype)
    )


def getmsgtypes() -> RestRequest:
    """Every message type the server knows (MsgDesc records).

    Always asked for as (framed) JSON: it is the call that finds out whether the server's
    message numbers are ours, so its answer must not depend on them (JSON names each type).
    """
    return RestRequest("GET", "getmsgtypes", (), json_only=True)


def getschema(msgtype: MessageType) -> RestRequest:
    """The field descriptions (FieldDesc records) of one message type."""
    return _get("getschema", msgtype)


def getlayout(msgtype: MessageType) -> RestRequest:
    """The binary layout (MsgLayout / FieldLayout records) of one message type."""
    return _get("getlayout", msgtype)


def getsummary(msgtype: MessageType, view: Clause | None = None) -> RestRequest:
    """Per-field summaries (SummaryNumeric / SummaryString records)."""
    return _get("getsummary", msgtype, *_clauses(msgtype, None, view, None))


def gettkeyset(msgtype: MessageType) -> RestRequest:
    """The active TickerKeys of a message type (MsgTickerKey records)."""
    return _get("gettkeyset", msgtype)


def getekeyset(msgtype: MessageType, tkey: TickerKey | str) -> RestRequest:
    """The active ExpiryKeys of a message type under one TickerKey."""
    return _get("getekeyset", msgtype, ("tkey", _text(tkey, "tkey")))


def getokeyset(msgtype: MessageType, ekey: ExpiryKey | str) -> RestRequest:
    """The active OptionKeys of a message type under one ExpiryKey."""
    return _get("getokeyset", msgtype, ("ekey", _text(ekey, "ekey")))


def getmsg(
    msgtype: MessageType, pkey: PrimaryKey | TickerKey | ExpiryKey | OptionKey | str
) -> RestRequest:
    """One record by primary key (flat form; composite keys joined with ``|``)."""
    return _get("getmsg", msgtype, ("pkey", _text(pkey, "pkey")))


def getmsgs(
    msgtype: MessageType,
    *,
    tkey: TickerKey | str | None = None,
    ekey: ExpiryKey | str | None = None,
    okey: OptionKey | str | None = None,
    where: Clause | None = None,
    view: Clause | None = None,
    order: Clause | None = None,
    limit: int | None = None,
) -> RestRequest:
    """Every record of a message type, filtered by key, where clause, view, order, limit."""
    keys = [
        (n, _text(v, n))
        for n, v in (("tkey", tkey), ("ekey", ekey), ("okey", okey))
        if v is not None
    ]
    return _get("getmsgs", msgtype, *keys, *_clauses(msgtype, where, view, order), *_limit(limit))


def getcount(msgtype: MessageType, *, where: Clause | None = None) -> RestRequest:
    """How many records a message type has (matching ``where``)."""
    return _get("getcount", msgtype, *_clauses(msgtype, where, None, None))


def getaggregate(
    msgtype: MessageType,
    *,
    group: Sequence[str] | str,
    measure: Sequence[str] | str,
    where: Clause | None = None,
    limit: int | None = None,
) -> RestRequest:
    """Grouped measures (``group=["bidexch:top:3"]``, ``measure=["bidsize:sum"]``)."""
    groups = group if isinstance(group, str) else "|".join(group)
    measures = measure if isinstance(measure, str) else "|".join(measure)
    return _get(
        "getaggregate",
        msgtype,
        ("group", _text(groups, "group")),
        ("measure", _text(measures, "measure")),
        *_clauses(msgtype, where, None, None),
        *_limit(limit),
    )


def postmsgs(body: bytes) -> RestRequest:
    """Post records (the body already encoded in the endpoint's encoding)."""
    if not body:
        raise ValueError("postmsgs needs at least one message")
    return RestRequest("POST", "postmsgs", (), body)


def getapikey(secret: str) -> RestRequest:
    """Create or update an API key (the caller authenticates with a JWT)."""
    return RestRequest("GET", "getapikey", (("secret", _text(secret, "secret")),))


def logon(user: str, password: str, pin: str | None = None) -> RestRequest:
    """Log on with user name, password and MFA pin; the reply carries a session key."""
    params = [("user", _text(user, "user")), ("pw", _text(password, "password"))]
    if pin is not None:
        params.append(("pin", _text(pin, "pin")))
    return RestRequest("GET", "logon", tuple(params))
