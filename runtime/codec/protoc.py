"""Protobuf <-> generated objects, through Google's protobuf runtime (upb).

Message descriptors are built at first use from each class's ``SPEC`` (proto field numbers
and types reconciled from SpiderRock's .proto files), so no protoc output has to be shipped
or imported. The wire format is exactly SpiderRock's: enums travel as their varint numbers
(declared ``int32`` here, which is wire-identical and keeps unknown values), keys and DateKey
as SpiderRock's common messages, DateTime / TimeSpan as ``google.protobuf.Timestamp`` /
``Duration``.

Scalars are declared proto3 ``optional`` so that a value of 0 that was set survives a round
trip; SpiderRock's own encoder omits zero scalars, which therefore decode as None (unset).
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
from collections.abc import Callable
from typing import Any

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    message as _pb_message,
    message_factory,
    timestamp_pb2,
)

from ..errors import DecodeError, EncodeError, KeyParseError
from ..framing import MAX_PAYLOAD
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import FieldSpec, Message, MessageSpec
from ._compile import KeyCache, compile_encoder, compile_function, is_frozen, shared_key
from .envelope import MessageMeta
from .limits import PROTO_INTS, encode_failure, float_limit, int_range, oversize

__all__ = ["proto_decoder", "proto_encoder", "protobuf_class"]

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": _F.TYPE_DOUBLE,
    "float": _F.TYPE_FLOAT,
    "int64": _F.TYPE_INT64,
    "uint64": _F.TYPE_UINT64,
    "int32": _F.TYPE_INT32,
    "fixed64": _F.TYPE_FIXED64,
    "fixed32": _F.TYPE_FIXED32,
    "bool": _F.TYPE_BOOL,
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "uint32": _F.TYPE_UINT32,
    "sfixed32": _F.TYPE_SFIXED32,
    "sfixed64": _F.TYPE_SFIXED64,
    "sint32": _F.TYPE_SINT32,
    "sint64": _F.TYPE_SINT64,
    "enum": _F.TYPE_INT32,
}
_WELL_KNOWN = {"Timestamp": ".google.protobuf.Timestamp", "Duration": ".google.protobuf.Duration"}
_COMMON_PACKAGE = "srmlink.common"
_KEY_CLASSES = {"TickerKey": TickerKey, "ExpiryKey": ExpiryKey, "OptionKey": OptionKey}
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)

_pool = descriptor_pool.DescriptorPool()
_pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
_pool.AddSerializedFile(duration_pb2.DESCRIPTOR.serialized_pb)


def _common_file() -> None:
    """SpiderRock's DateKey / TickerKey / ExpiryKey / OptionKey, as spiderrock_common.proto."""
    f = descriptor_pb2.FileDescriptorProto(
        name="srmlink/common.proto", package=_COMMON_PACKAGE, syntax="proto3"
    )
    date = f.message_type.add(name="DateKey")
    for number, name in enumerate(("year", "month", "day"), start=1):
        date.field.add(name=name, number=number, type=_F.TYPE_INT32, label=_F.LABEL_OPTIONAL)
    layouts = {
        "TickerKey": 3,
        "ExpiryKey": 4,
        "OptionKey": 6,
    }
    for key, count in layouts.items():
        msg = f.message_type.add(name=key)
        parts = [
            ("asset_type", _F.TYPE_INT32),
            ("ticker_src", _F.TYPE_INT32),
            ("ticker", _F.TYPE_STRING),
            ("expiration", _F.TYPE_MESSAGE),
            ("strike", _F.TYPE_DOUBLE),
            ("call_put", _F.TYPE_INT32),
        ][:count]
        for number, (name, kind) in enumerate(parts, start=1):
            field = msg.field.add(name=name, number=number, type=kind, label=_F.LABEL_OPTIONAL)
            if kind == _F.TYPE_MESSAGE:
                field.type_name = f".{_COMMON_PACKAGE}.DateKey"
    meta = f.message_type.add(name="MessageMetadata")
    for number, (name, kind) in enumerate(_META_FIELDS, start=1):
        meta.field.add(name=name, number=number, type=kind, label=_F.LABEL_OPTIONAL)
    _pool.Add(f)


