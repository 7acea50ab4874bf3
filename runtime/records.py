"""Build records by wire name, whatever the schema version.

The control messages of MLink (MLinkStream, MLinkQuery, MLinkAdmin, QueryResult...) differ
between schema versions: fields come and go. The stream client and the local server build
them here from wire names; a field the loaded schema lacks is left out rather than failing,
so one code path serves every schema version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .message import Message
from .registry import Registry

__all__ = ["has_field", "make", "primary_key_text", "wire_value"]


def _build(cls: type[Any], values: Mapping[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for spec in cls.SPEC.fields:
        value = values.get(spec.wire_name)
        if value is None:
            continue
        if spec.sr_type in ("Enum", "Flag") and isinstance(value, str) and spec.type is not None:
            value = spec.type.from_wire(value)
        elif spec.sr_type == "Repeater" and spec.type is not None:
            value = tuple(
                item if isinstance(item, spec.type) else _build(spec.type, item) for item in value
            )
        kwargs[spec.name] = value
    return cls(**kwargs)


def make(registry: Registry, name: str, /, **values: Any) -> Message:
    """A ``name`` record with fields given by wire name (enums by SR name, repeaters as lists
    of wire-name mappings); fields this schema lacks are skipped."""
    message: Message = _build(registry.by_name(name), values)
    return message


def has_field(cls: type[Message], wire_name: str) -> bool:
    """Whether ``cls`` has a field with this wire name (case-insensitive)."""
    folded = wire_name.lower()
    return any(spec.wire_name.lower() == folded for spec in cls.SPEC.fields)


def wire_value(message: Message, wire_name: str) -> Any:
    """The value of the field with this wire name (None when unset or absent)."""
    folded = wire_name.lower()
    for spec in message.SPEC.fields:
        if spec.wire_name.lower() == folded:
            return getattr(message, spec.name)
    return None


def primary_key_text(message: Message) -> str | None:
    """The flat primary key of a live object (``str(pkey)``), None for a message without one."""
    pkey = getattr(message, "pkey", None)
    if pkey is None or isinstance(pkey, str | int):
        return None
    return str(pkey)
