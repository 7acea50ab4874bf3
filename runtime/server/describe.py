"""getmsgtypes, getschema and getlayout: the loaded schema described in its own admin records.

The admin records changed between schema versions (MsgDesc's token is ``mCat`` in 2023-05,
``mToken`` later; FieldDesc lists repeater children in a nested ``Repeater`` group in 2023 and
as rows with ``inRepeater`` in 2026; only 2023-07 defines MsgLayout / FieldLayout), so every
record is built by wire name (:func:`srmlink.records.make` drops members a schema lacks) from
the reconciled model the bindings carry: wire names, SR types, proto field numbers, enum names.

getlayout answers with MsgLayout + FieldLayout records where the schema defines them; where it
does not, with JSON objects in the MLink envelope (``{"header": {"mTyp": "MsgLayout"},
"message": {...}}``) carrying the same members, which the QueryResult detail says. The binary
layout (sizes, offsets) is not part of any published schema source, so it is not invented.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from ..codec import Encoding
from ..framing import encode_frame
from ..message import FieldSpec, Message
from ..records import has_field
from ..registry import Registry

__all__ = ["description", "field_rows", "layout_objects", "msg_descs", "schema_descs"]

Make = Callable[..., Message]
_KEY_TYPES = ("TickerKey", "ExpiryKey", "OptionKey")
# Bits and signedness of the SR integer types (FieldLayout minV / maxV).
_INT_BITS = {
    "Byte": (8, False),
    "Short": (16, True),
    "UShort": (16, False),
    "Int": (32, True),
    "UInt": (32, False),
    "Long": (64, True),
    "ULong": (64, False),
}


def _range(sr_type: str) -> tuple[int | None, int | None]:
    if sr_type not in _INT_BITS:
        return None, None
    bits, signed = _INT_BITS[sr_type]
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def _enum(spec: FieldSpec) -> Any:
    return spec.type if spec.sr_type in ("Enum", "Flag") and spec.type is not None else None


def _enum_names(spec: FieldSpec) -> str | None:
    enum = _enum(spec)
    return ",".join(str(member) for member in enum) if enum is not None else None


def field_rows(cls: type[Message]) -> Iterator[tuple[FieldSpec, bool, FieldSpec | None]]:
    """(field, is part of the primary key, enclosing repeater) in schema order."""
    for spec in cls.SPEC.fields:
        if spec.sr_type == "PKey" and spec.type is not None:
            for part in spec.type.SPEC.fields:
                yield part, True, None
        elif spec.sr_type == "Repeater" and spec.type is not None:
            yield spec, False, None
            for child in spec.type.SPEC.fields:
                yield child, False, spec
        else:
            yield spec, False, None


def description(cls: type[Message]) -> str | None:
    """The schema's description of a message type (its class docstring's first paragraph;
    None where the schema gives none)."""
    first = (cls.__doc__ or "").split("\n\n", 1)[0]
    text = " ".join(first.split())
    return None if not text or text.startswith("(The schema gives no description") else text


def _key_types(cls: type[Message]) -> set[str]:
    return {spec.sr_type for spec, _, _ in field_rows(cls)}


def msg_descs(registry: Registry, make: Make, encoding: Encoding) -> list[Message]:
    """One MsgDesc per message type with a number (name, mNum, token, hasTKey/EKey/OKey,
    the schema's description, the schemaHash where the loaded schema's getmsgtypes gave one)."""
    desc = registry.by_name("MsgDesc")
    token_member = next((w for w in ("mToken", "mCat") if has_field(desc, w)), None)
    out = []
    for entry in registry.entries():
        if entry.number is None:
            continue
        cls = registry.by_name(entry.name) if entry.defined else None
        has = _key_types(cls) if cls is not None else set()
        values: dict[str, Any] = {
            "name": entry.name,
            "mNum": entry.number,
            "desc": description(cls) if cls is not None else None,
            "hasTKey": "Yes" if "TickerKey" in has else "No",
            "hasEKey": "Yes" if "ExpiryKey" in has else "No",
            "hasOKey": "Yes" if "OptionKey" in has else "No",
        }
        if entry.schema_hash is not None and has_field(desc, "schemaHash"):
            values["schemaHash"] = entry.schema_hash
        if token_member is not None:
            enum = desc.SPEC.field(token_member).type
            token = entry.token
            # The 2026 proto enum lacks some tokens the dictionary uses (GlobalDefinition):
            # protobuf has no number to send for them, so they go out unset there.
            if token is not None and encoding == "proto" and enum is not None:
                token = token if enum.from_wire(token).number is not None else None
            values[token_member] = token
        out.append(make("MsgDesc", **values))
    return out


def schema_descs(registry: Registry, cls: type[Message], make: Make) -> list[Message]:
    """getschema: one FieldDesc per field, in whichever shape the schema's FieldDesc has
    (2026: repeater children as rows with ``inRepeater``; 2023: nested ``Repeater``)."""
    desc = registry.by_name("FieldDesc")
    nested = has_field(desc, "Repeater") and not has_field(desc, "inRepeater")
    out = []
    for position, (spec, is_pkey, repeater) in enumerate(field_rows(cls), start=1):
        if nested and repeater is not None:
            continue
        enum = _enum(spec)
        values: dict[str, Any] = {
            "pos": position,
            "name": spec.wire_name,
            "fNum": spec.proto_number,
            "isPkey": "Yes" if is_pkey else "No",
            "inRepeater": repeater.wire_name if repeater is not None else None,
            "fType": spec.sr_type,
            "eName": enum.__name__ if enum is not None else None,
            "tName": enum.__name__ if enum is not None else None,
            "eSet": _enum_names(spec),
        }
        if nested and spec.sr_type == "Repeater" and spec.type is not None:
            values["Repeater"] = [
                {
                    "nm": child.wire_name,
                    "fn": child.proto_number,
                    "fType": child.sr_type,
                    "tName": _enum(child).__name__ if _enum(child) is not None else None,
                    "eSet": _enum_names(child),
                }
                for child in spec.type.SPEC.fields
            ]
        out.append(make("FieldDesc", **values))
    return out


def _layout_members(cls: type[Message]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The MsgLayout and FieldLayout members of a message type, by wire name."""
    message = {"name": cls.MSG_NAME, "mNum": cls.MSG_NUM, "actions": None}
    fields = []
    for position, (spec, is_pkey, repeater) in enumerate(field_rows(cls), start=1):
        low, high = _range(spec.sr_type)
        names = _enum_names(spec)
        fields.append(
            {
                "name": spec.wire_name,
                "fNum": spec.proto_number,
                "label": spec.wire_name,
                "group": repeater.wire_name if repeater else ("pkey" if is_pkey else None),
                "minV": low,
                "maxV": high,
                "vSet": json.dumps(names.split(",")) if names else None,
                "cPos": position,
                "srType": spec.sr_type,
                "isPkey": "Yes" if is_pkey else "No",
            }
        )
    return message, fields