# MessageMetadata as spiderrock_common.proto (2026-07) numbers it; see envelope.MessageMeta.
_META_FIELDS = (
    ("message_type", _F.TYPE_STRING),
    ("is_deleted", _F.TYPE_BOOL),
    ("time_sent", _F.TYPE_INT64),
    ("sender_id", _F.TYPE_INT32),
    ("from_bridge", _F.TYPE_BOOL),
    ("from_cache", _F.TYPE_BOOL),
    ("encoded_time", _F.TYPE_INT64),
    ("server_rcvd_time", _F.TYPE_INT64),
)
_META_NUMBER = 1
_common_file()
_CLASSES: dict[type, Any] = {}
_DECODERS: dict[type, Callable[[Any], Any]] = {}
_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _message_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}".replace("_", "")


def _add_field(msg: descriptor_pb2.DescriptorProto, spec: FieldSpec) -> None:
    assert spec.proto_number is not None and spec.proto_type is not None
    label = _F.LABEL_REPEATED if spec.sr_type == "Repeater" else _F.LABEL_OPTIONAL
    field = msg.field.add(name=spec.name, number=spec.proto_number, label=label)
    if spec.sr_type in ("Repeater", "PKey"):
        assert spec.type is not None
        field.type = _F.TYPE_MESSAGE
        field.type_name = "." + _message_name(spec.type)
    elif spec.proto_type in _SCALARS:
        field.type = _SCALARS[spec.proto_type]
        field.proto3_optional = True
        field.oneof_index = len(msg.oneof_decl)
        msg.oneof_decl.add(name=f"_{spec.name}")
    elif spec.proto_type in _WELL_KNOWN:
        field.type = _F.TYPE_MESSAGE
        field.type_name = _WELL_KNOWN[spec.proto_type]
    else:
        field.type = _F.TYPE_MESSAGE
        field.type_name = f".{_COMMON_PACKAGE}.{spec.proto_type}"


def _proto_fields(spec: MessageSpec) -> list[FieldSpec]:
    return [f for f in spec.fields if f.proto_number is not None and f.proto_type is not None]


def protobuf_class(cls: type) -> Any:
    """The protobuf message class for a generated message / group / key class (cached).

    Raises:
        EncodeError: the class is JSON-only (no .proto defines it).
    """
    found = _CLASSES.get(cls)
    if found is not None:
        return found
    spec: MessageSpec = cls.SPEC  # type: ignore[attr-defined]
    if spec.origin == "dictionary":
        raise EncodeError(f"{_type_name(cls)} is defined only by the data dictionary: JSON only")
    for f in _proto_fields(spec):
        if f.sr_type in ("Repeater", "PKey") and f.type is not None:
            protobuf_class(f.type)
    full = _message_name(cls)
    package, _, name = full.rpartition(".")
    file = descriptor_pb2.FileDescriptorProto(
        name=f"{full}.proto",
        package=package,
        syntax="proto3",
        dependency=[
            "google/protobuf/timestamp.proto",
            "google/protobuf/duration.proto",
            "srmlink/common.proto",
            *sorted(
                {
                    f"{_message_name(f.type)}.proto"
                    for f in _proto_fields(spec)
                    if f.sr_type in ("Repeater", "PKey") and f.type is not None
                }
            ),
        ],
    )
    msg = file.message_type.add(name=name)
    if _carries_meta(cls):
        # Every top-level message: "MessageMetadata _meta = 1" in SpiderRock's .proto files.
        assert all(f.proto_number != _META_NUMBER for f in spec.fields), full
        msg.field.add(
            name="_meta",
            number=_META_NUMBER,
            label=_F.LABEL_OPTIONAL,
            type=_F.TYPE_MESSAGE,
            type_name=f".{_COMMON_PACKAGE}.MessageMetadata",
        )
    for f in _proto_fields(spec):
        _add_field(msg, f)
    _pool.Add(file)
    pb = message_factory.GetMessageClass(_pool.FindMessageTypeByName(full))
    _CLASSES[cls] = pb
    return pb


