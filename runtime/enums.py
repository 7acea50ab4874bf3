"""Base classes of the generated SpiderRock enum types.

Each member carries both names it travels under: ``wire_name`` (the SpiderRock name JSON uses,
``"PrcChange"``) and ``number`` (the protobuf value, ``1``). A value the schema does not know,
from a newer server, becomes an *unknown* member that keeps what was received (``known`` is
False) so a stream never breaks and re-encoding loses nothing.

These are deliberately not :class:`enum.Enum` subclasses: building ~400 stdlib Enum classes
costs ~95 ms of import time, stdlib value lookups are slow in decode loops, and stdlib enums
cannot hold a name nobody declared. Members are singletons, so ``is`` and ``==`` agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Self

__all__ = ["SREnum", "SRFlag"]


class _SREnumMeta(type):
    """Makes the enum class iterable and sized over its declared members."""

    _members_: tuple[Any, ...]

    def __iter__(cls) -> Iterator[Any]:
        return iter(cls._members_)

    def __len__(cls) -> int:
        return len(cls._members_)


class SREnum(metaclass=_SREnumMeta):
    """A SpiderRock enum member: ``name`` (Python), ``wire_name`` (JSON), ``number`` (proto)."""

    __slots__ = ("known", "name", "number", "wire_name")

    _members_: ClassVar[tuple[Any, ...]] = ()
    _by_wire: ClassVar[dict[str, Any]]
    _by_folded: ClassVar[dict[str, Any]]
    _by_number: ClassVar[dict[int, Any]]
    _unknown: ClassVar[dict[tuple[str | None, int | None], Any]]

    name: str
    wire_name: str | None
    number: int | None
    known: bool

    def __init__(self, name: str, wire_name: str | None, number: int | None, known: bool) -> None:
        self.name = name
        self.wire_name = wire_name
        self.number = number
        self.known = known

    @classmethod
    def _define(cls, members: Iterable[tuple[str, str | None, int | None]]) -> None:
        """Create the declared members (called once, by the generated module)."""
        created = []
        cls._by_wire, cls._by_folded, cls._by_number, cls._unknown = {}, {}, {}, {}
        for name, wire, number in members:
            member = cls(name, wire, number, True)
            setattr(cls, name, member)
            created.append(member)
            if wire is not None:
                cls._by_wire.setdefault(wire, member)
                cls._by_folded.setdefault(wire.lower(), member)
            if number is not None:
                cls._by_number.setdefault(number, member)
        cls._members_ = tuple(created)

    @classmethod
    def from_wire(cls, wire_name: str) -> Self:
        """The member JSON calls ``wire_name`` (case-insensitive fallback); unknown names are
        kept as an unknown member rather than rejected."""
        found = cls._by_wire.get(wire_name) or cls._by_folded.get(wire_name.lower())
        if found is not None:
            return found  # type: ignore[no-any-return]
        return cls._unknown_member(wire_name, None)

    @classmethod
    def from_number(cls, number: int) -> Self:
        """The member protobuf numbers ``number``; unknown numbers become unknown members."""
        found = cls._by_number.get(number)
        if found is not None:
            return found  # type: ignore[no-any-return]
        return cls._unknown_member(None, number)

    @classmethod
    def _unknown_member(cls, wire_name: str | None, number: int | None) -> Self:
        key = (wire_name, number)
        member = cls._unknown.get(key)
        if member is None:
            label = wire_name if wire_name is not None else str(number)
            member = cls(f"UNKNOWN({label})", wire_name, number, False)
            cls._unknown[key] = member
        return member

    def __int__(self) -> int:
        if self.number is None:
            raise ValueError(
                f"{type(self).__name__}.{self.name} has no protobuf number (JSON-only value)"
            )
        return self.number

    __index__ = __int__

    def __str__(self) -> str:
        return self.wire_name if self.wire_name is not None else str(self.number)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self.wire_name!r} = {self.number!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        if self.known:
            return (getattr, (type(self), self.name))
        if self.wire_name is not None:
            return (type(self).from_wire, (self.wire_name,))
        return (type(self).from_number, (self.number,))

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: object) -> Self:
        return self


class SRFlag(SREnum):
    """A bit-set enum (SpiderRock ``Flag`` fields): members combine with ``|``.

    A combination is a member too; its ``wire_name`` joins the parts' names with ``,``.
    """

    __slots__ = ()

    @classmethod
    def from_number(cls, number: int) -> Self:
        found = cls._by_number.get(number)
        if found is not None:
            return found  # type: ignore[no-any-return]
        parts = [m for m in cls._members_ if m.number and number & m.number == m.number]
        covered = 0
        for m in parts:
            covered |= m.number
        if not parts or covered != number:
            return cls._unknown_member(None, number)
        return cls._combined(parts, number)

    @classmethod
    def from_wire(cls, wire_name: str) -> Self:
        found = cls._by_wire.get(wire_name)
        if found is not None:
            return found  # type: ignore[no-any-return]
        names = [p.strip() for p in wire_name.replace("|", ",").split(",") if p.strip()]
        if len(names) <= 1:
            return super().from_wire(wire_name)
        members = [super(SRFlag, cls).from_wire(n) for n in names]
        if any(not m.known or m.number is None for m in members):
            return cls._unknown_member(wire_name, None)
        number = 0
        for m in members:
            number |= int(m)
        return cls.from_number(number)

    @classmethod
    def _combined(cls, parts: list[Any], number: int) -> Self:
        key = (None, number)
        member = cls._unknown.get(key)
        if member is None:
            name = "|".join(p.name for p in parts)
            member = cls(name, ",".join(p.wire_name for p in parts), number, True)
            cls._unknown[key] = member
        return member

    def __or__(self, other: Self) -> Self:
        return type(self).from_number(int(self) | int(other))

    def __and__(self, other: Self) -> Self:
        return type(self).from_number(int(self) & int(other))

    def __contains__(self, other: Self) -> bool:
        return int(self) & int(other) == int(other)