def layout_objects(
    registry: Registry, cls: type[Message], make: Make, encoding: Encoding
) -> tuple[list[Message], list[bytes], str | None]:
    """getlayout for ``cls``: typed records where the schema has MsgLayout / FieldLayout;
    else envelope-shaped JSON objects (bytes in this encoding) and a note saying so.

    Returns (records, raw items, note). Raises ValueError for proto on a schema without
    the records (protobuf cannot carry an untyped object).
    """
    message, fields = _layout_members(cls)
    if "MsgLayout" in registry and "FieldLayout" in registry:
        return [make("MsgLayout", **message), *(make("FieldLayout", **f) for f in fields)], [], None
    if encoding == "proto":
        raise ValueError(
            "getlayout: this schema defines no MsgLayout / FieldLayout messages, so the layout "
            "can only be served as JSON objects: use /rest/json or /rest/jsonf"
        )
    raw = [_envelope("MsgLayout", message, encoding)]
    raw += [_envelope("FieldLayout", members, encoding) for members in fields]
    note = (
        "getlayout: this schema defines no MsgLayout / FieldLayout messages; the layout is sent "
        "as JSON objects {header: {mTyp: MsgLayout|FieldLayout}, message: {...}} (FieldLayout "
        "members name, fNum, label, group, minV, maxV, vSet, cPos, srType, isPkey; framed with "
        "mNum 0)"
    )
    return [], raw, note


def _envelope(name: str, members: dict[str, Any], encoding: Encoding) -> bytes:
    data = orjson.dumps(
        {"header": {"mTyp": name}, "message": {k: v for k, v in members.items() if v is not None}}
    )
    return data if encoding == "json" else encode_frame("J", 0, data)
