"""A cattrs converter that knows MLink types, for apps that embed them in their own models.

An app's attrs class may hold generated messages, keys and enums::

    @attrs.frozen
    class Watch:
        name: str
        quote: OptionNbboQuote
        history: list[OptionNbboQuote]

    data = converter.unstructure(watch)   # plain dicts and lists, ready for orjson / a DB
    watch = converter.structure(data, Watch)

Messages, repeated groups and primary keys take MLink's JSON form (wire names, compact keys,
enums by SpiderRock name) through the compiled codec of each class (:mod:`srmlink.codec`), not
cattrs' field-by-field path; keys take their compact JSON form and enums their wire name. A
value of the wrong shape raises :class:`~srmlink.errors.DecodeError` naming the type (inside
cattrs' own error group, as for any hook).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cattrs

from .codec.jsonc import json_decoder, json_encoder
from .enums import SREnum
from .errors import DecodeError
from .keys import ExpiryKey, OptionKey, TickerKey
from .message import Group, Message, PrimaryKey

__all__ = ["configure", "converter"]

_KEYS = (TickerKey, ExpiryKey, OptionKey)


def _is_record(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Message | Group | PrimaryKey)


def _is_key(cls: Any) -> bool:
    return cls in _KEYS


def _is_enum(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, SREnum)


def _name(cls: type) -> str:
    return str(getattr(cls, "MSG_NAME", cls.__name__))


def _mapping(value: object, cls: type) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DecodeError(
            f"expected a JSON object, got {type(value).__name__}", message_type=_name(cls)
        )
    return value


def _structure_record(cls: type) -> Callable[[Any, type], Any]:
    decode = json_decoder(cls)

    def structure(value: Any, _: type) -> Any:
        return value if isinstance(value, cls) else decode(_mapping(value, cls))

    return structure


def _unstructure_record(cls: type) -> Callable[[Any], dict[str, Any]]:
    return json_encoder(cls)


def _structure_key(value: Any, cls: type[TickerKey | ExpiryKey | OptionKey]) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        return cls.parse(value)
    return cls.from_json(_mapping(value, cls))


def _unstructure_key(value: TickerKey | ExpiryKey | OptionKey) -> dict[str, object]:
    return value.to_json()


def _structure_enum(value: Any, cls: type[SREnum]) -> SREnum:
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        return cls.from_wire(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return cls.from_number(value)
    raise DecodeError(f"expected a {cls.__name__} name or number, got {value!r}")


def _unstructure_enum(value: SREnum) -> str | int:
    # A member only protobuf has named keeps its number, so it structures back the same.
    return value.wire_name if value.wire_name is not None else int(value)


def configure(target: cattrs.Converter) -> cattrs.Converter:
    """Register the MLink hooks on ``target`` (an app's own converter) and return it."""
    target.register_structure_hook_factory(_is_record, _structure_record)
    target.register_unstructure_hook_factory(_is_record, _unstructure_record)
    target.register_structure_hook_func(_is_key, _structure_key)
    target.register_unstructure_hook_func(_is_key, _unstructure_key)
    target.register_structure_hook_func(_is_enum, _structure_enum)
    target.register_unstructure_hook_func(_is_enum, _unstructure_enum)
    return target


converter: cattrs.Converter = configure(cattrs.Converter())
"""A converter with the MLink hooks (build your own with :func:`configure`)."""
