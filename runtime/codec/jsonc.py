"""JSON <-> generated objects, one compiled decoder and encoder per class.

Wire names, keys in their compact form, enums as SpiderRock names, DateTime / DateKey /
TimeSpan as text (see :mod:`.values`), repeaters as arrays. Unknown members are ignored; a
member of the wrong type or outside its wire range (:mod:`.limits`) raises
:class:`~srmlink.errors.DecodeError` naming the field. Encoders check the same ranges and raise
only :class:`~srmlink.errors.EncodeError`, naming the message type and field.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from ..enums import SREnum
from ..errors import DecodeError, EncodeError, KeyParseError
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import FieldSpec, MessageSpec
from ._compile import KeyCache, compile_encoder, compile_function, is_frozen, shared_key
from .limits import ENUM_RANGE, MAX_ITEMS, MAX_TEXT, float_limit, int_range
from .values import (
    format_date,
    format_datetime,
    format_timespan,
    parse_date,
    parse_datetime,
    parse_timespan,
)

__all__ = ["json_decoder", "json_encoder"]

Decoder = Callable[[Any], Any]
Encoder = Callable[[Any], dict[str, Any]]

_STRS = frozenset({"String", "Text1", "Text2"})
_KEYS: dict[str, type[Any]] = {
    "TickerKey": TickerKey,
    "ExpiryKey": ExpiryKey,
    "OptionKey": OptionKey,
}


def _bad(field: str, value: object, expected: str) -> DecodeError:
    return DecodeError(
        f"expected {expected}, got {type(value).__name__} {value!r:.60}", field=field
    )


def _out_of_range(field: str, value: object, low: float, high: float) -> DecodeError:
    return DecodeError(f"{value!r:.60} is outside the wire range {low:g}..{high:g}", field=field)


def _float(value: object, field: str, limit: float) -> float:
    """A float member that is not a float of at most ``limit`` in magnitude (the slow path)."""
    if value.__class__ is int or value.__class__ is float:
        number = float(value)
        if -limit <= number <= limit:
            return number
        raise _out_of_range(field, value, -limit, limit)
    raise _bad(field, value, "a number")


def _int(value: object, field: str, low: int, high: int) -> int:
    """An integer member that is not an int within ``low..high`` (the slow path)."""
    if value.__class__ is float and value.is_integer():
        value = int(value)
    if value.__class__ is int:
        if low <= value <= high:
            return value
        raise _out_of_range(field, value, low, high)
    raise _bad(field, value, "an integer")


def _str(value: object, field: str) -> str:
    if value.__class__ is str:
        raise DecodeError(
            f"text of {len(value)} characters: more than a frame holds",
            field=field,
        )
    raise _bad(field, value, "a string")


def _enum(enum: type[SREnum], value: object, field: str) -> SREnum:
    if value.__class__ is str:
        if len(value) > MAX_TEXT:
            return _str(value, field)  # type: ignore[return-value]
        return enum.from_wire(value)
    if value.__class__ is int:
        low, high = ENUM_RANGE
        if not low <= value <= high:
            raise _out_of_range(field, value, low, high)
        return enum.from_number(value)
    raise _bad(field, value, f"a {enum.__name__} name")


def _convert(parse: Callable[[Any], Any], value: object, field: str, what: str) -> Any:
    try:
        return parse(value)
    except (ValueError, TypeError, KeyParseError) as exc:
        raise DecodeError(f"invalid {what} {value!r:.60}: {exc}", field=field) from None


def _list(value: object, field: str) -> list[Any]:
    if value.__class__ is list:
        if len(value) <= MAX_ITEMS:
            return value
        raise DecodeError(
            f"{len(value)} elements: more than a frame holds",
            field=field,
        )
    raise _bad(field, value, "an array")


def _obj(value: object, field: str) -> dict[str, Any]:
    if value.__class__ is dict:
        return value
    raise _bad(field, value, "an object")


_KEY_MEMBERS = {
    "TickerKey": ("at", "ts", "tk"),
    "ExpiryKey": ("at", "ts", "tk", "dt"),
    "OptionKey": ("at", "ts", "tk", "dt", "xx", "cp"),
}


def _key_converter(
    sr_type: str, wrap: Callable[[Any], Any] | None = None
) -> Callable[[Any, str], Any]:
    """Compact JSON key -> key object (or ``wrap(key)``: a primary key holding just it),
    memoised: a stream repeats the same keys constantly, and keys are immutable, so one
    instance per distinct key is safe to share."""
    parse = _KEYS[sr_type].from_json
    names = _KEY_MEMBERS[sr_type]
    members = itemgetter(*names)
    # JSON true == 1 as a dict key: a strike of true would hit the cached key of strike 1
    # (a fresh parse refuses it), so a bool there never takes the cache.
    strike = names.index("xx") if "xx" in names else None
    cache = KeyCache()

    def convert(value: Any, field: str) -> Any:
        if value.__class__ is not dict:
            raise _bad(field, value, f"a {sr_type} object")
        try:
            ident = members(value)
            if strike is not None and ident[strike].__class__ is bool:
                raise TypeError
            found = cache.young.get(ident)
            if found is None:
                found = cache.recall(ident)
        except (KeyError, TypeError):  # a missing or unhashable member: the parser says which
            ident, found = None, None
        if found is None:
            found = _convert(parse, value, field, sr_type)
            if wrap is not None:
                found = wrap(found)
            if ident is not None:
                cache.put(ident, found)
        return found

    return convert


def _decode_lines(spec: FieldSpec, ns: dict[str, Any], i: int) -> list[str]:
    """Source lines converting local ``v`` (not None) for one field, in place."""
    wire = repr(spec.wire_name)
    sr = spec.sr_type
    limit = float_limit(spec)
    if limit is not None:
        return [
            f"if v.__class__ is not float or not {-limit!r} <= v <= {limit!r}: "
            f"v = _float(v, {wire}, {limit!r})"
        ]
    bounds = int_range(spec)
    if bounds is not None:
        low, high = bounds
        return [
            f"if v.__class__ is not int or not {low} <= v <= {high}: "
            f"v = _int(v, {wire}, {low}, {high})"
        ]
    if sr in _STRS:
        return [f"if v.__class__ is not str or len(v) > {MAX_TEXT}: v = _str(v, {wire})"]
    if sr in ("Enum", "Flag") and spec.type is not None:
        ns[f"E{i}"] = spec.type
        ns[f"W{i}"] = spec.type._by_wire
        return [f"v = (W{i}.get(v) if v.__class__ is str else None) or _enum(E{i}, v, {wire})"]
    if sr in _KEYS:
        ns[f"K{i}"] = _key_converter(sr)
        return [f"v = K{i}(v, {wire})"]
    if sr == "DateTime":
        return [
            f"v = _convert(_parse_datetime, _str(v, {wire}) if v.__class__ is not str "
            f"else v, {wire}, 'DateTime')"
        ]
    if sr == "DateKey":
        return [
            f"v = _convert(_parse_date, _str(v, {wire}) if v.__class__ is not str "
            f"else v, {wire}, 'DateKey')"
        ]
    if sr == "TimeSpan":
        return [f"v = _convert(_parse_timespan, v, {wire}, 'TimeSpan')"]
    if sr == "Repeater" and spec.type is not None:
        ns[f"G{i}"] = json_decoder(spec.type)
        return [f"v = tuple([G{i}(_obj(x, {wire})) for x in _list(v, {wire})])"]
    if sr == "PKey" and spec.type is not None:
        ns[f"G{i}"] = json_decoder(spec.type)
        return [f"v = G{i}(_obj(v, {wire}))"]
    raise TypeError(f"no JSON decoding for SR type {sr!r} ({spec.wire_name})")


_BASE_NS: dict[str, Any] = {
    "_float": _float,
    "_int": _int,
    "_str": _str,
    "_enum": _enum,
    "_convert": _convert,
    "_list": _list,
    "_obj": _obj,
    "_parse_datetime": parse_datetime,
    "_parse_date": parse_date,
    "_parse_timespan": parse_timespan,
    "DecodeError": DecodeError,
}
_DECODERS: dict[type, Decoder] = {}
_ENCODERS: dict[type, Encoder] = {}


def json_decoder(cls: type) -> Decoder:
    """``f(obj: dict) -> cls`` for the message / group / key class ``cls`` (cached)."""
    found = _DECODERS.get(cls)
    if found is not None:
        return found
    spec: MessageSpec = cls.SPEC  # type: ignore[attr-defined]
    ns: dict[str, Any] = {
        **_BASE_NS,
        "_cls": cls,
        "_new": object.__new__,
        "_set": object.__setattr__,
    }
    # Frozen classes (primary keys) refuse attribute assignment after construction.
    frozen = is_frozen(cls)
    lines = ["def decode(d):", "    g = d.get", "    try:"]
    shared = shared_key(cls, spec)
    if shared is not None:
        field, hold = shared
        ns["K"] = _key_converter(field.sr_type, hold)
        wire = repr(field.wire_name)
        lines += [f"        v = g({wire})", f"        if v is not None: return K(v, {wire})"]
    lines.append("        o = _new(_cls)")
    for i, f in enumerate(spec.fields):
        lines.append(f"        v = g({f.wire_name!r})")
        lines.append("        if v is not None:")
        lines.extend(f"            {line}" for line in _decode_lines(f, ns, i))
        lines.append(f"        _set(o, {f.name!r}, v)" if frozen else f"        o.{f.name} = v")
    lines += [
        "    except DecodeError as exc:",
        "        if exc.message_type is None:",
        f"            raise DecodeError(exc.reason, message_type={_type_name(cls)!r},"
        " field=exc.field) from None",
        "        raise",
        "    return o",
    ]
    decoder = compile_function("decode", lines, ns)
    _DECODERS[cls] = decoder
    return decoder


def _type_name(cls: type) -> str:
    return str(getattr(cls, "MSG_NAME", cls.__name__))


def _float_out(value: object, limit: float) -> float:
    """A float field's value that is not a float within ``limit`` (the slow path)."""
    if value.__class__ is int or value.__class__ is float:
        number = float(value)
        if -limit <= number <= limit:
            return number
        raise EncodeError(f"{value!r:.60} is not a finite number within +-{limit:g}")
    raise EncodeError(f"expected a number, got {type(value).__name__}")


