"""Exception types raised by srmlink.

Every error srmlink raises derives from :class:`SRMLinkError`, so one ``except`` clause catches
them all; the subclasses say what kind of input was wrong and where.
"""

from __future__ import annotations

__all__ = [
    "KeyParseError",
    "SRMLinkError",
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
