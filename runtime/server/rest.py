"""The local server's REST commands, as a pure function of (encoding, parameters, body).

No I/O here: :class:`RestHandler` turns one request into response bytes (records plus the
trailing QueryResult, in the endpoint's encoding), so the HTTP adapter stays a few lines and
the commands are testable without a socket. The where / view / order grammar is the client's
(:mod:`srmlink.query`), so both sides agree on its meaning.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from attrs import define, field

from ..codec import Encoding
from ..errors import DecodeError, FramingError, QueryError, SRMLinkError, UnknownMessageError
from ..message import FieldSpec, Message
from ..query import (
    apply_view,
    compile_where,
    field_getter,
    parse_order,
    parse_view,
    parse_where,
    sort_key,
)
from ..records import has_field, make
from ..registry import Registry
from ..rest.commands import MAX_LIMIT
from .aggregate import bucket_keys, parse_group, parse_measures, stats
from .auth import KeyRing
from .describe import layout_objects, msg_descs, schema_descs
from .posting import UNENCODABLE, encode_record, join_reply, posted_records, unencodable
from .store import LiveStore

__all__ = ["ALIASES", "RestHandler", "has_key"]

log = logging.getLogger("srmlink.server")
# Short parameter names MLink accepts (and it matches names case-insensitively).
ALIASES = {
    "c": "cmd",
    "mt": "msgtype",
    "pk": "pkey",
    "tk": "tkey",
    "ek": "ekey",
    "ok": "okey",
    "l": "limit",
    "v": "view",
    "w": "where",
}
_KEY_PARAMS = {"tkey": "ticker_key", "ekey": "expiry_key", "okey": None}
# How long keys from getapikey and logon stay valid (MLink's are "typically 24 hours").
_KEY_TTL = 24 * 3600.0
_DETAIL_CHARS = 2000


class _Refused(Exception):
    """A request the server answers with a QueryResult other than Ok."""

    def __init__(self, result: str, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


@define
class _Call:
    """One request as the commands see it: parameters, body, encoding, the JWT claims that
    authenticated it (if any) and notes for the QueryResult detail."""

    params: dict[str, str]
    body: bytes
    encoding: Encoding
    claims: dict[str, Any] | None = None
    notes: list[str] = field(factory=list)
    # Extra bytes that are not typed records (getlayout's JSON objects on a schema without
    # MsgLayout), emitted after the records.
    raw: list[bytes] = field(factory=list)


def normalise_params(raw: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names, expand aliases (``mt`` -> ``msgtype``)."""
    out: dict[str, str] = {}
    for name, value in raw.items():
        lowered = name.lower()
        out[ALIASES.get(lowered, lowered)] = value
    return out


Command = Callable[[_Call], list[Message]]


