"""Who may use the local server: API keys (with their password), issued keys, HS256 JWTs.

MLink authenticates a machine with an API key token, ``KEY`` or ``KEY.PASSWORD``, and a human
with a JSON Web Token. The local server accepts:

- its own ``--api-key`` (``KEY`` or ``KEY.PASSWORD``): the password must match exactly, and a
  key that has none refuses a token that carries one;
- keys it issued itself, from ``getapikey`` (a temporary key with the caller's ``secret`` as
  its password) or ``logon`` (a session key, used exactly like an API key);
- a JWT signed HS256 with ``--jwt-secret``, whose ``exp`` (and ``nbf``) are honoured.

Every comparison of a secret is constant-time (:func:`hmac.compare_digest`), and
:class:`SecretFilter` keeps every secret the server knows, and any credential-looking member of
a request, out of its log records (exception text included).

JWTs are checked with the standard library rather than PyJWT: the server needs exactly one
algorithm (HS256) and two claims, which is a few lines of ``hmac``/``base64``/``json``, and the
server extra stays free of another dependency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from attrs import frozen

from ..auth import redact

__all__ = [
    "SERVER_LOGGERS",
    "Issued",
    "KeyRing",
    "SecretFilter",
    "make_jwt",
    "scrub",
    "verify_jwt",
]

_MASK = "***"
# Members of a JSON request (MLinkLogon, a logged request body) that carry a credential.
_JSON_SECRET = re.compile(
    r"(?i)(\"(?:apiKey|apiPassword|password|jwtToken|pin|plaintextApiKey|secret)\"\s*:\s*)"
    r"\"[^\"]*\""
)
# A JWT anywhere in a text: three base64url parts, the first a JSON object ("eyJ").
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
#: Loggers the server (and aiohttp under it) writes to; :meth:`KeyRing.protect` filters them.
SERVER_LOGGERS = (
    "srmlink.server",
    "aiohttp.access",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "aiohttp.internal",
)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: Mapping[str, Any], secret: str) -> str:
    """An HS256 JWT carrying ``claims`` (for tests and local tooling)."""
    head = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64encode(json.dumps(dict(claims)).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64encode(mac)}"


def _time_claim(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(name)
    return float(value)


def verify_jwt(token: str, secret: str, *, now: float | None = None) -> dict[str, Any] | None:
    """The claims of ``token`` if it is an HS256 JWT signed with ``secret`` and within its
    ``nbf`` .. ``exp`` window; None otherwise (never raises for a malformed token)."""
    parts = token.split(".")
    if len(parts) != 3 or not secret:
        return None
    try:
        header = json.loads(_b64decode(parts[0]))
        signature = _b64decode(parts[2])
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, binascii.Error):
        return None
    # Only HS256: a token naming another algorithm ("none", RS256) is refused, never trusted.
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return None
    signed = f"{parts[0]}.{parts[1]}".encode()
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        return None
    moment = time.time() if now is None else now
    try:
        expires, not_before = _time_claim(claims, "exp"), _time_claim(claims, "nbf")
    except ValueError:
        return None
    if (expires is not None and moment >= expires) or (
        not_before is not None and moment < not_before
    ):
        return None
    return claims


@frozen(repr=False)
class Issued:
    """A key the server issued: its password (None: none) and when it expires (epoch s)."""

    password: str | None
    expires: float
    user: str | None = None

    def __repr__(self) -> str:
        return f"Issued(password={_MASK if self.password else None}, expires={self.expires})"


def _same(given: str | None, expected: str | None) -> bool:
    """Constant-time equality of two optional secrets (None only matches None)."""
    return hmac.compare_digest((given or "").encode(), (expected or "").encode()) and (
        given is None
    ) == (expected is None)


class KeyRing:
    """The credentials one server accepts.

    Args:
        api_key: the server's key token (``KEY`` or ``KEY.PASSWORD``); None with no
            ``jwt_secret`` either leaves the server open (any key accepted).
        jwt_secret: the HS256 secret JWTs must be signed with (None: JWTs are refused).
        clock: seconds since the epoch (tests pass a fake one).
    """

    def __init__(
        self,
        api_key: str | None = None,
        jwt_secret: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jwt_secret = jwt_secret or None
        self._clock = clock
        self._keys: dict[str, Issued] = {}
        self._own: str | None = None
        if api_key:
            key, _, password = api_key.partition(".")
            self._own = key
            self._keys[key] = Issued(password or None, math.inf)

    def __repr__(self) -> str:
        return f"KeyRing(keys={len(self._keys)}, jwt={'on' if self._jwt_secret else 'off'})"

    @property
    def open(self) -> bool:
        """Whether any key is accepted (no API key and no JWT secret configured)."""
        return self._own is None and self._jwt_secret is None

    @property
    def jwt_enabled(self) -> bool:
        return self._jwt_secret is not None

    def check_key(self, token: str) -> bool:
        """Whether ``token`` (``KEY`` or ``KEY.PASSWORD``) is a key this server accepts."""
        if self.open:
            return True
        key, dot, password = token.partition(".")
        given = password if dot else None
        found = False
        now = self._clock()
        # Look at every key (no early exit), so timing does not tell which prefix matched.
        for known, issued in list(self._keys.items()):
            if issued.expires <= now:
                del self._keys[known]
                continue
            match = hmac.compare_digest(known.encode(), key.encode())
            found |= match & _same(given, issued.password)
        return found and bool(key)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is the password of the server's own key (``logon``'s ``pw``:
        the local server has one user, whose password is its key's)."""
        if self.open:
            return True
        own = self._keys.get(self._own or "")
        return own is not None and own.password is not None and _same(password, own.password)

    def check_jwt(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid JWT (signed with the server's secret, not expired), else None."""
        if self._jwt_secret is None:
            return None
        return verify_jwt(token, self._jwt_secret, now=self._clock())

    def issue(self, password: str | None, *, ttl: float, user: str | None = None) -> str:
        """A fresh key (a temporary API key or a session key) valid for ``ttl`` seconds."""
        key = secrets.token_hex(16)
        self._keys[key] = Issued(password or None, self._clock() + ttl, user)
        return key

    def expiry(self, key: str) -> float | None:
        """When an issued key expires (None for an unknown key)."""
        found = self._keys.get(key)
        return found.expires if found is not None else None

    def secrets(self) -> list[str]:
        """Every secret string the server holds, longest first (for log redaction)."""
        found: set[str] = set()
        for key, issued in self._keys.items():
            found.add(key)
            if issued.password:
                found.update((issued.password, f"{key}.{issued.password}"))
        if self._jwt_secret:
            found.add(self._jwt_secret)
        return sorted(found, key=len, reverse=True)

    def protect(self, names: Iterable[str] = SERVER_LOGGERS) -> None:
        """Attach a :class:`SecretFilter` of this ring to each named logger (once)."""
        for name in names:
            logger = logging.getLogger(name)
            found = next((f for f in logger.filters if isinstance(f, SecretFilter)), None)
            if found is None:
                logger.addFilter(SecretFilter(self))
            else:
                # Several servers in one process (tests, an app): one filter knows every ring.
                found.add(self)


def scrub(text: str, ring: KeyRing | None = None) -> str:
    """``text`` without credentials: query-string and JSON members, bearer tokens, JWTs and
    every secret ``ring`` holds."""
    text = _JSON_SECRET.sub(lambda m: f'{m.group(1)}"{_MASK}"', text)
    text = _JWT.sub(_MASK, text)
    return redact(text, ring.secrets() if ring is not None else ())


class SecretFilter(logging.Filter):
    """Scrubs credentials from a log record: message, arguments and exception text."""

    def __init__(self, ring: KeyRing | None = None) -> None:
        super().__init__()
        # Weak: a server that is gone takes its secrets with it.
        self._rings: weakref.WeakSet[KeyRing] = weakref.WeakSet()
        if ring is not None:
            self._rings.add(ring)

    def add(self, ring: KeyRing) -> None:
        """Scrub ``ring``'s secrets too."""
        self._rings.add(ring)

    def _scrub(self, text: str) -> str:
        text = scrub(text)
        secrets = sorted({s for ring in list(self._rings) for s in ring.secrets()}, key=len)
        return redact(text, secrets[::-1])

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._scrub(record.getMessage())
        record.args = None
        if record.exc_info is not None:
            # Format the traceback now, scrubbed; exception messages may quote a request.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._scrub(text)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True
