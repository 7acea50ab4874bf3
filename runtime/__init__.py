"""srmlink: typed Python bindings and client for SpiderRock's MLink market-data API.

``srmlink`` holds the runtime (security keys, enums, the registry machinery, codecs and
transports); ``srmlink.messages`` holds the classes generated from the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .enums import SREnum, SRFlag
from .errors import (
    AuthError,
    DecodeError,
    EncodeError,
    FramingError,
    InvalidHostError,
    KeyParseError,
    MLinkHTTPError,
    MLinkQueryError,
    MLinkStreamError,
    MLinkTimeoutError,
    MLinkTransportError,
    QueryError,
    SchemaDriftWarning,
    SRMLinkError,
    UndefinedMessageError,
    UnknownMessageError,
)
from .keys import CallPut, ExpiryKey, OptionKey, TickerKey, parse_key

if TYPE_CHECKING:
    from .rest import AsyncMLinkClient, MLinkClient
    from .stream import AsyncMLinkStream, MLinkStream

__version__ = "0.1.0"

__all__ = [
    "AsyncMLinkClient",
    "AsyncMLinkStream",
    "AuthError",
    "CallPut",
    "DecodeError",
    "EncodeError",
    "ExpiryKey",
    "FramingError",
    "InvalidHostError",
    "KeyParseError",
    "MLinkClient",
    "MLinkHTTPError",
    "MLinkQueryError",
    "MLinkStream",
    "MLinkStreamError",
    "MLinkTimeoutError",
    "MLinkTransportError",
    "OptionKey",
    "QueryError",
    "SREnum",
    "SRFlag",
    "SRMLinkError",
    "SchemaDriftWarning",
    "TickerKey",
    "UndefinedMessageError",
    "UnknownMessageError",
    "__version__",
    "parse_key",
]


def __getattr__(name: str) -> Any:
    # The clients pull in httpx / websockets: imported on first use, so `import srmlink` stays
    # light.
    if name in ("MLinkClient", "AsyncMLinkClient"):
        from . import rest  # noqa: PLC0415

        return getattr(rest, name)
    if name in ("MLinkStream", "AsyncMLinkStream"):
        from . import stream  # noqa: PLC0415

        return getattr(stream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
