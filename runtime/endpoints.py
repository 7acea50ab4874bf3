"""Where MLink lives: the default hosts, and the one parser of a ``host=`` argument.

Hosts move between SpiderRock's deployments (2023: ``mlink.spiderrockconnect.com``), so every
client also takes ``host=`` (else ``$SRMLINK_HOST``); these are only the defaults, shared by
REST and WebSocket. :func:`resolve_address` turns what a user gives (``HOST[:PORT]`` or a full
``http(s)://`` / ``ws(s)://`` URL, as ``srmlink serve`` prints them) into the scheme and
``HOST[:PORT]`` of one transport.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Literal

from attrs import frozen

from .errors import InvalidHostError

if TYPE_CHECKING:
    import ssl

__all__ = ["ENDPOINTS", "ENV_HOST", "Address", "Endpoint", "resolve_address", "tls_context"]

Endpoint = Literal["live", "delayed"]
ENDPOINTS: dict[str, str] = {
    "live": "mlink-live.nms.saturn.spiderrockconnect.com",
    "delayed": "mlink-delay.nms.saturn.spiderrockconnect.com",
}
ENV_HOST = "SRMLINK_HOST"

# A DNS name or IPv4 address, or a bracketed IPv6 address; then an optional port.
_HOST_PORT = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>\d{1,5}))?"
)
# Each transport's scheme for a URL of either kind: secure stays secure.
_SCHEMES: dict[str, tuple[str, str]] = {
    "http": ("http", "ws"),
    "ws": ("http", "ws"),
    "https": ("https", "wss"),
    "wss": ("https", "wss"),
}


@frozen
class Address:
    """Where one transport connects: ``scheme`` and ``host`` (``HOST[:PORT]``)."""

    scheme: str
    host: str

    def url(self, path: str) -> str:
        """``scheme://host/path``."""
        return f"{self.scheme}://{self.host}/{path.lstrip('/')}"


def resolve_address(
    host: str | None,
    *,
    endpoint: Endpoint,
    scheme: str | None,
    websocket: bool,
) -> Address:
    """The address of one transport.

    ``host`` (else ``$SRMLINK_HOST``, else the ``endpoint``'s default host) is ``HOST[:PORT]``
    or a URL ``http(s)://HOST[:PORT]`` / ``ws(s)://HOST[:PORT]`` (a trailing ``/`` allowed).
    A URL's scheme decides between plain and TLS (mapped to this transport: ``http`` -> ``ws``
    on a WebSocket); otherwise ``scheme`` does, defaulting to TLS.

    Raises:
        InvalidHostError: anything else (a path, a query, credentials, another scheme, a bad
            port); the message says what is accepted.
    """
    given = host if host is not None else os.environ.get(ENV_HOST) or None
    text = given.strip() if given is not None else ENDPOINTS[endpoint]
    index = 1 if websocket else 0
    url_scheme, sep, rest = text.partition("://")
    if sep:
        schemes = _SCHEMES.get(url_scheme.lower())
        if schemes is None:
            raise InvalidHostError(text, f"scheme {url_scheme!r} is not http, https, ws or wss")
        text = rest.removesuffix("/")
        chosen = schemes[index]
    else:
        chosen = _transport_scheme(scheme, index)
    match = _HOST_PORT.fullmatch(text)
    if match is None:
        raise InvalidHostError(given or text, "expected HOST[:PORT] after the scheme, if any")
    port = match["port"]
    if port is not None and not 0 < int(port) < 65536:
        raise InvalidHostError(given or text, f"port {port} is not in 1..65535")
    return Address(chosen, text)


def _transport_scheme(scheme: str | None, index: int) -> str:
    if scheme is None:
        return ("https", "wss")[index]
    schemes = _SCHEMES.get(scheme.lower())
    if schemes is None:
        raise InvalidHostError(scheme, "scheme must be http, https, ws or wss")
    return schemes[index]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every srmlink client shares unless given its own.

    httpx's default (certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as set when it is
    first needed), built once per process: loading the CA bundle takes 20-250 ms, which every
    ``httpx.Client`` and every ``wss://`` connection would otherwise pay again.
    """
    import httpx  # noqa: PLC0415 (the WebSocket client needs no httpx otherwise)

    return httpx.create_ssl_context()
