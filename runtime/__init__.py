"""srmlink: typed Python bindings and client for SpiderRock's MLink market-data API.

``srmlink`` holds the runtime (security keys, enums, the registry machinery, codecs and
transports); ``srmlink.messages`` holds the classes generated from the schema.
"""

from __future__ import annotations

from .enums import SREnum, SRFlag
from .errors import (
    KeyParseError,
    SRMLinkError,
    UndefinedMessageError,
    UnknownMessageError,
)
from .keys import CallPut, ExpiryKey, OptionKey, TickerKey, parse_key

__version__ = "0.1.0"

__all__ = [
    "CallPut",
    "ExpiryKey",
    "KeyParseError",
    "OptionKey",
    "SREnum",
    "SRFlag",
    "SRMLinkError",
    "TickerKey",
    "UndefinedMessageError",
    "UnknownMessageError",
    "__version__",
    "parse_key",
]
