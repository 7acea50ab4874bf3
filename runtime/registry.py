"""The message registry: name <-> mNum <-> class <-> token, loading classes on first use.

The generated package builds one :class:`Registry` from a static table, so importing it costs
a table, not ~270 classes; a token's module is imported when one of its classes is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator

from attrs import frozen

from .errors import UndefinedMessageError, UnknownMessageError
from .message import Message

__all__ = ["MessageEntry", "Registry", "default_registry"]


@frozen
class MessageEntry:
    """What the schema says about one message type; ``module`` is None if it has no class,
    ``schema_hash`` is getmsgtypes' schemaHash (None where the schema's sources give none)."""

    name: str
    number: int | None
    token: str | None
    module: str | None
    schema_hash: str | None = None

    @property
    def defined(self) -> bool:
        """Whether a class exists (some message types are known by name and number only)."""
        return self.module is not None


class Registry:
    """Look message classes up by name (case-insensitively), number or token."""

    def __init__(self, package: str, entries: Iterable[MessageEntry]) -> None:
        self._package = package
        self._entries = tuple(sorted(entries, key=lambda e: e.name))
        self._by_name = {e.name.lower(): e for e in self._entries}
        self._by_number: dict[int, MessageEntry] = {}
        for entry in self._entries:
            if entry.number is not None:
                self._by_number.setdefault(entry.number, entry)
        self._classes: dict[str, type[Message]] = {}

    def entry(self, key: str | int) -> MessageEntry:
        """The entry for a message name or number, defined or not.

        Raises:
            UnknownMessageError: no message type has that name or number.
        """
        if isinstance(key, int):
            found = self._by_number.get(key)
        else:
            found = self._by_name.get(key.lower())
        if found is None:
            raise UnknownMessageError(f"no message type {key!r} in the generated schema")
        return found

    def lookup(self, label: str) -> type[Message]:
        """The class of a message type as MLink requests name it (``msgtype`` / ``msgName``):
        a name in any case, or a decimal mNum.

        Raises:
            UnknownMessageError: no (defined) message type has that name or number.
        """
        text = label.strip()
        return self.by_number(int(text)) if text.isdigit() else self.by_name(text)

    def _load(self, entry: MessageEntry) -> type[Message]:
        cls = self._classes.get(entry.name)
        if cls is None:
            if entry.module is None:
                raise UndefinedMessageError(
                    f"message type {entry.name} (mNum {entry.number}) is listed by getmsgtypes "
                    "but no schema source defines its fields"
                )
            module = importlib.import_module(f"{self._package}.{entry.module}")
            cls = getattr(module, entry.name)
            self._classes[entry.name] = cls
        return cls

    def by_name(self, name: str) -> type[Message]:
        """The class of a message name, matched case-insensitively as the server does."""
        return self._load(self.entry(name))

    def by_number(self, number: int) -> type[Message]:
        """The class of a message number (mNum)."""
        return self._load(self.entry(number))

    def by_token(self, token: str) -> tuple[type[Message], ...]:
        """The classes of every defined message type of a token (case-insensitive)."""
        folded = token.lower()
        return tuple(
            self._load(e) for e in self._entries if e.defined and (e.token or "").lower() == folded
        )

    def entries(self) -> tuple[MessageEntry, ...]:
        """Every known message type, defined or not, sorted by name."""
        return self._entries

    @property
    def undefined(self) -> tuple[MessageEntry, ...]:
        """Message types known only by name and number."""
        return tuple(e for e in self._entries if not e.defined)

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token that has at least one message type."""
        return tuple(sorted({e.token for e in self._entries if e.token}))

    def __len__(self) -> int:
        return sum(1 for e in self._entries if e.defined)

    def __iter__(self) -> Iterator[type[Message]]:
        """Every defined message class, sorted by name (imports their modules)."""
        return (self._load(e) for e in self._entries if e.defined)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key.lower() in self._by_name
        return isinstance(key, int) and key in self._by_number

    def __repr__(self) -> str:
        return f"<Registry {self._package}: {len(self)} message classes>"


def default_registry() -> Registry:
    """The registry of the generated bindings, ``srmlink.messages.registry``.

    Imported on first use: ``srmlink.messages`` is a build product that may not exist yet
    (then its ImportError says how to generate it).
    """
    from .messages import registry  # noqa: PLC0415

    return registry