def _type_name(cls: type) -> str:
    return str(getattr(cls, "MSG_NAME", cls.__name__))


def _carries_meta(cls: type) -> bool:
    """Top-level messages carry ``_meta``; repeated groups and primary keys do not."""
    return issubclass(cls, Message)


# ---- decoding: protobuf message -> object ----------------------------------------------------


def _date(m: Any) -> _dt.date | None:
    if not (m.year or m.month or m.day):
        return None
    return _dt.date(m.year, m.month, m.day)


def _key_converter(kind: type, wrap: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """Protobuf key message -> key object (or ``wrap(key)``: a primary key holding just it),
    memoised (keys repeat in a stream; immutable)."""
    cache = KeyCache()
    parse = kind.from_proto_tuple  # type: ignore[attr-defined]

    def convert(m: Any) -> Any:
        parts: tuple[Any, ...]
        if kind is TickerKey:
            parts = (m.asset_type, m.ticker_src, m.ticker)
        else:
            e = m.expiration
            parts = (m.asset_type, m.ticker_src, m.ticker, (e.year, e.month, e.day))
            if kind is OptionKey:
                parts += (m.strike, m.call_put)
        found = cache.young.get(parts)
        if found is None:
            found = cache.recall(parts)
            if found is None:
                found = parse(parts)
                if wrap is not None:
                    found = wrap(found)
                cache.put(parts, found)
        return found

    return convert


def _key_class(spec: FieldSpec) -> type | None:
    sr, proto = spec.sr_type, spec.proto_type
    if proto not in _KEY_CLASSES:
        return None
    return _KEY_CLASSES[sr] if sr in _KEY_CLASSES else _KEY_CLASSES[proto]


def _decode_converter(spec: FieldSpec) -> Callable[[Any], Any] | None:
    sr = spec.sr_type
    if sr in ("Enum", "Flag") and spec.type is not None:
        enum = spec.type
        by_number = enum._by_number
        return lambda v: by_number.get(v) or enum.from_number(v)
    if spec.proto_type == "Timestamp":
        return lambda v: _EPOCH + _dt.timedelta(seconds=v.seconds, microseconds=v.nanos // 1000)
    if spec.proto_type == "Duration":
        return lambda v: _dt.timedelta(seconds=v.seconds, microseconds=v.nanos // 1000)
    if spec.proto_type == "DateKey":
        return _date
    key = _key_class(spec)
    if key is not None:
        return _key_converter(key)
    if sr == "Repeater" and spec.type is not None:
        inner = _message_decoder(spec.type)
        return lambda v: tuple([inner(x) for x in v])
    if sr == "PKey" and spec.type is not None:
        return _message_decoder(spec.type)
    if sr in ("Float", "Double") and spec.proto_type not in ("float", "double"):
        return float
    if spec.proto_type == "bool":
        return int
    return None


def _field_line(spec: FieldSpec, ns: dict[str, Any], i: int, frozen: bool) -> str:
    """The source line setting field ``spec`` of ``o`` from protobuf message ``m``.

    Read by attribute: one C call per set scalar, where ListFields builds a tuple and a
    descriptor per field for a Python loop to dispatch. Scalars are proto3 ``optional``: a
    falsy value may be an explicit 0, so only then is presence asked.
    """
    name = spec.name
    convert = _decode_converter(spec)
    value = "v"
    if convert is not None:
        ns[f"C{i}"] = convert
        value = f"C{i}(v)"
    if spec.sr_type == "Repeater":
        expr = f"{value} if v else None"  # an empty repeated field is an absent one
    elif spec.proto_type in _SCALARS:
        expr = f"{value} if v or h({name!r}) else None"
    else:  # a message: reading an absent one would build an empty one
        return f"    v = m.{name} if h({name!r}) else None\n" + _store(
            name, f"None if v is None else {value}", frozen
        )
    return f"    v = m.{name}\n" + _store(name, expr, frozen)


def _store(name: str, expr: str, frozen: bool) -> str:
    return f"    _set(o, {name!r}, {expr})" if frozen else f"    o.{name} = {expr}"


def _message_decoder(cls: type) -> Callable[[Any], Any]:
    found = _DECODERS.get(cls)
    if found is not None:
        return found
    spec: MessageSpec = cls.SPEC  # type: ignore[attr-defined]
    protobuf_class(cls)
    frozen = is_frozen(cls)
    ns: dict[str, Any] = {
        "_new": object.__new__,
        "_cls": cls,
        "_set": object.__setattr__,
        "_out_of_range": _out_of_range,
    }
    carried = {f.name for f in _proto_fields(spec)}
    shared = shared_key(cls, spec)
    key = _key_class(shared[0]) if shared is not None and shared[0].name in carried else None
    if shared is not None and key is not None:
        # A primary key that is just a security key: immutable, shared with the key's memo.
        field, hold = shared
        ns["K"] = _key_converter(key, hold)
        ns["_empty"] = hold
        name = field.name
        lines = [
            "def decode(m):",
            f"    return K(m.{name}) if m.HasField({name!r}) else _empty(None)",
        ]
    else:
        lines = ["def decode(m):", "    o = _new(_cls)", "    h = m.HasField"]
        for i, f in enumerate(spec.fields):
            if f.name in carried:
                lines.append(_field_line(f, ns, i, frozen))
            else:  # JSON-only: protobuf never sets it
                lines.append(_store(f.name, "None", frozen))
        lines += [*_range_checks(spec), "    return o"]
    decode = compile_function("decode", lines, ns)
    _DECODERS[cls] = decode
    return decode


def _narrower(spec: FieldSpec) -> tuple[int, int] | None:
    """The range of an integer field when it is narrower than its protobuf type's (a Byte
    sent as int32): the protobuf runtime checks only its own type's range."""
    bounds = int_range(spec)
    if bounds is None or bounds == PROTO_INTS.get(spec.proto_type or ""):
        return None
    return bounds


def _range_checks(spec: MessageSpec) -> list[str]:
    """Source lines rejecting a decoded integer outside its field's range (only the fields
    whose range is narrower than their protobuf type's need one)."""
    lines = []
    for f in _proto_fields(spec):
        bounds = _narrower(f)
        if bounds is not None:
            low, high = bounds
            lines += [
                f"    v = o.{f.name}",
                f"    if v is not None and not {low} <= v <= {high}: "
                f"_out_of_range({f.wire_name!r}, v, {low}, {high})",
            ]
    return lines


def _out_of_range(field: str, value: int, low: int, high: int) -> None:
    raise DecodeError(f"{value} is outside the wire range {low}..{high}", field=field)


_meta_values = operator.attrgetter(*(name for name, _ in _META_FIELDS))


def _meta(m: Any) -> MessageMeta:
    return MessageMeta._make(_meta_values(m))


def proto_decoder(cls: type, *, meta: bool = False) -> Callable[[bytes], Any]:
    """``f(payload: bytes) -> cls``, or with ``meta`` ``-> (cls, MessageMeta | None)`` (the
    payload's ``_meta``, None when it has none). Raises DecodeError naming the message type."""
    pb = protobuf_class(cls)
    decode = _message_decoder(cls)
    parse = pb.FromString
    name = _type_name(cls)
    carries = _carries_meta(cls)

    def decode_payload(payload: bytes) -> Any:
        try:
            m = parse(payload)
            found = _meta(m._meta) if meta and carries and m.HasField("_meta") else None
            record = decode(m)
            return (record, found) if meta else record
        except _pb_message.DecodeError as exc:
            raise DecodeError(f"invalid protobuf payload: {exc}", message_type=name) from None
        except DecodeError as exc:
            raise DecodeError(exc.reason, message_type=name, field=exc.field) from None
        except (ValueError, OverflowError, KeyParseError) as exc:
            # OverflowError: a Timestamp / Duration beyond what datetime / timedelta hold.
            raise DecodeError(f"invalid value: {exc}", message_type=name) from None

    return decode_payload


# ---- encoding: object -> protobuf message ------------------------------------------------------


def _timestamp(v: _dt.datetime) -> dict[str, int]:
    if v.tzinfo is None:
        v = v.replace(tzinfo=_dt.UTC)
    delta = v - _EPOCH
    return {"seconds": delta.days * 86400 + delta.seconds, "nanos": delta.microseconds * 1000}


def _duration(v: _dt.timedelta) -> dict[str, int]:
    micros = (v.days * 86400 + v.seconds) * 1_000_000 + v.microseconds
    seconds, rest = divmod(abs(micros), 1_000_000)
    sign = -1 if micros < 0 else 1
    return {"seconds": sign * seconds, "nanos": sign * rest * 1000}


def _key_dict(v: Any) -> dict[str, Any]:
    parts = v.to_proto_tuple()
    out: dict[str, Any] = {"asset_type": parts[0], "ticker_src": parts[1], "ticker": parts[2]}
    if len(parts) > 3:
        year, month, day = parts[3]
        out["expiration"] = {"year": year, "month": month, "day": day}
    if len(parts) > 4:
        out["strike"], out["call_put"] = parts[4], parts[5]
    return out


def _enum_number(v: Any) -> int:
    if v.number is None:
        raise EncodeError(f"{v!r} has no protobuf number (JSON-only value)")
    return int(v.number)


def _float32(v: float) -> float:
    """A Float value beyond float32's range (the slow path): protobuf would make it infinite."""
    if not math.isfinite(v):  # NaN and infinities travel as they are
        return v
    raise EncodeError(f"{v!r:.60} is outside the float32 range")


def _encode_converter(spec: FieldSpec) -> Callable[[Any], Any] | None:
    sr = spec.sr_type
    if sr in ("Enum", "Flag"):
        return _enum_number
    if spec.proto_type == "Timestamp":
        return _timestamp
    if spec.proto_type == "Duration":
        return _duration
    if spec.proto_type == "DateKey":
        return lambda v: {"year": v.year, "month": v.month, "day": v.day}
    if spec.proto_type in _KEY_CLASSES:
        return _key_dict
    if sr == "Repeater" and spec.type is not None:
        inner = _message_encoder(spec.type)
        return lambda v: [inner(x) for x in v]
    if sr == "PKey" and spec.type is not None:
        return _message_encoder(spec.type)
    if spec.proto_type in PROTO_INTS and sr in ("Float", "Double"):
        return int
    return None


def _encode_lines(spec: FieldSpec, ns: dict[str, Any], i: int) -> list[str]:
    """Source lines putting field ``spec`` of ``o`` into ``out`` when it is set."""
    convert = _encode_converter(spec)
    expr = "v"
    if convert is not None:
        ns[f"C{i}"] = convert
        expr = f"C{i}(v)"
    bounds = _narrower(spec)
    if bounds is not None:
        # Wider values would pass the protobuf runtime's check and fail the decoder's.
        low, high = bounds
        expr = f"v if {low} <= v <= {high} else _int_out(v, {low}, {high})"
    elif spec.proto_type == "float" and (limit := float_limit(spec)) is not None:
        expr = f"v if {-limit!r} <= v <= {limit!r} else _float32(v)"
    return [f"v = o.{spec.name}", f"if v is not None: out[{spec.name!r}] = {expr}"]


def _message_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """``f(obj) -> dict`` of the keyword arguments of the protobuf class (compiled, cached)."""
    found = _ENCODERS.get(cls)
    if found is not None:
        return found
    spec: MessageSpec = cls.SPEC  # type: ignore[attr-defined]
    ns: dict[str, Any] = {"_int_out": _int_out, "_float32": _float32}
    fields = []
    for i, f in enumerate(spec.fields):
        if f.proto_number is None or f.proto_type is None:
            reason = "is a JSON-only field: protobuf cannot carry it"
            fields.append((f.wire_name, [f"if o.{f.name} is not None: _json_only({reason!r})"]))
        else:
            fields.append((f.wire_name, _encode_lines(f, ns, i)))
    ns["_json_only"] = _json_only
    encode = compile_encoder(_type_name(cls), ["    out = {}"], fields, ["    return out"], ns)
    _ENCODERS[cls] = encode
    return encode


def _json_only(reason: str) -> None:
    raise EncodeError(reason)


def _int_out(value: object, low: int, high: int) -> int:
    if value.__class__ is not int:
        raise EncodeError(f"expected an integer, got {type(value).__name__}")
    raise EncodeError(f"{value!r:.60} is outside the wire range {low}..{high}")


def _blame(pb: Any, cls: type, members: dict[str, Any], exc: Exception) -> EncodeError:
    """The protobuf runtime refused ``members`` (a value out of its type's range, a wrong
    type): try each alone to name the field it refused, and within a group (a repeater's
    element, a primary key) the group's field too, dotted (``Value.cnt``)."""
    by_name = {f.name: f for f in cls.SPEC.fields}  # type: ignore[attr-defined]
    for name, value in members.items():
        try:
            pb(**{name: value})
        except Exception as single:  # whatever the runtime raises is named
            spec = by_name[name]
            if spec.sr_type in ("Repeater", "PKey") and spec.type is not None:
                items = value if spec.sr_type == "Repeater" else [value]
                nested = _blame_group(spec.type, items)
                if nested is not None:
                    return encode_failure(nested, _type_name(cls), spec.wire_name)
            return encode_failure(single, _type_name(cls), spec.wire_name)
    return encode_failure(exc, _type_name(cls), None)


def _blame_group(group: type, items: list[dict[str, Any]]) -> EncodeError | None:
    """The error naming the field of the first of ``items`` (a group's members) the protobuf
    runtime refuses, None if it takes them all."""
    pb = protobuf_class(group)
    for item in items:
        try:
            pb(**item)
        except Exception as exc:  # named by the group's own fields
            return _blame(pb, group, item, exc)
    return None


def proto_encoder(cls: type, *, deleted: bool = False) -> Callable[[Any], bytes]:
    """``f(obj) -> bytes`` (cached). A message's payload starts with its ``_meta``
    (``message_type`` = its name, and ``is_deleted`` with ``deleted``: how MLink reports
    a deleted record), as SpiderRock's service sends it.

    Raises only EncodeError, naming the message type and field: a JSON-only field or value, a
    value outside its wire range or of the wrong type, a payload larger than a frame holds.
    """
    pb = protobuf_class(cls)
    encode = _message_encoder(cls)
    # _meta is field 1 and protobuf writes fields in number order: a constant prefix is
    # exactly what the runtime would write first.
    meta: dict[str, Any] = {"message_type": _type_name(cls)}
    if deleted:
        meta["is_deleted"] = True
    prefix = pb(_meta=meta).SerializeToString() if _carries_meta(cls) else b""

    def encode_payload(obj: Any) -> bytes:
        members = encode(obj)
        try:
            payload = prefix + pb(**members).SerializeToString()
        except Exception as exc:  # every refusal becomes an EncodeError
            raise _blame(pb, cls, members, exc) from None
        assert isinstance(payload, bytes)
        if len(payload) > MAX_PAYLOAD:
            raise oversize(_type_name(cls), len(payload), _wire_members(cls, obj))
        return payload

    return encode_payload


def _wire_members(cls: type, obj: Any) -> dict[str, Any]:
    """``obj``'s members by wire name, for naming the largest (see :func:`.limits.oversize`)."""
    from .jsonc import json_encoder  # noqa: PLC0415 - jsonc does not import this module

    try:
        return json_encoder(cls)(obj)
    except EncodeError:  # not JSON-representable (NaN): name no field
        return {}
