"""Exception types raised by srmlink.

Every error srmlink raises derives from :class:`SRMLinkError`, so one ``except`` clause catches
them all; the subclasses say what kind of input was wrong and where.
"""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "EncodeError",
    "FramingError",
    "KeyParseError",
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
        where = " ".join(
            part
            for part in (
                f"message {message_type}" if message_type else "",
                f"field {field}" if field else "",
                f"at byte {offset}" if offset is not None else "",
            )
            if part
        )
        super().__init__(
            f"cannot decode {where}: {reason}" if where else f"cannot decode: {reason}"
        )


class EncodeError(SRMLinkError, ValueError):
    """A message cannot be encoded as asked (e.g. a JSON-only message or value on protobuf)."""


class SchemaDriftWarning(UserWarning):
    """The server's message types differ from the generated bindings (see :mod:`srmlink.drift`).

    A warning, not an error: the connection still works for every message type both sides
    agree on. Regenerate the bindings (``srmlink generate``) against the server's schema.
    """
