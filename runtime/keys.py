"""SpiderRock security keys: :class:`TickerKey`, :class:`ExpiryKey` and :class:`OptionKey`.

Each key has three interchangeable forms:

- flat text, ``SSSS-TS-AT[-YYYY-MM-DD[-XXXX-CP]]`` (``AAPL-NMS-EQT-2023-07-28-500-C``): symbol,
  ticker source, asset type, expiration, strike and call/put;
- compact JSON, as MLink sends it inside messages:
  ``{"at": "EQT", "ts": "NMS", "tk": "AAPL", "dt": "2023-07-28", "xx": 500, "cp": "Call"}``;
- the raw field values of the protobuf ``TickerKey`` / ``ExpiryKey`` / ``OptionKey`` messages of
  ``spiderrock_common.proto``, as a plain tuple, so no protobuf library is needed here.

Rules callers can rely on:

- Symbols may contain ``-`` (the text is split from the right); they may not be empty or contain
  whitespace, unprintable characters or ``|`` (composite primary keys join parts with ``|``).
- Asset types and ticker sources are upper-case tokens: a letter, then letters or digits. They stay
  strings, so a value newer than the tables here still parses and round-trips through text and
  JSON; only the protobuf form needs it to be known. Because these tokens start with a letter,
  :func:`parse_key` can always tell the three kinds apart.
- ``K.parse(str(key)) == key`` for every valid key: strikes print in the shortest positional form
  that reads back as the same float (``500``, ``12.5``, ``0.00001``; never an exponent).
- Keys are immutable, hashable and ordered field by field in constructor order (call/put ordered
  by protobuf number: Call < Put < Both). An invalid key cannot be constructed (``ValueError``).
- Malformed text or JSON raises :class:`~srmlink.errors.KeyParseError`.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import enum
import functools
import itertools
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Self, TypeVar

import attrs

from .errors import KeyParseError

__all__ = ["CallPut", "ExpiryKey", "OptionKey", "TickerKey", "parse_key"]


@functools.total_ordering
class CallPut(enum.Enum):
    """Call, put or both: the JSON name, the flat-text letter and the protobuf number.

    The protobuf enum calls ``BOTH`` ``CALLPUT_PAIR`` (3).
    """

    CALL = ("Call", "C", 1)
    PUT = ("Put", "P", 2)
    BOTH = ("Both", "B", 3)

    wire_name: str
    letter: str
    number: int

    def __init__(self, wire_name: str, letter: str, number: int) -> None:
        self.wire_name = wire_name
        self.letter = letter
        self.number = number

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, CallPut):
            return NotImplemented
        return self.number < other.number

    def __repr__(self) -> str:
        return f"CallPut.{self.name}"


# Protobuf numbers from spiderrock_common.proto (2026-07): a name's number is its position + 1;
# 0 is the unspecified value, which no valid key has.
# fmt: off
_ASSET_TYPES = (
    "EQT", "IDX", "BND", "CUR", "COM", "FUT", "SYN", "WAR", "FLX", "MUT", "SPD", "MM", "MF",
    "COIN", "TOKEN", "ANY", "RATE",
)
_TICKER_SRCS = (
    "SR", "NMS", "CME", "ICE", "CFE", "CBOT", "NYMEX", "COMEX", "RUT", "CIDX", "ARCA", "NYSE",
    "OTC", "NSDQ", "MFQS", "MIAX", "DJI", "CUSIP", "ISIN", "BXE", "SCE", "ANY", "CXE", "DXE",
    "NXAM", "NXBR", "NXLS", "NXML", "NXOS", "NXP", "EUREX", "CEDX", "ICEFEC", "ICEFEF", "CEQT",
)
# fmt: on
_ASSET_TYPE_NUMBERS = {name: number for number, name in enumerate(_ASSET_TYPES, 1)}
_TICKER_SRC_NUMBERS = {name: number for number, name in enumerate(_TICKER_SRCS, 1)}
_CALL_PUTS_BY_NUMBER = {member.number: member for member in CallPut}
_CALL_PUTS_BY_WORD = {
    word.lower(): member for member in CallPut for word in (member.wire_name, member.letter)
}

_TOKEN = re.compile(r"[A-Z][A-Z0-9]*")
_DIGITS = re.compile(r"[0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Only the plain positional form: float() would also take "1e5", "inf" or "1_000".
_STRIKE = re.compile(r"[0-9]+(?:\.[0-9]+)?")

_T = TypeVar("_T")
_TickerTuple = tuple[int, int, str]
_DateTuple = tuple[int, int, int]
_ExpiryTuple = tuple[int, int, str, _DateTuple]
_OptionTuple = tuple[int, int, str, _DateTuple, float, int]


class _Bad(Exception):
    """One part of a key is malformed; ``position`` is relative to that part."""

    def __init__(self, reason: str, position: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected a string, got {type(value).__name__}")
    return value


def _token(value: object) -> str:
    text = _string(value)
    if _TOKEN.fullmatch(text) is None:
        raise _Bad(f"{text!r} is not an upper-case letter followed by upper-case letters/digits")
    return text


def _is_symbol(text: str) -> bool:
    # isprintable() rejects every whitespace character but the space (and every control).
    return bool(text) and text.isprintable() and " " not in text and "|" not in text


def _symbol(value: object) -> str:
    text = _string(value)
    if not text:
        raise _Bad("empty symbol")
    # Keys are built for every decoded record: take the C-speed path for the common case.
    if _is_symbol(text):
        return text
    for index, char in enumerate(text):
        if char == "|" or char.isspace() or not char.isprintable():
            raise _Bad(f"{char!r} is not allowed in a symbol", index)
    return text


def _date(value: object) -> _dt.date:
    text = _string(value)
    # Fast path for the common, well-formed case; the checks below only explain failures.
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and _ISO_DATE.fullmatch(text):
        try:
            return _dt.date.fromisoformat(text)
        except ValueError:
            pass
    pieces = text.split("-")
    if len(pieces) != 3:
        raise _Bad(f"{text!r} is not a YYYY-MM-DD date")
    for piece, name, width, offset in zip(
        pieces, ("year", "month", "day"), (4, 2, 2), (0, 5, 8), strict=True
    ):
        if len(piece) != width or _DIGITS.fullmatch(piece) is None:
            raise _Bad(f"{name} {piece!r} is not {width} digits", offset)
    year, month, day = map(int, pieces)
    if year < _dt.MINYEAR:
        raise _Bad("year 0000 does not exist")
    if not 1 <= month <= 12:
        raise _Bad(f"month {month} is not 01-12", 5)
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise _Bad(f"day {day} is not in {year:04}-{month:02}", 8)
    return _dt.date(year, month, day)


def _strike(value: object) -> float:
    if value.__class__ is not float and (
        isinstance(value, bool) or not isinstance(value, numbers.Real)
    ):
        raise _Bad(f"expected a number, got {type(value).__name__}")
    try:
        number = float(value) + 0.0  # + 0.0 turns -0.0 into 0.0, which prints as "0"
    except OverflowError:
        number = math.inf
    if not (math.isfinite(number) and number >= 0):
        raise _Bad(f"{value!r} is not a finite number >= 0")
    return number


def _strike_text(value: str) -> float:
    if _STRIKE.fullmatch(value) is None:
        raise _Bad(f"{value!r} is not a decimal number such as 500 or 12.5")
    number = float(value)
    if not math.isfinite(number):
        raise _Bad(f"{value[:20]}... is too large")
    return number


def _call_put(value: object) -> CallPut:
    member = _CALL_PUTS_BY_WORD.get(_string(value).lower())
    if member is None:
        raise _Bad(f"{value!r} is not C, P, B, Call, Put or Both")
    return member


def _expiration(value: object) -> _dt.date:
    # A datetime is a date too, but would print its time and break the flat form.
    if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
        raise _Bad(f"expected a datetime.date, got {type(value).__name__}")
    return value


def _to_strike(value: float) -> float:
    try:
        return _strike(value)
    except _Bad as exc:
        raise ValueError(f"invalid strike: {exc.reason}") from None


def _validator(check: Callable[[object], _T]) -> Callable[[object, attrs.Attribute[_T], _T], None]:
    def validate(_instance: object, attribute: attrs.Attribute[_T], value: _T) -> None:
        try:
            check(value)
        except _Bad as exc:
            raise ValueError(f"invalid {attribute.name}: {exc.reason}") from None

    return validate


def _format_strike(strike: float) -> str:
    # repr gives the shortest digits that read back as the same float; Decimal writes them out
    # without an exponent, whose '-' would otherwise split the key.
    text = format(Decimal(repr(strike)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _parse_text(text: str, shape: str) -> list[Any]:
    """The values of ``text`` in constructor order; ``shape`` says which kind of key it is."""
    if not isinstance(text, str):
        raise TypeError(f"expected a key string, got {type(text).__name__}")
    count = shape.count("-")
    parts = text.rsplit("-", count)
    if len(parts) <= count:
        reason = f"expected {shape}, found {len(parts)} of its {count + 1} '-'-separated parts"
        raise KeyParseError(text, len(text), reason)
    offsets = list(itertools.accumulate((len(part) + 1 for part in parts), initial=0))

    def part(index: int, check: Callable[[str], object], what: str, width: int = 1) -> Any:
        piece = "-".join(parts[index : index + width])
        try:
            return check(piece)
        except _Bad as exc:
            raise KeyParseError(
                text, offsets[index] + exc.position, f"{what}: {exc.reason}"
            ) from None

    symbol = part(0, _symbol, "symbol")
    ticker_src = part(1, _token, "ticker source")
    values = [part(2, _token, "asset type"), ticker_src, symbol]
    if count > 2:
        values.append(part(3, _date, "expiration", width=3))
    if count > 5:
        values += [part(6, _strike_text, "strike"), part(7, _call_put, "call/put")]
    return values


_JSON_MEMBERS: dict[str, tuple[Callable[[object], object], str]] = {
    "at": (_token, "asset type"),
    "ts": (_token, "ticker source"),
    "tk": (_symbol, "symbol"),
    "dt": (_date, "expiration"),
    "xx": (_strike, "strike"),
    "cp": (_call_put, "call/put"),
}


def _parse_json(obj: Mapping[str, object], members: str) -> list[Any]:
    """The values of the JSON members named in ``members`` (space separated), in that order."""
    if not isinstance(obj, Mapping):
        raise KeyParseError(repr(obj), 0, f"expected a JSON object, got {type(obj).__name__}")
    values = []
    for member in members.split():
        check, what = _JSON_MEMBERS[member]
        if member not in obj:
            raise KeyParseError(repr(obj), 0, f"member {member!r} ({what}) is missing")
        try:
            values.append(check(obj[member]))
        except _Bad as exc:
            raise KeyParseError(repr(obj), 0, f"member {member!r} ({what}): {exc.reason}") from None
    return values


def _proto_number(key: object, what: str, name: str, table: Mapping[str, int]) -> int:
    number = table.get(name)
    if number is None:
        raise ValueError(
            f"{key}: {what} {name!r} has no protobuf number in spiderrock_common.proto"
        )
    return number


def _proto_name(what: str, number: object, names: tuple[str, ...]) -> str:
    if isinstance(number, int) and 1 <= number <= len(names):
        return names[number - 1]
    raise ValueError(f"{what} {number!r} is unspecified or unknown")


def _head_to_proto(key: TickerKey | ExpiryKey | OptionKey) -> _TickerTuple:
    return (
        _proto_number(key, "asset type", key.asset_type, _ASSET_TYPE_NUMBERS),
        _proto_number(key, "ticker source", key.ticker_src, _TICKER_SRC_NUMBERS),
        key.ticker,
    )


def _head_from_proto(asset_type: int, ticker_src: int, ticker: str) -> tuple[str, str, str]:
    return (
        _proto_name("AssetType", asset_type, _ASSET_TYPES),
        _proto_name("TickerSrc", ticker_src, _TICKER_SRCS),
        ticker,
    )


def _head_to_json(key: TickerKey | ExpiryKey | OptionKey) -> dict[str, object]:
    return {"at": key.asset_type, "ts": key.ticker_src, "tk": key.ticker}


# Tokens and dates already found valid. Decoders parse a key per record and a feed has few
# distinct asset types, ticker sources and expirations: a set / dict look-up instead of a
# regex and a date parse. Bounded, in case a feed sends endless junk that happens to be valid.
_GOOD_TOKENS: set[str] = {*_ASSET_TYPES, *_TICKER_SRCS}
_GOOD_DATES: dict[str, _dt.date] = {}
_MEMO_LIMIT = 1 << 14


def _is_token(text: str) -> bool:
    if text in _GOOD_TOKENS:
        return True
    if _TOKEN.fullmatch(text) is None:
        return False
    if len(_GOOD_TOKENS) < _MEMO_LIMIT:
        _GOOD_TOKENS.add(text)
    return True


def _fast_head(obj: object) -> tuple[str, str, str] | None:
    """The (at, ts, tk) of a well-formed compact JSON key, or None to take the checked path.

    Decoders read a key per record; this is the common case at C speed. Anything unusual
    falls back to :func:`_parse_json`, which gives the precise error.
    """
    if obj.__class__ is not dict:
        return None
    get = obj.get
    at, ts, tk = get("at"), get("ts"), get("tk")
    if (
        at.__class__ is str
        and ts.__class__ is str
        and tk.__class__ is str
        and _is_token(at)
        and _is_token(ts)
        and _is_symbol(tk)
    ):
        return at, ts, tk
    return None


def _fast_date(obj: object) -> _dt.date | None:
    dt = obj.get("dt")  # type: ignore[attr-defined]
    if dt.__class__ is not str:
        return None
    found = _GOOD_DATES.get(dt)
    if found is None and len(dt) == 10 and _ISO_DATE.fullmatch(dt):
        try:
            found = _dt.date.fromisoformat(dt)
        except ValueError:
            return None
        if len(_GOOD_DATES) >= _MEMO_LIMIT:
            _GOOD_DATES.clear()
        _GOOD_DATES[dt] = found
    return found


@attrs.frozen(order=True)
class TickerKey:
    """An underlying: ``AAPL-NMS-EQT`` (symbol, ticker source, asset type)."""

    asset_type: str = attrs.field(validator=_validator(_token))
    ticker_src: str = attrs.field(validator=_validator(_token))
    ticker: str = attrs.field(validator=_validator(_symbol))

    def __str__(self) -> str:
        return f"{self.ticker}-{self.ticker_src}-{self.asset_type}"

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``SSSS-TS-AT``; raises :class:`~srmlink.errors.KeyParseError`."""
        return _checked(cls, _parse_text(text, "SSSS-TS-AT"))

    def to_json(self) -> dict[str, object]:
        """The compact JSON form: ``{"at": ..., "ts": ..., "tk": ...}``."""
        return _head_to_json(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> Self:
        """Read the compact JSON form, ignoring other members; raises KeyParseError."""
        head = _fast_head(obj)
        if head is not None:
            return _checked(cls, head)
        return _checked(cls, _parse_json(obj, "at ts tk"))

    def to_proto_tuple(self) -> _TickerTuple:
        """``(asset_type, ticker_src, ticker)``; ValueError for a name with no proto number."""
        return _head_to_proto(self)

    @classmethod
    def from_proto_tuple(cls, fields: _TickerTuple) -> Self:
        """The key from :meth:`to_proto_tuple`'s form; raises ValueError for unknown numbers."""
        head = _head_from_proto(*fields)
        if _is_symbol(head[2]):
            return _checked(cls, head)
        return cls(*head)


@attrs.frozen(order=True)
class ExpiryKey:
    """An expiration of an underlying: ``AAPL-NMS-EQT-2023-07-28``."""

    asset_type: str = attrs.field(validator=_validator(_token))
    ticker_src: str = attrs.field(validator=_validator(_token))
    ticker: str = attrs.field(validator=_validator(_symbol))
    expiration: _dt.date = attrs.field(validator=_validator(_expiration))

    def __str__(self) -> str:
        return f"{self.ticker}-{self.ticker_src}-{self.asset_type}-{self.expiration.isoformat()}"

    @property
    def ticker_key(self) -> TickerKey:
        """The underlying's key."""
        return TickerKey(self.asset_type, self.ticker_src, self.ticker)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``SSSS-TS-AT-YYYY-MM-DD``; raises :class:`~srmlink.errors.KeyParseError`."""
        return _checked(cls, _parse_text(text, "SSSS-TS-AT-YYYY-MM-DD"))

    def to_json(self) -> dict[str, object]:
        """The compact JSON form: the ticker key's members and ``"dt": "YYYY-MM-DD"``."""
        return {**_head_to_json(self), "dt": self.expiration.isoformat()}

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> Self:
        """Read the compact JSON form, ignoring other members; raises KeyParseError."""
        head = _fast_head(obj)
        expiration = _fast_date(obj) if head is not None else None
        if head is not None and expiration is not None:
            return _checked(cls, (*head, expiration))
        return _checked(cls, _parse_json(obj, "at ts tk dt"))

    def to_proto_tuple(self) -> _ExpiryTuple:
        """The protobuf fields, the date as ``(year, month, day)``; ValueError as for tickers."""
        date = self.expiration
        return (*_head_to_proto(self), (date.year, date.month, date.day))

    @classmethod
    def from_proto_tuple(cls, fields: _ExpiryTuple) -> Self:
        """The key from :meth:`to_proto_tuple`'s form; raises ValueError for unknown numbers."""
        asset_type, ticker_src, ticker, expiration = fields
        head = _head_from_proto(asset_type, ticker_src, ticker)
        if _is_symbol(ticker):
            return _checked(cls, (*head, _dt.date(*expiration)))
        return cls(*head, _dt.date(*expiration))


@attrs.frozen(order=True)
class OptionKey:
    """An option: ``AAPL-NMS-EQT-2023-07-28-500-C`` (expiry key, strike, call/put).

    ``strike`` is stored as a float (an int is converted, ``-0.0`` becomes ``0.0``).
    """

    asset_type: str = attrs.field(validator=_validator(_token))
    ticker_src: str = attrs.field(validator=_validator(_token))
    ticker: str = attrs.field(validator=_validator(_symbol))
    expiration: _dt.date = attrs.field(validator=_validator(_expiration))
    strike: float = attrs.field(converter=_to_strike)
    call_put: CallPut = attrs.field(validator=attrs.validators.instance_of(CallPut))

    def __str__(self) -> str:
        return (
            f"{self.ticker}-{self.ticker_src}-{self.asset_type}-{self.expiration.isoformat()}"
            f"-{_format_strike(self.strike)}-{self.call_put.letter}"
        )

    @property
    def expiry_key(self) -> ExpiryKey:
        """The key of this option's expiration."""
        return ExpiryKey(self.asset_type, self.ticker_src, self.ticker, self.expiration)

    @property
    def ticker_key(self) -> TickerKey:
        """The underlying's key."""
        return TickerKey(self.asset_type, self.ticker_src, self.ticker)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``SSSS-TS-AT-YYYY-MM-DD-XXXX-CP`` (CP: C/P/B/Call/Put/Both, any case)."""
        return _checked(cls, _parse_text(text, "SSSS-TS-AT-YYYY-MM-DD-XXXX-CP"))

    def to_json(self) -> dict[str, object]:
        """The compact JSON form: the expiry key's members, ``"xx"`` (an int when integral,
        else a float) and ``"cp"`` (``"Call"``, ``"Put"`` or ``"Both"``)."""
        strike = self.strike
        return {
            **_head_to_json(self),
            "dt": self.expiration.isoformat(),
            "xx": int(strike) if strike.is_integer() else strike,
            "cp": self.call_put.wire_name,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> Self:
        """Read the compact JSON form, ignoring other members; raises KeyParseError."""
        head = _fast_head(obj)
        expiration = _fast_date(obj) if head is not None else None
        if head is not None and expiration is not None:
            get = obj.get
            strike, cp = get("xx"), get("cp")
            if strike.__class__ is int and -(2**53) <= strike <= 2**53:
                strike = float(strike)
            member = _CALL_PUTS_BY_WORD.get(cp.lower()) if cp.__class__ is str else None
            if member is not None and strike.__class__ is float:
                value = strike + 0.0
                if 0 <= value < math.inf:
                    return _checked(cls, (*head, expiration, value, member))
        return _checked(cls, _parse_json(obj, "at ts tk dt xx cp"))

    def to_proto_tuple(self) -> _OptionTuple:
        """The protobuf fields, the date as ``(year, month, day)``; ValueError as for tickers."""
        date = self.expiration
        head = _head_to_proto(self)
        return (*head, (date.year, date.month, date.day), self.strike, self.call_put.number)

    @classmethod
    def from_proto_tuple(cls, fields: _OptionTuple) -> Self:
        """The key from :meth:`to_proto_tuple`'s form; raises ValueError for unknown numbers."""
        asset_type, ticker_src, ticker, expiration, strike, call_put = fields
        member = _CALL_PUTS_BY_NUMBER.get(call_put)
        if member is None:
            raise ValueError(f"CallPut {call_put!r} is unspecified or unknown")
        head = _head_from_proto(asset_type, ticker_src, ticker)
        date = _dt.date(*expiration)
        if strike.__class__ is float and 0 <= strike < math.inf and _is_symbol(ticker):
            return _checked(cls, (*head, date, strike + 0.0, member))
        return cls(*head, date, strike, member)  # the validators name what is wrong


