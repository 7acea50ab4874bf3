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
from ..keys import ExpiryKey, OptionKey, TickerKey
from ..message import FieldSpec, MessageSpec
from ._compile import KEY_CACHES, compile_function, is_frozen

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
    _pool.Add(f)


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
    for f in _proto_fields(spec):
        _add_field(msg, f)
    _pool.Add(file)
    pb = message_factory.GetMessageClass(_pool.FindMessageTypeByName(full))
    _CLASSES[cls] = pb
    return pb


def _type_name(cls: type) -> str:
    return str(getattr(cls, "MSG_NAME", cls.__name__))


# ---- decoding: protobuf message -> object ----------------------------------------------------


def _date(m: Any) -> _dt.date | None:
    if not (m.year or m.month or m.day):
        return None
    return _dt.date(m.year, m.month, m.day)


_KEY_CACHE_LIMIT = 1 << 17


def _key_converter(kind: type) -> Callable[[Any], Any]:
    """Protobuf key message -> key object, memoised (keys repeat in a stream; immutable)."""
    cache: dict[tuple[Any, ...], Any] = {}
    KEY_CACHES.append(cache)
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
        found = cache.get(parts)
        if found is None:
            found = parse(parts)
            if len(cache) >= _KEY_CACHE_LIMIT:
                cache.clear()
            cache[parts] = found
        return found

    return convert


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
    if spec.proto_type in _KEY_CLASSES:
        return _key_converter(
            _KEY_CLASSES[sr] if sr in _KEY_CLASSES else _KEY_CLASSES[spec.proto_type]
        )
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


def _message_decoder(cls: type) -> Callable[[Any], Any]:
    found = _DECODERS.get(cls)
    if found is not None:
        return found
    spec: MessageSpec = cls.SPEC  # type: ignore[attr-defined]
    pb = protobuf_class(cls)
    descriptors = {d.name: d for d in pb.DESCRIPTOR.fields}
    # Keyed by the field descriptor objects ListFields() hands back: no name lookups per field.
    table = {descriptors[f.name]: (f.name, _decode_converter(f)) for f in _proto_fields(spec)}
    # Straight-line "unset" assignments (see _compile): several times faster than setattr calls.
    frozen = is_frozen(cls)
    unset = [
        f"    _set(o, {f.name!r}, None)" if frozen else f"    o.{f.name} = None"
        for f in spec.fields
    ]
    lines = [
        "def decode(m):",
        "    o = _new(_cls)",
        *unset,
        "    for fd, v in m.ListFields():",
        "        name, convert = _table[fd]",
        "        _set(o, name, v if convert is None else convert(v))",
        "    return o",
    ]
    ns = {
        "_new": object.__new__,
        "_cls": cls,
        "_table": table,
        "_set": object.__setattr__ if frozen else setattr,
    }
    decode = compile_function("decode", lines, ns)
    _DECODERS[cls] = decode
    return decode


def proto_decoder(cls: type) -> Callable[[bytes], Any]:
    """``f(payload: bytes) -> cls`` (cached); raises DecodeError naming the message type."""
    pb = protobuf_class(cls)
    decode = _message_decoder(cls)
    parse = pb.FromString
    name = _type_name(cls)

    def decode_payload(payload: bytes) -> Any:
        try:
            return decode(parse(payload))
        except _pb_message.DecodeError as exc:
            raise DecodeError(f"invalid protobuf payload: {exc}", message_type=name) from None
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


def _encode_converter(spec: FieldSpec, owner: str) -> Callable[[Any], Any] | None:
    sr = spec.sr_type
    if sr in ("Enum", "Flag"):
        where = f"{owner}.{spec.name}"

        def number(v: Any) -> int:
            if v.number is None:
                raise EncodeError(f"{where}: {v!r} has no protobuf number (JSON-only value)")
            return int(v.number)

        return number
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
    if spec.proto_type in ("int32", "int64", "uint32", "uint64", "sint32", "sint64") and sr in (
        "Float",
        "Double",
    ):
        return int
    return None


def _message_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    found = _ENCODERS.get(cls)
    if found is not None:
        return found
    spec: MessageSpec = cls.SPEC  # type: ignore[attr-defined]
    owner = _type_name(cls)
    fields = [(f.name, _encode_converter(f, owner)) for f in _proto_fields(spec)]
    json_only = tuple(f.name for f in spec.fields if f.proto_number is None)

    def encode(obj: Any) -> dict[str, Any]:
        for name in json_only:
            if getattr(obj, name) is not None:
                raise EncodeError(f"{owner}.{name} is a JSON-only field: protobuf cannot carry it")
        out: dict[str, Any] = {}
        for name, convert in fields:
            value = getattr(obj, name)
            if value is not None:
                out[name] = value if convert is None else convert(value)
        return out

    _ENCODERS[cls] = encode
    return encode


def proto_encoder(cls: type) -> Callable[[Any], bytes]:
    """``f(obj) -> bytes`` (cached); raises EncodeError for what protobuf cannot carry."""
    pb = protobuf_class(cls)
    encode = _message_encoder(cls)

    def encode_payload(obj: Any) -> bytes:
        try:
            return bytes(pb(**encode(obj)).SerializeToString())
        except (ValueError, TypeError) as exc:
            raise EncodeError(f"{_type_name(cls)}: {exc}") from None

    return encode_payload
