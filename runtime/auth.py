"""Credentials for MLink: an API key (optionally with its password), a session key or a JWT.

A credential never appears in a repr, a log line, an exception or a logged URL: reprs are
masked, and :func:`redact` scrubs any text that might carry one (URLs, server details).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping

__all__ = [
    "ENV_API_KEY",
    "LIBRARY_LOGGERS",
    "Credentials",
    "Jwt",
    "RedactingFilter",
    "protect_logs",
    "redact",
]

ENV_API_KEY = "SRMLINK_API_KEY"
_MASK = "***"
# Up to the next separator; ":" too, as an error text often goes on "URL: detail".
_QUERY_SECRET = re.compile(r"(?i)\b(apikey|secret|pw|pin|sessionkey)=[^&\s\"':]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',]+")
# Loggers of the transport libraries, which log request URLs and (at DEBUG) headers.
LIBRARY_LOGGERS = (
    "httpx",
    "httpcore",
    "websockets",
    "websockets.client",
    "websockets.server",
    "srmlink.stream.websockets",
)


class Credentials:
    """What authenticates a client: ``api_key`` (with optional ``password``) or a session key
    from ``logon`` (used exactly like an API key)."""

    __slots__ = ("_key", "_password")

    def __init__(self, api_key: str, password: str | None = None) -> None:
        if not api_key or any(ch.isspace() for ch in api_key):
            raise ValueError("an API key must be non-empty and contain no whitespace")
        self._key = api_key
        self._password = password or None

    @classmethod
    def from_env(cls) -> Credentials | None:
        """Credentials from ``SRMLINK_API_KEY`` (``KEY`` or ``KEY.PASSWORD``), if set."""
        value = os.environ.get(ENV_API_KEY, "").strip()
        return cls.from_token(value) if value else None

    @classmethod
    def from_token(cls, token: str) -> Credentials:
        """From MLink's token form, ``KEY`` or ``KEY.PASSWORD``."""
        key, _, password = token.partition(".")
        return cls(key, password or None)

    @property
    def token(self) -> str:
        """The token MLink expects: ``KEY`` or ``KEY.PASSWORD``."""
        return f"{self._key}.{self._password}" if self._password else self._key

    def secrets(self) -> tuple[str, ...]:
        """Every secret string this credential holds, longest first (for redaction)."""
        parts = [self.token, self._key] + ([self._password] if self._password else [])
        return tuple(sorted(set(parts), key=len, reverse=True))

    def __repr__(self) -> str:
        return (
            f"Credentials(api_key={_MASK!r}{', password=' + repr(_MASK) if self._password else ''})"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Credentials) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickles carry the secret on purpose (a process pool needs it); reprs never do.
        return (Credentials, (self._key, self._password))


class Jwt:
    """A JSON Web Token, sent as ``Authorization: Bearer <jwt>`` (never shown in a repr)."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        if not token or any(ch.isspace() for ch in token):
            raise ValueError("a JWT must be non-empty and contain no whitespace")
        self._token = token

    @property
    def token(self) -> str:
        """The encoded token."""
        return self._token

    def header(self) -> dict[str, str]:
        """The HTTP header that carries it."""
        return {"Authorization": f"Bearer {self._token}"}

    def __repr__(self) -> str:
        return f"Jwt({_MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Jwt) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self._token)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with query-string credentials and every given secret replaced by ``***``."""
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={_MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {_MASK}", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    return text


class RedactingFilter(logging.Filter):
    """Scrubs credentials (query-string secrets, Bearer tokens) from log records.

    The message is formatted here, from the arguments as given (a tuple, or the single mapping
    of ``log.info("%(url)s", {...})``, so ``%d`` and ``%r`` behave as logging's own formatting
    would) and the text redacted; ``args`` becomes None, so a second pass changes nothing.
    Traceback and stack text and string ``extra`` attributes are redacted as well. A message
    that cannot be formatted keeps logging's own error report, with message and arguments
    redacted (that report prints both).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # the handler reports it (Handler.handleError); keep that visible
            record.msg = redact(str(record.msg))
            record.args = _redact_args(record.args)
        else:
            record.msg = redact(message)
            record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so the traceback they print is this one.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


# What every LogRecord has; any other attribute came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _redact_arg(value: object) -> object:
    return value if isinstance(value, int | float) else redact(str(value))


def _redact_args(
    args: tuple[object, ...] | Mapping[str, object] | None,
) -> tuple[object, ...] | dict[str, object]:
    """Redacted copies of a record's arguments, keeping the tuple or mapping form."""
    if isinstance(args, Mapping):
        return {key: _redact_arg(value) for key, value in args.items()}
    return tuple(_redact_arg(value) for value in args or ())


def protect_logs(names: Iterable[str] = LIBRARY_LOGGERS) -> None:
    """Attach a :class:`RedactingFilter` to each named logger (once).

    A logger's filters see only records logged to that very logger, hence the explicit
    list of the transport libraries' loggers that print URLs and headers.
    """
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