def _checked(cls: type[_T], values: Sequence[Any]) -> _T:
    """A key from parts :func:`_parse_text` / :func:`_parse_json` already validated.

    Decoders build a key per record; running the attrs validators again would double the
    cost of every key for nothing.
    """
    make = _MAKERS.get(cls)
    if make is None:
        make = _MAKERS[cls] = _maker(cls)
    return make(*values)  # type: ignore[no-any-return]


def _maker(cls: type) -> Callable[..., Any]:
    """``f(*values)``: an instance of the frozen slotted ``cls`` with its fields set through
    their slot descriptors, in field order (the cheapest way past a frozen ``__setattr__``)."""
    names = [f.name for f in getattr(cls, "__attrs_attrs__")]  # noqa: B009
    sets = [getattr(cls, "__dict__")[name].__set__ for name in names]  # noqa: B009
    new = object.__new__
    if len(sets) == 6:
        s0, s1, s2, s3, s4, s5 = sets

        def make6(*values: Any) -> Any:
            a, b, c, d, e, f = values
            key: Any = new(cls)
            s0(key, a)
            s1(key, b)
            s2(key, c)
            s3(key, d)
            s4(key, e)
            s5(key, f)
            return key

        return make6

    def make(*values: Any) -> Any:
        if len(values) != len(sets):
            raise AssertionError(f"{cls.__name__} takes {len(sets)} parts, got {len(values)}")
        key: Any = new(cls)
        for put, value in zip(sets, values):  # noqa: B905 - lengths checked above
            put(key, value)
        return key

    return make


_MAKERS: dict[type, Callable[..., Any]] = {}


def parse_key(text: str) -> TickerKey | ExpiryKey | OptionKey:
    """Parse any key's flat text, the kind chosen by its shape; raises KeyParseError.

    Text ending in a strike and C/P/B (or Call/Put/Both) is an :class:`OptionKey`, text ending in
    digits (the day) an :class:`ExpiryKey`, anything else a :class:`TickerKey`.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a key string, got {type(text).__name__}")
    tail = text.rsplit("-", 2)
    if len(tail) == 3 and _STRIKE.fullmatch(tail[1]) and tail[2].lower() in _CALL_PUTS_BY_WORD:
        return OptionKey.parse(text)
    if _DIGITS.fullmatch(tail[-1]):
        return ExpiryKey.parse(text)
    return TickerKey.parse(text)