def _int_out(value: object, low: int, high: int) -> int:
    """An integer field's value that is not an int within ``low..high`` (the slow path)."""
    if value.__class__ is float and value.is_integer():
        value = int(value)
    if value.__class__ is not int:
        raise EncodeError(f"expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise EncodeError(f"{value!r:.60} is outside the wire range {low}..{high}")
    return value


def _str_out(value: object) -> str:
    raise EncodeError(f"expected a string, got {type(value).__name__}")


def _encode_expr(spec: FieldSpec, ns: dict[str, Any], i: int) -> str:
    sr = spec.sr_type
    limit = float_limit(spec)
    if limit is not None:
        check = f"v.__class__ is float and {-limit!r} <= v <= {limit!r}"
        return f"v if {check} else _float_out(v, {limit!r})"
    bounds = int_range(spec)
    if bounds is not None:
        low, high = bounds
        return f"v if v.__class__ is int and {low} <= v <= {high} else _int_out(v, {low}, {high})"
    if sr in _STRS:
        return "v if v.__class__ is str else _str_out(v)"
    if sr in ("Enum", "Flag"):
        return "v.wire_name if v.wire_name is not None else v.number"
    if sr in _KEYS:
        return "v.to_json()"
    if sr == "DateTime":
        return "_format_datetime(v)"
    if sr == "DateKey":
        return "_format_date(v)"
    if sr == "TimeSpan":
        return "_format_timespan(v)"
    if sr in ("Repeater", "PKey") and spec.type is not None:
        ns[f"G{i}"] = json_encoder(spec.type)
        return f"[G{i}(x) for x in v]" if sr == "Repeater" else f"G{i}(v)"
    raise TypeError(f"no JSON encoding for SR type {sr!r} ({spec.wire_name})")


def json_encoder(cls: type) -> Encoder:
    """``f(obj: cls) -> dict`` with wire names; unset (None) fields are left out (cached).

    Raises only EncodeError (naming the message type and field): a value of the wrong type or
    outside its wire range, NaN or infinity (JSON has neither).
    """
    found = _ENCODERS.get(cls)
    if found is not None:
        return found
    spec: MessageSpec = cls.SPEC  # type: ignore[attr-defined]
    ns: dict[str, Any] = {
        "_format_datetime": format_datetime,
        "_format_date": format_date,
        "_format_timespan": format_timespan,
        "_float_out": _float_out,
        "_int_out": _int_out,
        "_str_out": _str_out,
    }
    fields = [
        (
            f.wire_name,
            [f"v = o.{f.name}", f"if v is not None: d[{f.wire_name!r}] = {_encode_expr(f, ns, i)}"],
        )
        for i, f in enumerate(spec.fields)
    ]
    encoder = compile_encoder(_type_name(cls), ["    d = {}"], fields, ["    return d"], ns)
    _ENCODERS[cls] = encoder
    return encoder