class RestHandler:
    """Answers MLink REST commands from a :class:`LiveStore` and a registry.

    Args:
        store: the live objects.
        registry: the generated registry whose message types are served.
        api_key: the key clients must send (``KEY`` or ``KEY.PASSWORD``); None with no
            ``jwt_secret`` either accepts any key.
        jwt_secret: the HS256 secret of the JWTs the server accepts (None: no JWTs).
    """

    def __init__(
        self,
        store: LiveStore,
        registry: Registry,
        api_key: str | None = None,
        *,
        jwt_secret: str | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.keys = KeyRing(api_key, jwt_secret)
        self._commands: dict[str, Command] = {
            "getmsgtypes": self._getmsgtypes,
            "getschema": self._getschema,
            "getlayout": self._getlayout,
            "getsummary": self._getsummary,
            "gettkeyset": self._keyset,
            "getekeyset": self._keyset,
            "getokeyset": self._keyset,
            "getmsg": self._getmsg,
            "getmsgs": self._getmsgs,
            "getcount": self._getcount,
            "getaggregate": self._getaggregate,
            "postmsgs": self._postmsgs,
            "getapikey": self._getapikey,
            "logon": self._logon,
        }

    def __repr__(self) -> str:
        return f"RestHandler({self.keys!r})"

    # ---- helpers -------------------------------------------------------------------------------

    def make(self, name: str, /, **values: Any) -> Message:
        """A record of type ``name`` with fields given by wire name (see :func:`make`)."""
        return make(self.registry, name, **values)

    def _class(self, params: Mapping[str, str]) -> type[Message]:
        name = params.get("msgtype")
        if not name:
            raise _Refused("Error", "msgtype is required")
        try:
            return self.registry.lookup(name)
        except UnknownMessageError as exc:
            raise _Refused("Error", f"unknown msgtype {name!r}") from exc

    def _first(self, *names: str) -> str:
        """The first of ``names`` the loaded schema defines (admin messages were renamed)."""
        for name in names:
            if name in self.registry:
                return name
        raise _Refused("Error", f"this schema defines none of {', '.join(names)}")

    # ---- authentication ------------------------------------------------------------------------

    def authorised_key(self, token: str) -> bool:
        """Whether ``token`` (``KEY`` or ``KEY.PASSWORD``: the server's key, or one it issued
        with getapikey / logon) may use this server; compared in constant time, the password
        included (a wrong, missing or extra password is refused)."""
        return self.keys.check_key(token)

    def authorised_jwt(self, token: str) -> bool:
        """Whether ``token`` is an HS256 JWT signed with the server's ``--jwt-secret`` and
        not expired."""
        return self.keys.check_jwt(token) is not None

    def authorised(self, token: str) -> bool:
        """Whether ``token`` is a JWT or a key this server accepts (a WebSocket bearer)."""
        return self.authorised_jwt(token) or self.authorised_key(token)

    def _authenticate(self, call: _Call, bearer: str | None) -> None:
        if bearer:
            call.claims = self.keys.check_jwt(bearer)
            if call.claims is not None or self.keys.check_key(bearer):
                return
        if self.keys.check_key(call.params.get("apikey", "")):
            return
        params = call.params
        logon = params.get("cmd", "").lower() == "logon" and bool(params.get("user"))
        if logon and self.keys.check_password(params.get("pw", "")):
            return
        raise _Refused("AuthError", "invalid credentials: API key, session key or JWT refused")

    # ---- entry point ---------------------------------------------------------------------------

    def handle(
        self,
        encoding: Encoding,
        raw_params: Mapping[str, str],
        body: bytes,
        *,
        bearer: str | None = None,
    ) -> bytes:
        """The response body for one request (always ends with a QueryResult).

        ``bearer`` is the token of an ``Authorization: Bearer`` header (a JWT or a key).
        Never raises: whatever goes wrong is reported in the QueryResult.
        """
        started = time.perf_counter()
        call = _Call(normalise_params(raw_params), body, encoding)
        records: list[Message] = []
        result, detail = "Ok", None
        try:
            self._authenticate(call, bearer)
            command = self._commands.get(call.params.get("cmd", "").lower())
            if command is None:
                raise _Refused("Error", f"unknown cmd {call.params.get('cmd', '')!r}")
            records = command(call)
        except _Refused as exc:
            records, result, detail = [], exc.result, exc.detail
        except (QueryError, SRMLinkError, ValueError) as exc:
            records, result, detail = [], "Error", str(exc)
        except Exception as exc:
            # The server's boundary: a bug is an Error reply (and a log line), never a 500.
            log.exception("REST command %r failed", call.params.get("cmd", ""))
            records, result, detail = [], "Error", f"internal error ({type(exc).__name__})"
        return self._reply(call, records, result, detail, started)

    def _known_result(self, result: str, detail: str | None) -> tuple[str, str | None]:
        """``result`` if this schema's QueryResult enum has it, else ``Error`` with the name in
        the detail: protobuf carries only the enum's own values (2023's QResult has only Ok
        and Error), where JSON carries any name."""
        spec = next(
            (
                f
                for f in self.registry.by_name("QueryResult").SPEC.fields
                if f.wire_name == "result"
            ),
            None,
        )
        if spec is None or spec.type is None or spec.type.from_wire(result).known:
            return result, detail
        return "Error", f"{result}: {detail}" if detail else result

    def _reply(
        self, call: _Call, records: list[Message], result: str, detail: str | None, started: float
    ) -> bytes:
        """Encode each record on its own, so one that cannot travel in this encoding (a value
        out of range, no protobuf form, too long for a frame) is skipped and reported in the
        QueryResult instead of failing the whole reply."""
        parts = [*call.raw]
        skipped: Counter[str] = Counter()
        for record in records:
            try:
                parts.append(encode_record(record, call.encoding))
            except UNENCODABLE as exc:
                skipped[f"{record.MSG_NAME}: {exc}"] += 1
        notes = list(call.notes)
        if skipped:
            total = sum(skipped.values())
            reasons = "; ".join(f"{n} x {why}" for why, n in skipped.most_common(3))
            notes.append(
                f"{total} record(s) skipped: cannot be encoded as {call.encoding} ({reasons})"
            )
            if result == "Ok" and not parts:
                result = "Error"
        if call.encoding == "proto":
            result, detail = self._known_result(result, detail)
        text = "; ".join(n for n in (detail, *notes) if n)[:_DETAIL_CHARS] or None
        trailer = self.make(
            "QueryResult",
            result=result,
            detail=text,
            numMessagesSent=len(parts),
            queryElapsed=time.perf_counter() - started,
        )
        return self._frame(parts, trailer, call.encoding)

    def _frame(self, parts: list[bytes], trailer: Message, encoding: Encoding) -> bytes:
        try:
            return join_reply(parts, trailer, encoding)
        except UNENCODABLE as exc:
            # Even the QueryResult cannot travel in this encoding (a schema whose control
            # messages have no protobuf form): say why in the one encoding that always works.
            failed = self.make(
                "QueryResult",
                result="Error",
                detail=f"the reply cannot be encoded as {encoding}: {exc}"[:_DETAIL_CHARS],
            )
            return join_reply([], failed, "json" if encoding == "json" else "jsonf")

    # ---- commands ------------------------------------------------------------------------------

    def _getmsgtypes(self, call: _Call) -> list[Message]:
        return msg_descs(self.registry, self.make, call.encoding)

    def _getschema(self, call: _Call) -> list[Message]:
        return schema_descs(self.registry, self._class(call.params), self.make)

    def _getlayout(self, call: _Call) -> list[Message]:
        records, raw, note = layout_objects(
            self.registry, self._class(call.params), self.make, call.encoding
        )
        call.raw.extend(raw)
        if note:
            call.notes.append(note)
        return records

    def _filtered(self, cls: type[Message], params: Mapping[str, str]) -> list[Message]:
        records = self.store.records(cls.MSG_NAME)
        for param, attr in _KEY_PARAMS.items():
            wanted = params.get(param)
            if wanted:
                records = [r for r in records if has_key(r, wanted, attr)]
        if params.get("where"):
            matches = compile_where(parse_where(params["where"]), cls)
            records = [r for r in records if matches(r)]
        return records

    def _limit(self, call: _Call) -> int | None:
        """The ``limit`` parameter: 1 .. MAX_LIMIT; a larger one is clamped (as MLink does for
        the ``l=999999`` SpiderRock's samples send) and the QueryResult says so."""
        text = call.params.get("limit", "").strip()
        if not text:
            return None
        if not text.isdigit() or int(text) < 1:
            raise _Refused("Error", f"limit must be a number from 1 to {MAX_LIMIT}, not {text!r}")
        if int(text) > MAX_LIMIT:
            call.notes.append(f"limit {text} clamped to the maximum, {MAX_LIMIT}")
            return MAX_LIMIT
        return int(text)

    def _getmsg(self, call: _Call) -> list[Message]:
        cls = self._class(call.params)
        key = call.params.get("pkey")
        if not key:
            raise _Refused("Error", "getmsg needs pkey")
        found = self.store.get(cls.MSG_NAME, key)
        return [found] if found is not None else []

    def _getmsgs(self, call: _Call) -> list[Message]:
        params = call.params
        cls = self._class(params)
        limit = self._limit(call)
        records = self._filtered(cls, params)
        if params.get("order"):
            records.sort(key=sort_key(parse_order(params["order"]), cls))
        if limit is not None:
            records = records[:limit]
        if params.get("view"):
            view = parse_view(params["view"])
            records = [apply_view(r, view) for r in records]
        return records

    def _getcount(self, call: _Call) -> list[Message]:
        cls = self._class(call.params)
        return [self.make("MLinkCount", count=len(self._filtered(cls, call.params)))]

    def _keyset(self, call: _Call) -> list[Message]:
        cls = self._class(call.params)
        kind = call.params["cmd"].lower()[3]  # t / e / o
        seen: dict[str, Any] = {}
        for record in self._filtered(cls, call.params):
            for key in _keys_of(record):
                narrowed = _narrow(key, kind)
                if narrowed is not None:
                    seen.setdefault(str(narrowed), narrowed)
        name, member = {
            "t": ("MsgTickerKey", "tickerKey"),
            "e": ("MsgExpiryKey", "expiryKey"),
            "o": ("MsgOptionKey", "optionKey"),
        }[kind]
        return [self.make(name, **{member: key}) for _, key in sorted(seen.items())]

    def _getsummary(self, call: _Call) -> list[Message]:
        """SummaryNumeric / SummaryString (2023) or AggregateNumeric / AggregateString (2026)."""
        params = call.params
        cls = self._class(params)
        numeric = self._first("AggregateNumeric", "SummaryNumeric")
        strings = self._first("AggregateString", "SummaryString")
        records = self._filtered(cls, params)
        names = (
            parse_view(params["view"])
            if params.get("view")
            else tuple(s.wire_name for s in cls.SPEC.fields if s.sr_type in _NUMERIC)
        )
        out = []
        for name in names:
            wire, get = field_getter(cls, name)
            spec = _spec(cls, wire)
            values = [get(r) for r in records]
            if spec is not None and spec.sr_type not in _NUMERIC:
                counts = Counter(str(v) for v in values if v is not None)
                out.append(
                    self.make(
                        strings,
                        name=wire,
                        fNum=spec.proto_number,
                        recCount=len(records),
                        cnt=sum(counts.values()),
                        Value=[{"value": v, "name": v, "cnt": n} for v, n in counts.most_common()],
                    )
                )
                continue
            out.append(self._numeric(numeric, wire, spec, len(records), values, keys={}))
        return out

    def _numeric(
        self,
        name: str,
        wire: str,
        spec: FieldSpec | None,
        rec_count: int,
        values: list[Any],
        *,
        keys: dict[str, str],
    ) -> Message:
        result = stats(values)
        numbers = sorted(float(v) for v in values if isinstance(v, int | float))
        quartiles = statistics.quantiles(numbers, n=4) if len(numbers) > 1 else [None] * 3
        return self.make(
            name,
            name=wire,
            fNum=spec.proto_number if spec is not None else None,
            recCount=rec_count,
            cnt=result.cnt,
            sum=result.sum,
            avg=result.avg,
            min=result.min,
            max=result.max,
            q1=quartiles[0],
            q2=quartiles[1],
            q3=quartiles[2],
            **keys,
        )

    def _getaggregate(self, call: _Call) -> list[Message]:
        params = call.params
        cls = self._class(params)
        count_name, numeric = self._first("AggregateCount"), self._first("AggregateNumeric")
        limit = self._limit(call)
        records = self._filtered(cls, params)
        terms = parse_group(params.get("group", ""))
        getters = [field_getter(cls, term.path)[1] for term in terms]
        measures = [field_getter(cls, path) for path in parse_measures(params.get("measure", ""))]
        out = []
        for bucket, members in bucket_keys(records, terms, getters).items():
            keys = {f"key{i}": value for i, value in enumerate(bucket, start=1)}
            if not measures:
                out.append(self.make(count_name, recCount=len(members), **keys))
            for wire, get in measures:
                values = [get(r) for r in members]
                out.append(
                    self._numeric(numeric, wire, _spec(cls, wire), len(members), values, keys=keys)
                )
        return out[:limit] if limit is not None else out

    def _postmsgs(self, call: _Call) -> list[Message]:
        """One PostAck per post attempt; a record is stored only if it decodes and can be sent
        back in every encoding (so it can never poison a later query or stream)."""
        try:
            attempts = list(posted_records(call.body, call.encoding, self.registry))
        except (DecodeError, FramingError) as exc:
            raise _Refused(
                "Error", f"postmsgs: the body cannot be split into records: {exc}"
            ) from None
        acks = []
        for attempt in attempts:
            if attempt.record is None:
                acks.append(self._ack(attempt.mnum, attempt.failure, attempt.detail))
                continue
            problem = unencodable(attempt.record)
            if problem is not None:
                acks.append(self._ack(attempt.mnum, "ParseError", problem))
                continue
            key, stamp = self.store.put(attempt.record)
            acks.append(self._ack(attempt.mnum, "Ok", None, sendTs=stamp, pkey=key))
        return acks

    def _ack(self, mnum: int | None, result: str, detail: str | None, **values: Any) -> Message:
        return self.make(
            "PostAck", msgType=mnum, result=self._ack_result(result), detail=detail, **values
        )

    def _ack_result(self, wanted: str) -> str:
        """The loaded schema's spelling of a PostAckResult (2026 says ``OK``, 2023 ``Ok``;
        2023-05 has no ParseError, so OtherError stands in)."""
        enum = self.registry.by_name("PostAck").SPEC.field("result").type
        names = {member.wire_name.lower(): member.wire_name for member in enum or ()}
        for candidate in (wanted, "OtherError"):
            if candidate.lower() in names:
                return str(names[candidate.lower()])
        return wanted

    def _getapikey(self, call: _Call) -> list[Message]:
        """A temporary API key (24 h) whose password is the ``secret`` parameter. On a server
        with ``--jwt-secret`` the request must carry a JWT, as MLink's does; the server's own
        key and password are never returned."""
        if self.keys.jwt_enabled and call.claims is None:
            raise _Refused("AuthError", "getapikey needs a JWT: send Authorization: Bearer <jwt>")
        secret = call.params.get("secret") or None
        user = str((call.claims or {}).get("sub") or "local")
        key = self.keys.issue(secret, ttl=_KEY_TTL, user=user)
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=_KEY_TTL)
        name = self._first("MLinkApiKey", "UserApiKey")
        cls = self.registry.by_name(name)
        values: dict[str, Any] = {
            "apiKey": key,
            "plaintextApiKey": key,
            "apiPwHash": hashlib.sha256(secret.encode()).hexdigest() if secret else None,
            "apiExpires": expires,
            "expires": expires,
            "created": now,
            "timestamp": now,
            "server": "srmlink local server",
            "label": "srmlink local server",
            "success": "Yes",
        }
        if has_field(cls, "pkey"):
            values["pkey"] = _single_pkey(cls, user)
        return [self.make(name, **values)]

    def _logon(self, call: _Call) -> list[Message]:
        """A session key (used exactly like an API key). The local server has one user: logon
        is authorised by ``pw`` equal to its key's password (or by a key or JWT)."""
        if not call.params.get("user") or not call.params.get("pw"):
            raise _Refused("AuthError", "logon needs user and pw")
        user = call.params["user"]
        session = self.keys.issue(None, ttl=_KEY_TTL, user=user)
        return [self.make("MLinkLogon", userName=user, apiKey=session)]


