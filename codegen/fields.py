"""Field-level reconciliation: match dictionary rows with proto fields by normalised name."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from attrs import frozen

from .enums import EnumCollector
from .ir import Field, Issue, Origin
from .naming import normalise, proto_json_name, safe_attribute, snake
from .sources.dictionary import SR_TYPES
from .sources.models import DictField, ProtoField, ProtoMessage

__all__ = ["FieldBuilder", "ProtoPool", "proto_type_of"]

_FLOATS = frozenset({"Float", "Double"})
_INTS = frozenset({"Byte", "Short", "UShort", "Int", "UInt", "Long", "ULong"})
# The proto type SpiderRock's own generator emits for each SR type.
_EXPECTED_PROTO = {
    "Float": "float",
    "Double": "double",
    "Byte": "int32",
    "Short": "int32",
    "UShort": "uint32",
    "Int": "int32",
    "UInt": "uint32",
    "Long": "int64",
    "ULong": "uint64",
    "Enum": "enum",
    "Flag": "enum",
    "String": "string",
    "Text1": "string",
    "Text2": "string",
    "DateTime": "Timestamp",
    "TimeSpan": "Duration",
    "DateKey": "DateKey",
    "TickerKey": "TickerKey",
    "ExpiryKey": "ExpiryKey",
    "OptionKey": "OptionKey",
}
_SR_OF_PROTO = {
    "float": "Float",
    "double": "Double",
    "int32": "Int",
    "sint32": "Int",
    "sfixed32": "Int",
    "uint32": "UInt",
    "fixed32": "UInt",
    "int64": "Long",
    "sint64": "Long",
    "sfixed64": "Long",
    "uint64": "ULong",
    "fixed64": "ULong",
    "bool": "Byte",
    "string": "String",
    "bytes": "String",
    "enum": "Enum",
    "Timestamp": "DateTime",
    "Duration": "TimeSpan",
    "DateKey": "DateKey",
    "TickerKey": "TickerKey",
    "ExpiryKey": "ExpiryKey",
    "OptionKey": "OptionKey",
}
_SKIPPED_PROTO_FIELDS = frozenset({"_meta"})


def proto_type_of(field: ProtoField) -> str:
    """Scalar name, ``enum``, or the message type name (``Timestamp``, ``TickerKey`` ...)."""
    if field.type == "message" and field.type_name:
        return field.type_name
    return field.type


@frozen
class ProtoPool:
    """The proto fields one scope can match: primary key, top level and repeated groups."""

    present: bool
    pkey: tuple[ProtoField, ...]
    top: tuple[ProtoField, ...]
    groups: dict[str, tuple[ProtoField, ProtoMessage]]

    @classmethod
    def of(cls, proto: ProtoMessage | None) -> ProtoPool:
        if proto is None:
            return cls(False, (), (), {})
        nested = {n.name: n for n in proto.nested}
        pkey = nested["PKey"].fields if "PKey" in nested else ()
        top: list[ProtoField] = []
        groups: dict[str, tuple[ProtoField, ProtoMessage]] = {}
        for f in proto.fields:
            # `PKey pkey` wraps the primary key (matched through the nested PKey above); a
            # plain `string pkey` (PostAck) is an ordinary field.
            if f.name in _SKIPPED_PROTO_FIELDS or (f.name == "pkey" and f.type == "message"):
                continue
            if f.repeated and f.type == "message" and f.type_name in nested:
                groups[normalise(f.name)] = (f, nested[f.type_name])
            else:
                top.append(f)
        return cls(True, tuple(pkey), tuple(top), groups)

    @classmethod
    def of_group(cls, nested: ProtoMessage | None) -> ProtoPool:
        return cls(nested is not None, (), nested.fields if nested else (), {})

    def is_top(self, name: str, number: int | None) -> bool:
        """A top-level field claims ``name`` (and the number, when several fields share it)."""
        key = normalise(name)
        return any(normalise(f.name) == key and f.number == number for f in self.top)


class FieldBuilder:
    """Builds IR fields for one message, reporting every disagreement it sees."""

    def __init__(self, message: str, enums: EnumCollector, issues: list[Issue]) -> None:
        self.message = message
        self.enums = enums
        self.issues = issues

    def _issue(self, kind: str, field: str, detail: str) -> None:
        self.issues.append(Issue(kind, self.message, field, detail))

    def build_fields(
        self,
        rows: Sequence[DictField],
        protos: Sequence[ProtoField],
        *,
        has_proto: bool,
        has_dictionary: bool,
        scope: str,
    ) -> list[Field]:
        """Fields for ``rows`` matched against ``protos``; proto-only fields come last.

        A side's missing fields are reported only when that side defines the scope at all
        (a dictionary-only message is reported once, as a message, not field by field).
        """
        unmatched = list(protos)
        out: list[Field] = []
        for row in rows:
            match = _take(unmatched, row)
            if match is None and has_proto:
                self._issue(
                    "field-only-in-dictionary",
                    _scoped(scope, row.name),
                    f"{row.where}: no proto field matches: JSON only",
                )
            out.append(self._field(row, match, scope))
        for proto in unmatched:
            if has_dictionary:
                self._issue(
                    "field-only-in-proto",
                    _scoped(scope, proto.name),
                    f"proto field {proto.name} = {proto.number} has no dictionary row",
                )
            out.append(self._proto_only(proto))
        return out

    def _field(self, row: DictField, proto: ProtoField | None, scope: str) -> Field:
        where = _scoped(scope, row.name)
        sr_type = row.sr_type
        proto_type = proto_type_of(proto) if proto is not None else None
        if sr_type not in SR_TYPES:
            fallback = _SR_OF_PROTO.get(proto_type or "", "String")
            self._issue(
                "unknown-sr-type", where, f"{row.where}: SR type {sr_type!r}; using {fallback}"
            )
            sr_type = fallback
        if proto is not None:
            if row.number is not None and row.number != proto.number:
                self._issue(
                    "field-number-mismatch",
                    where,
                    f"dictionary fNum {row.number}, proto {proto.name} = {proto.number}",
                )
            if proto_json_name(proto.name) != row.name:
                self._issue(
                    "wire-name-not-camelcase",
                    where,
                    f"proto {proto.name} -> {proto_json_name(proto.name)}, dictionary {row.name}",
                )
            sr_type = self._check_type(where, sr_type, proto_type)
        enum = self._enum(row.name, sr_type, proto, row.enum_name, row.enum_set)
        return Field(
            py_name=safe_attribute(snake(row.name)),
            wire_name=row.name,
            sr_type=sr_type,
            proto_name=proto.name if proto is not None else None,
            proto_number=proto.number if proto is not None else None,
            proto_type=proto_type,
            dict_number=row.number,
            enum=enum,
            group=None,
            description=row.description or (proto.comment if proto is not None else ""),
            origin=Origin.BOTH if proto is not None else Origin.DICTIONARY,
        )

    def _proto_only(self, proto: ProtoField) -> Field:
        proto_type = proto_type_of(proto)
        sr_type = _SR_OF_PROTO.get(proto_type, "String")
        wire = proto_json_name(proto.name)
        return Field(
            py_name=safe_attribute(snake(wire)),
            wire_name=wire,
            sr_type=sr_type,
            proto_name=proto.name,
            proto_number=proto.number,
            proto_type=proto_type,
            dict_number=None,
            enum=self._enum(wire, sr_type, proto, None, None),
            group=None,
            description=proto.comment,
            origin=Origin.PROTO,
        )

    def _enum(
        self,
        name: str,
        sr_type: str,
        proto: ProtoField | None,
        enum_name: str | None,
        eset: tuple[str, ...] | None,
    ) -> str | None:
        if sr_type not in ("Enum", "Flag"):
            return None
        return self.enums.resolve(
            message=self.message,
            field=name,
            proto_enum=proto.type_name if proto is not None and proto.type == "enum" else None,
            enum_name=enum_name,
            eset=eset,
            is_flag=sr_type == "Flag",
        )

    def _check_type(self, where: str, sr_type: str, proto_type: str | None) -> str:
        """The SR type to use; a proto type other than the expected one is reported.

        The dictionary's type wins (it is what JSON carries) except that an integer SR type on
        a floating-point proto field becomes floating point, so neither wire loses digits.
        """
        expected = _EXPECTED_PROTO.get(sr_type)
        if expected is None or proto_type is None or expected == proto_type:
            return sr_type
        resolved = sr_type
        if sr_type in _INTS and proto_type in ("float", "double"):
            resolved = _SR_OF_PROTO[proto_type]
        self._issue(
            "type-mismatch",
            where,
            f"dictionary {sr_type} (proto {expected} expected), proto {proto_type}; "
            f"using {resolved}",
        )
        return resolved

    def group_field(
        self, row: DictField | None, proto: ProtoField | None, wire: str, class_name: str
    ) -> Field:
        """The parent's field holding a repeated group.

        Without a dictionary row the Python name follows the proto field (``tkey_filters``, as
        protoc's Python classes spell it), since the wire name may split a word (``TKeyFilters``).
        """
        named = proto_json_name(proto.name) if row is None and proto is not None else wire
        return Field(
            py_name=safe_attribute(snake(named)),
            wire_name=wire,
            sr_type="Repeater",
            proto_name=proto.name if proto is not None else None,
            proto_number=proto.number if proto is not None else None,
            proto_type=proto.type_name if proto is not None else None,
            dict_number=row.number if row is not None else None,
            enum=None,
            group=class_name,
            description=(row.description if row is not None else "") or "",
            origin=_origin(row is not None, proto is not None),
        )

    def dedupe(self, fields: Sequence[Field]) -> tuple[Field, ...]:
        """Make Python names unique within one class; report each rename."""
        seen: set[str] = set()
        out: list[Field] = []
        for f in fields:
            name = f.py_name
            while name in seen:
                name = f"{name}_"
            if name != f.py_name:
                self._issue(
                    "python-name-collision",
                    f.wire_name,
                    f"{f.py_name} is taken in this class; named {name}",
                )
            seen.add(name)
            out.append(attrs.evolve(f, py_name=name))
        return tuple(out)


def _origin(in_dictionary: bool, in_proto: bool) -> Origin:
    if in_dictionary and in_proto:
        return Origin.BOTH
    return Origin.DICTIONARY if in_dictionary else Origin.PROTO


def _scoped(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def _take(pool: list[ProtoField], row: DictField) -> ProtoField | None:
    """Remove and return the proto field matching ``row`` by name (by number among equals)."""
    key = normalise(row.name)
    matches = [f for f in pool if normalise(f.name) == key]
    if not matches:
        return None
    best = next((f for f in matches if f.number == row.number), matches[0])
    pool.remove(best)
    return best
