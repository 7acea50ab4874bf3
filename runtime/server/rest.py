"""The local server's REST commands, as a pure function of (encoding, parameters, body).

No I/O here: :class:`RestHandler` turns one request into response bytes (records plus the
trailing QueryResult, in the endpoint's encoding), so the HTTP adapter stays a few lines and
the commands are testable without a socket. The where / view / order grammar is the client's
(:mod:`srmlink.query`), so both sides agree on its meaning.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from ..codec import Encoding, UnknownMessage, decode, encode
from ..errors import (
    DecodeError,
    EncodeError,
    FramingError,
    QueryError,
    SRMLinkError,
    UnknownMessageError,
)
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
from ..rest.commands import MAX_LIMIT as _MAX_LIMIT
from .aggregate import bucket_keys, parse_group, parse_measures, stats
from .store import LiveStore

__all__ = ["ALIASES", "RestHandler", "has_key"]

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


class _Refused(Exception):
    """A request the server answers with a QueryResult other than Ok."""

    def __init__(self, result: str, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


def normalise_params(raw: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names, expand aliases (``mt`` -> ``msgtype``)."""
    out: dict[str, str] = {}
    for name, value in raw.items():
        lowered = name.lower()
        out[ALIASES.get(lowered, lowered)] = value
    return out