_NUMERIC = frozenset({"Float", "Double", "Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong"})


def _spec(cls: type[Message], wire: str) -> FieldSpec | None:
    """The top-level field of a (possibly nested, ``okey.tk``) wire path."""
    try:
        return cls.SPEC.field(wire.split(".", maxsplit=1)[0])
    except KeyError:
        return None


def _keys_of(record: Message) -> list[Any]:
    """Every security key a record carries (its primary key parts first)."""
    found: list[Any] = []
    pkey = getattr(record, "pkey", None)
    sources = [pkey] if pkey is not None and hasattr(pkey, "SPEC") else []
    for source in (*sources, record):
        for spec in source.SPEC.fields:
            if spec.sr_type in ("TickerKey", "ExpiryKey", "OptionKey"):
                value = getattr(source, spec.name)
                if value is not None:
                    found.append(value)
    return found


def _narrow(key: Any, kind: str) -> Any:
    if kind == "t":
        return getattr(key, "ticker_key", key) if hasattr(key, "ticker") else None
    if kind == "e":
        return getattr(key, "expiry_key", key) if hasattr(key, "expiration") else None
    return key if hasattr(key, "strike") else None


def has_key(record: Message, wanted: str, attr: str | None) -> bool:
    """Whether ``record`` carries the security key ``wanted`` (flat text; ``attr`` narrows
    each key first, e.g. ``ticker_key``)."""
    for key in _keys_of(record):
        narrowed = key if attr is None else getattr(key, attr, key)
        if str(narrowed) == wanted or str(key) == wanted:
            return True
    return False


def _single_pkey(cls: type[Message], value: Any) -> Any:
    """The primary-key object of a message type whose key has one part."""
    pkey_type = cls.SPEC.field("pkey").type
    assert pkey_type is not None
    return pkey_type(**{pkey_type.SPEC.fields[0].name: value})
