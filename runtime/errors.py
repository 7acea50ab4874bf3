"""Exception types raised by srmlink.

Every error srmlink raises derives from :class:`SRMLinkError`, so one ``except`` clause catches
them all; the subclasses say what kind of input was wrong and where.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "DecodeError",
    "EncodeError",
    "FramingError",
    "InvalidHostError",
    "KeyParseError",
    "MLinkHTTPError",
    "MLinkQueryError",
    "MLinkStreamError",
    "MLinkTimeoutError",
    "MLinkTransportError",
    "QueryError",
    "SRMLinkError",
    "SchemaDriftWarning",
    "UndefinedMessageError",
    "UnknownMessageError",
]


class SRMLinkError(Exception):
    """Base class of every error srmlink raises."""


class KeyParseError(SRMLinkError, ValueError):
    """A security key's text (or compact JSON form) is malformed.

    Attributes:
        text: the text that failed to parse.
        position: 0-based character offset in ``text`` where the problem was found.
        reason: what was wrong there.
    """

    def __init__(self, text: str, position: int, reason: str) -> None:
        self.text = text
        self.position = position
        self.reason = reason
        super().__init__(f"cannot parse key {text!r} at position {position}: {reason}")


class QueryError(SRMLinkError, ValueError):
    """A where / view / order clause is malformed, or names a field or value its type lacks.

    Raised by :mod:`srmlink.query` while parsing, checking or building a clause (never by the
    server's answer: that is :class:`MLinkQueryError`).

    Attributes:
        reason: what was wrong.
        text: the clause text, when the problem is at a place in it (else None).
        position: 0-based character offset in ``text`` where the problem was found.
        message_type: the message type the clause was checked against, if any.
    """

    def __init__(
        self,
        reason: str,
        *,
        text: str | None = None,
        position: int | None = None,
        message_type: str | None = None,
    ) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        self.message_type = message_type
        message = reason
        if text is not None:
            where = f" at position {position}" if position is not None else ""
            message = f"cannot parse {text!r}{where}: {reason}"
        if message_type is not None:
            message = f"{message_type}: {message}"
        super().__init__(message)


class UnknownMessageError(SRMLinkError, LookupError):
    """A message name, number or token is not in the generated registry."""


class UndefinedMessageError(UnknownMessageError):
    """The schema names this message type (getmsgtypes) but defines none of its fields.

    The registry still knows its name and number; there is no class to build it with.
    """


class FramingError(SRMLinkError, ValueError):
    """A framed (jsonf / proto) stream is corrupt: bad header, bad length or truncated data.

    Attributes:
        offset: byte offset in the stream (counting every byte fed) where the problem is.
        reason: what was wrong there.
    """

    def __init__(self, offset: int, reason: str) -> None:
        self.offset = offset
        self.reason = reason
        super().__init__(f"framing error at byte {offset}: {reason}")


def _where(message_type: str | None, field: str | None, offset: int | None) -> str:
    """``message X field Y at byte N``, leaving out what is not known."""
    return " ".join(
        part
        for part in (
            f"message {message_type}" if message_type else "",
            f"field {field}" if field else "",
            f"at byte {offset}" if offset is not None else "",
        )
        if part
    )


class DecodeError(SRMLinkError, ValueError):
    """A message's payload is invalid: bad JSON / protobuf, or a field of the wrong type.

    Attributes:
        message_type: the message type being decoded (None if not known yet).
        field: the wire name of the offending field (dotted for nested ones), if any.
        offset: byte offset of the message's frame or element in its input, if known.
    """

    def __init__(
        self,
        reason: str,
        *,
        message_type: str | None = None,
        field: str | None = None,
        offset: int | None = None,
    ) -> None:
        self.message_type = message_type
        self.field = field
        self.offset = offset
        self.reason = reason
        where = _where(message_type, field, offset)
        super().__init__(
            f"cannot decode {where}: {reason}" if where else f"cannot decode: {reason}"
        )


class EncodeError(SRMLinkError, ValueError):
    """A message cannot be encoded as asked: a JSON-only message or value on protobuf, a value
    outside its field's wire range, or a record too large for one frame.

    Attributes:
        reason: what was wrong.
        message_type: the message type being encoded, if known.
        field: the wire name of the offending field (dotted for nested ones), if known.
    """

    def __init__(
        self, reason: str, *, message_type: str | None = None, field: str | None = None
    ) -> None:
        self.reason = reason
        self.message_type = message_type
        self.field = field
        where = _where(message_type, field, None)
        super().__init__(f"cannot encode {where}: {reason}" if where else reason)


class SchemaDriftWarning(UserWarning):
    """The server's message types differ from the generated bindings (see :mod:`srmlink.drift`).

    A warning, not an error: the connection still works for every message type both sides
    agree on. Regenerate the bindings (``srmlink generate``) against the server's schema.
    """


class InvalidHostError(SRMLinkError, ValueError):
    """A client's ``host=`` (or ``$SRMLINK_HOST``) is not ``HOST[:PORT]`` or an
    ``http(s)://`` / ``ws(s)://`` URL of one.

    Attributes:
        host: the value given.
        reason: what was wrong with it.
    """

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(
            f"invalid MLink host {host!r}: {reason} (give HOST[:PORT], e.g. 127.0.0.1:8642, "
            "or a URL such as http://127.0.0.1:8642)"
        )


class MLinkTransportError(SRMLinkError, OSError):
    """The server could not be reached or the connection failed (after any retries)."""


class MLinkTimeoutError(MLinkTransportError, TimeoutError):
    """The server did not answer in time (after any retries)."""


class MLinkHTTPError(SRMLinkError):
    """The server answered with an HTTP error status.

    Attributes:
        status: the HTTP status code.
        url: the request URL with credentials redacted.
    """

    def __init__(self, status: int, url: str, detail: str) -> None:
        self.status = status
        self.url = url
        super().__init__(f"HTTP {status} from {url}: {detail}")


class MLinkQueryError(SRMLinkError):
    """A REST command's QueryResult says something other than Ok.

    Attributes:
        result: the QueryResult ``result`` wire name (``Error``, ``AuthError`` ...).
        detail: the server's detail text.
        command: the REST command that failed.
    """

    def __init__(self, command: str, result: str, detail: str) -> None:
        self.command = command
        self.result = result
        self.detail = detail
        super().__init__(f"{command}: {result}: {detail}" if detail else f"{command}: {result}")


class AuthError(MLinkQueryError):
    """The server rejected the credentials (QueryResult AuthError / TokenError)."""


class MLinkStreamError(SRMLinkError):
    """A WebSocket session failed: the server reported an error (MLinkAdmin OtherError,
    GoodNight) or refused a request, or the stream could not be resumed."""
