"""Wire ranges of field values, shared by every decoder and encoder.

A value outside its field's range would travel in one encoding and break another (a ``bidSize``
of 2**64 is valid JSON but no protobuf int32), so decoders reject it as a DecodeError and
encoders as an EncodeError. A field that has a protobuf number gets the intersection of its
SpiderRock type's range and its protobuf type's: then whatever one encoding decodes, every
encoding can carry. Text and repeaters are bounded by what fits one frame (a 6-digit length).
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from ..errors import EncodeError
from ..framing import MAX_PAYLOAD
from ..message import FieldSpec

__all__ = [
    "FLOAT32_MAX",
    "MAX_ITEMS",
    "MAX_TEXT",
    "PROTO_INTS",
    "SR_INTS",
    "encode_failure",
    "float_limit",
    "int_range",
    "oversize",
]

FLOAT32_MAX = 3.4028234663852886e38
# Most a frame can hold: every character takes a byte at least, every repeated element two.
MAX_TEXT = MAX_PAYLOAD
MAX_ITEMS = MAX_PAYLOAD // 2

SR_INTS = {
    "Byte": (0, 255),
    "Short": (-(2**15), 2**15 - 1),
    "UShort": (0, 2**16 - 1),
    "Int": (-(2**31), 2**31 - 1),
    "UInt": (0, 2**32 - 1),
    "Long": (-(2**63), 2**63 - 1),
    "ULong": (0, 2**64 - 1),
}
PROTO_INTS = {
    "int32": (-(2**31), 2**31 - 1),
    "sint32": (-(2**31), 2**31 - 1),
    "sfixed32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "fixed32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "sint64": (-(2**63), 2**63 - 1),
    "sfixed64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "fixed64": (0, 2**64 - 1),
    "bool": (0, 1),
    "enum": (-(2**31), 2**31 - 1),
}
ENUM_RANGE = PROTO_INTS["enum"]


def int_range(spec: FieldSpec) -> tuple[int, int] | None:
    """The values an integer field may hold on every wire it travels; None if not an integer."""
    found = SR_INTS.get(spec.sr_type)
    if found is None:
        return None
    low, high = found
    proto = PROTO_INTS.get(spec.proto_type or "")
    if proto is not None:
        low, high = max(low, proto[0]), min(high, proto[1])
    return low, high


def float_limit(spec: FieldSpec) -> float | None:
    """The largest magnitude a Float / Double field may hold; None if not a floating point."""
    if spec.sr_type == "Float" or (spec.sr_type == "Double" and spec.proto_type == "float"):
        return FLOAT32_MAX
    if spec.sr_type == "Double":
        return sys.float_info.max
    return None


def encode_failure(exc: BaseException, message_type: str, wire_name: str | None) -> EncodeError:
    """``exc``, raised while encoding field ``wire_name`` of ``message_type``, as an
    EncodeError naming both (a nested group's error gets its field dotted onto ours)."""
    if isinstance(exc, EncodeError):
        if exc.message_type is None:
            return EncodeError(exc.reason, message_type=message_type, field=wire_name)
        field = f"{wire_name}.{exc.field}" if wire_name and exc.field else wire_name or exc.field
        return EncodeError(exc.reason, message_type=message_type, field=field)
    reason = f"{type(exc).__name__}: {exc}"[:200]
    return EncodeError(reason, message_type=message_type, field=wire_name)


def oversize(message_type: str, size: int, members: dict[str, Any]) -> EncodeError:
    """The error for a record of ``size`` bytes that no frame can hold, naming the largest of
    its (JSON-encoded) ``members``: almost always the one to blame."""
    largest = max(members, key=lambda k: len(orjson.dumps(members[k])), default=None)
    return EncodeError(
        f"the record is {size} bytes: more than a frame holds ({MAX_PAYLOAD})",
        message_type=message_type,
        field=largest,
    )
