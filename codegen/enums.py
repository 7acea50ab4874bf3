"""Reconcile enum types: SpiderRock wire names (dictionary eSets) with proto enum values.

Names are matched after normalising (eSet ``PrcChange`` = proto ``UPDATETYPE_PRC_CHANGE``, eSet
``None`` = proto ``*_UNSPECIFIED``); numbers always come from the proto, because eSet order is
not the numeric value. A value known to only one side is kept and reported.
"""

from __future__ import annotations

from collections.abc import Iterable

from .ir import EnumMember, EnumType, Issue, Origin
from .naming import enum_member_name, normalise, pascal, proto_enum_suffix, snake
from .sources.models import ProtoEnum

__all__ = ["EnumCollector"]

_NONE_ALIASES = ("none", "unspecified")


def _key(name: str) -> str:
    key = normalise(name)
    return "none" if key in _NONE_ALIASES else key


class EnumCollector:
    """Collects every use of an enum while fields are reconciled, then builds the enum types.

    The reconciler asks :meth:`resolve` which enum a field uses; uses of the same enum add their
    eSets together (servers may send user-specific subsets).
    """

    def __init__(self, proto_enums: Iterable[ProtoEnum], issues: list[Issue]) -> None:
        self._proto = {e.name: e for e in proto_enums}
        self._by_lower = {name.lower(): name for name in self._proto}
        self._by_members: dict[frozenset[str], list[str]] = {}
        for enum in self._proto.values():
            members = frozenset(_key(proto_enum_suffix(enum.name, v.name)) for v in enum.values) - {
                "none"
            }
            self._by_members.setdefault(members, []).append(enum.name)
        self._issues = issues
        self._esets: dict[str, list[str]] = {}
        self._flags: set[str] = set()
        self._used: set[str] = set()
        self._synthesized: dict[str, tuple[str, ...]] = {}

    def resolve(
        self,
        *,
        message: str,
        field: str,
        proto_enum: str | None,
        enum_name: str | None,
        eset: tuple[str, ...] | None,
        is_flag: bool,
    ) -> str | None:
        """The enum type name for one field, recording its eSet; None if nothing defines one."""
        name = self._pick(message, field, proto_enum, enum_name, eset)
        if name is None:
            self._issues.append(
                Issue("enum-unresolved", message, field, "enum field with no eSet and no proto")
            )
            return None
        self._used.add(name)
        if eset:
            known = self._esets.setdefault(name, [])
            known.extend(v for v in eset if v and v not in known)
        if is_flag:
            self._flags.add(name)
        return name

    def _pick(
        self,
        message: str,
        field: str,
        proto_enum: str | None,
        enum_name: str | None,
        eset: tuple[str, ...] | None,
    ) -> str | None:
        if proto_enum and proto_enum in self._proto:
            return proto_enum
        if enum_name and enum_name.lower() in self._by_lower:
            return self._by_lower[enum_name.lower()]
        if not eset:
            return enum_name
        wanted = frozenset(_key(v) for v in eset if v) - {"none"}
        candidates = self._by_members.get(wanted, [])
        if len(candidates) == 1:
            return candidates[0]
        # A dictionary-only field: name the enum after the field, sharing it between fields
        # that list the same values.
        base = enum_name or pascal(snake(field))
        name = base if candidates == [] else f"{message}{base}"
        while name in self._proto or (
            name in self._synthesized and self._synthesized[name] != tuple(sorted(wanted))
        ):
            name = f"{message}{base}" if name == base else f"{name}_"
        if name not in self._synthesized:
            self._synthesized[name] = tuple(sorted(wanted))
            self._issues.append(
                Issue(
                    "enum-synthesized",
                    message,
                    field,
                    f"no proto enum has the values {list(eset)}; generated enum {name}",
                )
            )
        return name

    def build(self) -> tuple[EnumType, ...]:
        """Every enum a field uses, plus proto enums no field uses, sorted by name."""
        names = sorted(set(self._proto) | self._used | set(self._esets))
        return tuple(self._build_one(name) for name in names)

    def _build_one(self, name: str) -> EnumType:
        proto = self._proto.get(name)
        eset = self._esets.get(name, [])
        by_key = {_key(v): v for v in eset}
        members: list[EnumMember] = []
        taken: set[str] = set()
        seen_keys: set[str] = set()
        if proto is not None:
            for value in proto.values:
                suffix = proto_enum_suffix(proto.name, value.name)
                key = _key(suffix)
                wire = by_key.get(key)
                if wire is None:
                    wire = "None" if key == "none" else pascal(suffix)
                    if eset:
                        self._issues.append(
                            Issue(
                                "enum-value-only-in-proto",
                                None,
                                None,
                                f"{name}.{value.name} = {value.number} is in no dictionary eSet",
                            )
                        )
                seen_keys.add(key)
                members.append(
                    EnumMember(_unique(enum_member_name(wire), taken), wire, value.number)
                )
        for wire in eset:
            if _key(wire) in seen_keys:
                continue
            seen_keys.add(_key(wire))
            if proto is not None:
                self._issues.append(
                    Issue(
                        "enum-value-only-in-dictionary",
                        None,
                        None,
                        f"{name}.{wire} is in the dictionary but not in the proto enum",
                    )
                )
            # No proto number: such a value travels on JSON only (eSet order is not a number).
            members.append(EnumMember(_unique(enum_member_name(wire), taken), wire, None))
        if proto is not None and eset:
            origin = Origin.BOTH
        else:
            origin = Origin.PROTO if proto is not None else Origin.DICTIONARY
        return EnumType(
            name=name,
            module=snake(name),
            is_flag=name in self._flags,
            members=tuple(members),
            description=proto.comment if proto is not None else "",
            origin=origin,
        )


def _unique(name: str, taken: set[str]) -> str:
    candidate = name
    while candidate in taken:
        candidate = f"{candidate}_"
    taken.add(candidate)
    return candidate