class RestHandler:
    """Answers MLink REST commands from a :class:`LiveStore` and a registry."""

    def __init__(self, store: LiveStore, registry: Registry, api_key: str | None = None) -> None:
        self.store = store
        self.registry = registry
        self.api_key = api_key
        self._commands: dict[str, Callable[[dict[str, str], bytes, Encoding], list[Message]]] = {
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

    # ---- helpers -------------------------------------------------------------------------------

    def make(self, name: str, /, **values: Any) -> Message:
        """A record of type ``name`` with fields given by wire name (see :func:`make`)."""
        return make(self.registry, name, **values)

    def _result(self, result: str, detail: str | None, sent: int, started: float) -> Message:
        return self.make(
            "QueryResult",
            result=result,
            detail=detail,
            numMessagesSent=sent,
            queryElapsed=time.perf_counter() - started,
        )

    def _class(self, params: Mapping[str, str]) -> type[Message]:
        name = params.get("msgtype")
        if not name:
            raise _Refused("Error", "msgtype is required")
        try:
            return self.registry.lookup(name)
        except UnknownMessageError as exc:
            raise _Refused("Error", f"unknown msgtype {name!r}") from exc

    def authorised_key(self, token: str) -> bool:
        """Whether ``token`` (``KEY`` or ``KEY.PASSWORD``) may use this server."""
        if self.api_key is None:
            return True
        return bool(token) and (token == self.api_key or token.partition(".")[0] == self.api_key)

    def _authorised(self, params: Mapping[str, str]) -> bool:
        return self.authorised_key(params.get("apikey", ""))

    # ---- entry point ---------------------------------------------------------------------------

    def handle(self, encoding: Encoding, raw_params: Mapping[str, str], body: bytes) -> bytes:
        """The response body for one request (always ends with a QueryResult)."""
        started = time.perf_counter()
        params = normalise_params(raw_params)
        records: list[Message] = []
        try:
            if not self._authorised(params):
                raise _Refused("AuthError", "invalid api key")
            command = self._commands.get(params.get("cmd", "").lower())
            if command is None:
                raise _Refused("Error", f"unknown cmd {params.get('cmd', '')!r}")
            records = command(params, body, encoding)
            trailer = self._result("Ok", None, len(records), started)
        except _Refused as exc:
            records, trailer = [], self._result(exc.result, exc.detail, 0, started)
        except (QueryError, SRMLinkError, ValueError) as exc:
            records, trailer = [], self._result("Error", str(exc), 0, started)
        usable = (
            records
            if encoding != "proto"
            else [r for r in records if r.SPEC.origin != "dictionary" and r.MSG_NUM is not None]
        )
        try:
            return encode([*usable, trailer], encoding)
        except EncodeError as exc:
            # A value the encoding cannot carry (an enum value with no protobuf number).
            return encode([self._result("Error", str(exc), 0, started)], encoding)

    # ---- commands ------------------------------------------------------------------------------

    def _getmsgtypes(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        out = []
        for entry in self.registry.entries():
            if entry.number is None:
                continue
            cls = self.registry.by_name(entry.name) if entry.defined else None
            names = {s.sr_type for s in cls.SPEC.fields} if cls is not None else set()
            keys = {
                s.sr_type
                for f in (cls.SPEC.fields if cls else ())
                if f.type is not None and hasattr(f.type, "SPEC")
                for s in f.type.SPEC.fields
            }
            has = names | keys
            out.append(
                self.make(
                    "MsgDesc",
                    name=entry.name,
                    mNum=entry.number,
                    **self._token(entry.token, enc),
                    hasTKey="Yes" if "TickerKey" in has else "No",
                    hasEKey="Yes" if "ExpiryKey" in has else "No",
                    hasOKey="Yes" if "OptionKey" in has else "No",
                )
            )
        return out

    def _token(self, token: str | None, encoding: Encoding) -> dict[str, str | None]:
        """MsgDesc's token member: ``mToken`` (2026) or ``mCat`` (2023), and only a token the
        encoding can carry (the 2026 proto enum lacks some the dictionary uses, such as
        GlobalDefinition: protobuf has no number to send for them)."""
        desc = self.registry.by_name("MsgDesc")
        for wire in ("mToken", "mCat"):
            if not has_field(desc, wire):
                continue
            enum = desc.SPEC.field(wire).type
            if token is not None and encoding == "proto" and enum is not None:
                token = token if enum.from_wire(token).number is not None else None
            return {wire: token}
        return {}

    def _getschema(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        cls = self._class(params)
        out: list[Message] = []
        position = 0

        def add(spec: Any, is_pkey: bool, repeater: str | None) -> None:
            nonlocal position
            position += 1
            enum = spec.type if spec.sr_type in ("Enum", "Flag") else None
            out.append(
                self.make(
                    "FieldDesc",
                    pos=position,
                    name=spec.wire_name,
                    fNum=spec.proto_number,
                    isPkey="Yes" if is_pkey else "No",
                    inRepeater=repeater,
                    fType=spec.sr_type,
                    eName=enum.__name__ if enum else None,
                    eSet=",".join(str(m) for m in enum) if enum else None,
                )
            )

        for spec in cls.SPEC.fields:
            if spec.sr_type == "PKey" and spec.type is not None:
                for part in spec.type.SPEC.fields:
                    add(part, True, None)
            elif spec.sr_type == "Repeater" and spec.type is not None:
                add(spec, False, None)
                for child in spec.type.SPEC.fields:
                    add(child, False, spec.wire_name)
            else:
                add(spec, False, None)
        return out

    def _getlayout(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        self._class(params)
        if "MsgLayout" not in self.registry:
            # No published schema defines MsgLayout / FieldLayout, so there is nothing typed to
            # answer with; say so rather than invent records.
            raise _Refused("Error", "getlayout: this schema defines no MsgLayout records")
        raise _Refused("Error", "getlayout: binary layouts are not served locally")

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

    def _getmsg(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        cls = self._class(params)
        key = params.get("pkey")
        if not key:
            raise _Refused("Error", "getmsg needs pkey")
        found = self.store.get(cls.MSG_NAME, key)
        return [found] if found is not None else []

    def _getmsgs(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        cls = self._class(params)
        records = self._filtered(cls, params)
        if params.get("order"):
            records.sort(key=sort_key(parse_order(params["order"]), cls))
        limit = params.get("limit")
        if limit:
            if not limit.isdigit() or not 1 <= int(limit) <= _MAX_LIMIT:
                raise _Refused("Error", f"limit must be 1..{_MAX_LIMIT}, not {limit!r}")
            records = records[: int(limit)]
        if params.get("view"):
            view = parse_view(params["view"])
            records = [apply_view(r, view) for r in records]
        return records

    def _getcount(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        cls = self._class(params)
        return [self.make("MLinkCount", count=len(self._filtered(cls, params)))]

    def _keyset(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        cls = self._class(params)
        kind = params["cmd"].lower()[3]  # t / e / o
        seen: dict[str, Any] = {}
        for record in self._filtered(cls, params):
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

    def _getsummary(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        cls = self._class(params)
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
                        "AggregateString",
                        name=wire,
                        fNum=spec.proto_number,
                        recCount=len(records),
                        cnt=sum(counts.values()),
                        Value=[{"value": v, "cnt": n} for v, n in counts.most_common()],
                    )
                )
                continue
            out.append(self._numeric(wire, spec, len(records), values, {}))
        return out

    def _numeric(
        self,
        wire: str,
        spec: FieldSpec | None,
        rec_count: int,
        values: list[Any],
        keys: dict[str, str],
    ) -> Message:
        result = stats(values)
        return self.make(
            "AggregateNumeric",
            name=wire,
            fNum=spec.proto_number if spec is not None else None,
            recCount=rec_count,
            cnt=result.cnt,
            sum=result.sum,
            avg=result.avg,
            min=result.min,
            max=result.max,
            **keys,
        )

    def _getaggregate(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        cls = self._class(params)
        records = self._filtered(cls, params)
        terms = parse_group(params.get("group", ""))
        getters = [field_getter(cls, term.path)[1] for term in terms]
        measures = [field_getter(cls, path) for path in parse_measures(params.get("measure", ""))]
        out = []
        for bucket, members in bucket_keys(records, terms, getters).items():
            keys = {f"key{i}": value for i, value in enumerate(bucket, start=1)}
            if not measures:
                out.append(self.make("AggregateCount", recCount=len(members), **keys))
            for wire, get in measures:
                values = [get(r) for r in members]
                out.append(self._numeric(wire, _spec(cls, wire), len(members), values, keys))
        limit = params.get("limit")
        return out[: int(limit)] if limit and limit.isdigit() else out

    def _postmsgs(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        try:
            items = decode(body, enc, registry=self.registry)
        except (DecodeError, FramingError) as exc:
            raise _Refused("Error", f"postmsgs: {exc}") from exc
        acks = []
        for item in items:
            if isinstance(item, UnknownMessage):
                acks.append(
                    self.make(
                        "PostAck",
                        msgType=item.mnum,
                        result="Error",
                        detail=f"unknown message type {item.name or item.mnum}",
                    )
                )
                continue
            key, stamp = self.store.put(item)
            acks.append(
                self.make(
                    "PostAck",
                    msgType=item.MSG_NUM,
                    sendTs=stamp,
                    pkey=key,
                    result="Ok",
                )
            )
        return acks

    def _getapikey(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        return [self.make("UserApiKey", label="srmlink local server",
                          plaintextApiKey=self.api_key or secrets.token_hex(8))]  # fmt: skip

    def _logon(self, params: dict[str, str], body: bytes, enc: Encoding) -> list[Message]:
        if not params.get("user") or not params.get("pw"):
            raise _Refused("AuthError", "logon needs user and pw")
        return [
            self.make(
                "MLinkLogon", userName=params["user"], apiKey=self.api_key or secrets.token_hex(8)
            )
        ]


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
