"""Reconcile the loaded schema sources into one IR :class:`~srmlink.codegen.ir.Schema`.

Rules (see ``docs/protocol-notes.md`` of the shared material):
- messages are matched by name (case-insensitively; a case difference is reported);
- mNum: getmsgtypes wins over the dictionary's ``Message ID``; an MLink control message that
  no source numbers takes the published number of :mod:`.known_numbers` (reported); token:
  getmsgtypes, then the dictionary, then the proto's folder;
- fields are matched by normalised name, never by number (the sources disagree on hundreds);
  the JSON wire name comes from the dictionary, proto number and type from the proto;
- every disagreement becomes an :class:`~srmlink.codegen.ir.Issue`; nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from attrs import define, field

from .enums import EnumCollector
from .fields import FieldBuilder, ProtoPool
from .ir import Field, Group, Issue, Message, Origin, Schema, Undefined
from .known_numbers import CONTROL_MESSAGE_NUMBERS
from .naming import module_name, normalise, pascal, snake
from .sources.models import DictField, DictMessage, MsgType, ProtoMessage, SchemaSources

__all__ = ["reconcile"]

# Proto messages that are field types, not message types.
_SUPPORT_TYPES = frozenset(
    {"DateKey", "TickerKey", "ExpiryKey", "OptionKey", "MessageMetadata", "MbusInfo"}
)
# Dictionary fields numbered below this are primary-key parts in every message the protos
# define; used to infer the key of dictionary-only messages.
_PKEY_NUMBER_LIMIT = 100


@define
class _Candidate:
    """Everything known about one message name, gathered from all sources."""

    name: str
    proto: ProtoMessage | None = None
    dictionary: DictMessage | None = None
    msgtype: MsgType | None = None
    spellings: set[str] = field(factory=set)


def reconcile(sources: SchemaSources, label: str) -> Schema:
    """Build the IR from whatever sources were found; never raises on disagreements."""
    issues: list[Issue] = []
    candidates = _gather(sources, issues)
    enums = EnumCollector(sources.protos.enums if sources.protos else (), issues)
    taken = frozenset(n for c in candidates.values() if (n := _source_mnum(c)) is not None)
    messages: list[Message] = []
    undefined: list[Undefined] = []
    for cand in sorted(candidates.values(), key=lambda c: c.name):
        if cand.proto is None and cand.dictionary is None:
            assert cand.msgtype is not None
            mt = cand.msgtype
            undefined.append(Undefined(cand.name, mt.mnum, mt.token, mt.schema_hash))
            issues.append(
                Issue(
                    "msgtype-undefined",
                    cand.name,
                    None,
                    f"getmsgtypes lists mNum {mt.mnum} but no source defines it",
                )
            )
            continue
        messages.append(_message(cand, enums, issues, taken))
    return Schema(
        label=label,
        fingerprint=sources.fingerprint,
        messages=tuple(messages),
        enums=enums.build(),
        undefined=tuple(undefined),
        issues=tuple(issues),
    )


def _gather(sources: SchemaSources, issues: list[Issue]) -> dict[str, _Candidate]:
    by_key: dict[str, _Candidate] = {}

    def slot(name: str) -> _Candidate:
        cand = by_key.setdefault(name.lower(), _Candidate(name))
        cand.spellings.add(name)
        return cand

    # Later sources win the spelling: getmsgtypes is the server's own word.
    if sources.protos is not None:
        for msg in sources.protos.messages:
            if msg.token is not None and msg.name not in _SUPPORT_TYPES:
                slot(msg.name).proto = msg
    if sources.dictionary is not None:
        for dmsg in sources.dictionary.messages:
            cand = slot(dmsg.name)
            cand.dictionary, cand.name = dmsg, dmsg.name
    if sources.msgtypes is not None:
        for mt in sources.msgtypes.types:
            cand = slot(mt.name)
            if cand.msgtype is not None and cand.msgtype.mnum != mt.mnum:
                issues.append(
                    Issue(
                        "msgtype-duplicate",
                        mt.name,
                        None,
                        f"listed twice: mNum {cand.msgtype.mnum} and {mt.mnum}",
                    )
                )
            cand.msgtype, cand.name = mt, mt.name
    for cand in by_key.values():
        if len(cand.spellings) > 1:
            issues.append(
                Issue(
                    "name-case-mismatch",
                    cand.name,
                    None,
                    f"spelled {sorted(cand.spellings)} by different sources",
                )
            )
    return by_key


def _source_mnum(cand: _Candidate) -> int | None:
    """The number the schema's own sources give ``cand`` (getmsgtypes first)."""
    if cand.msgtype is not None:
        return cand.msgtype.mnum
    return cand.dictionary.mnum if cand.dictionary is not None else None


def _message(
    cand: _Candidate, enums: EnumCollector, issues: list[Issue], taken: frozenset[int]
) -> Message:
    name, proto, dmsg, mt = cand.name, cand.proto, cand.dictionary, cand.msgtype
    if proto is not None and dmsg is not None:
        origin = Origin.BOTH
    elif proto is not None:
        origin = Origin.PROTO
        issues.append(
            Issue(
                "message-only-in-proto",
                name,
                None,
                "no dictionary entry: wire names follow proto3's camelCase rule",
            )
        )
    else:
        origin = Origin.DICTIONARY
        issues.append(
            Issue("message-only-in-dictionary", name, None, "no .proto definition: JSON only")
        )
    mnum = _mnum(name, dmsg, mt, issues, taken)
    token = _token(name, proto, dmsg, mt, issues)
    builder = FieldBuilder(name, enums, issues)
    pool = ProtoPool.of(proto)
    dict_fields = _place_group_children(name, dmsg.fields if dmsg is not None else (), pool, issues)
    top = [f for f in dict_fields if f.repeater is None and f.sr_type != "Repeater"]
    pkey_rows, body_rows = _split_pkey(name, top, pool, dmsg is not None and proto is None, issues)
    has_dict = dmsg is not None
    pkey_fields = builder.build_fields(
        pkey_rows, pool.pkey, has_proto=pool.present, has_dictionary=has_dict, scope="pkey"
    )
    body = builder.build_fields(
        body_rows, pool.top, has_proto=pool.present, has_dictionary=has_dict, scope=""
    )
    groups, group_fields = _groups(name, dict_fields, pool, builder, has_dict)
    pkey = (
        Group(f"{name}PKey", "pkey", "pkey" if pool.pkey else None, builder.dedupe(pkey_fields))
        if pkey_fields
        else None
    )
    return Message(
        name=name,
        mnum=mnum,
        token=token,
        module=module_name(token),
        description=(proto.comment if proto is not None else "") or "",
        pkey=pkey,
        fields=builder.dedupe((*body, *group_fields)),
        groups=groups,
        origin=origin,
        proto_file=proto.file if proto is not None else None,
        schema_hash=mt.schema_hash if mt is not None else None,
    )


def _mnum(
    name: str,
    dmsg: DictMessage | None,
    mt: MsgType | None,
    issues: list[Issue],
    taken: frozenset[int],
) -> int | None:
    dict_mnum = dmsg.mnum if dmsg is not None else None
    if mt is not None:
        if dict_mnum is not None and dict_mnum != mt.mnum:
            issues.append(
                Issue(
                    "mnum-disagreement",
                    name,
                    None,
                    f"getmsgtypes says {mt.mnum}, the dictionary {dict_mnum}; using {mt.mnum}",
                )
            )
        return mt.mnum
    if dict_mnum is None:
        known = CONTROL_MESSAGE_NUMBERS.get(name)
        if known is not None and known.mnum not in taken:
            issues.append(
                Issue(
                    "mnum-fallback",
                    name,
                    None,
                    f"no source of this schema numbers it; using {known.mnum}, "
                    f"published in {known.evidence}",
                )
            )
            return known.mnum
        clash = f" (the published {known.mnum} is another message's here)" if known else ""
        issues.append(
            Issue(
                "message-without-number",
                name,
                None,
                f"no source gives an mNum{clash}: framed encodings cannot carry it",
            )
        )
    return dict_mnum


def _token(
    name: str,
    proto: ProtoMessage | None,
    dmsg: DictMessage | None,
    mt: MsgType | None,
    issues: list[Issue],
) -> str:
    said = {
        "getmsgtypes": mt.token if mt is not None else None,
        "dictionary": dmsg.token if dmsg is not None else None,
        "proto folder": proto.token if proto is not None else None,
    }
    known = {src: tok for src, tok in said.items() if tok}
    if len(set(known.values())) > 1:
        issues.append(
            Issue(
                "token-disagreement",
                name,
                None,
                ", ".join(f"{src}: {tok}" for src, tok in known.items()),
            )
        )
    return next(iter(known.values()), "")


def _place_group_children(
    name: str, rows: Sequence[DictField], pool: ProtoPool, issues: list[Issue]
) -> tuple[DictField, ...]:
    """Move top-level rows that belong to a proto repeated group into that group.

    The 2023 dictionary layout has no Repeater rows: a group's children are listed as if they
    were top-level fields (so names repeat: ``secKey`` of the key and of each leg). A row
    goes to a group when no unclaimed top-level or key field of the proto has its name but a
    field of a repeated group without a dictionary Repeater row does.
    """
    listed = {normalise(r.name) for r in rows if r.sr_type == "Repeater"}
    children = {
        key: {normalise(f.name) for f in nested.fields}
        for key, (_, nested) in pool.groups.items()
        if key not in listed
    }
    if not children:
        return tuple(rows)
    unclaimed = [normalise(f.name) for f in (*pool.pkey, *pool.top)]
    out: list[DictField] = []
    for row in rows:
        key = normalise(row.name)
        if row.repeater is None and row.sr_type != "Repeater":
            if key in unclaimed:
                unclaimed.remove(key)
            else:
                group = next((g for g, names in children.items() if key in names), None)
                if group is not None:
                    proto_field = pool.groups[group][0]
                    moved = attrs.evolve(row, repeater=proto_field.name)
                    issues.append(
                        Issue(
                            "repeater-inferred",
                            name,
                            row.name,
                            f"{row.where}: placed in repeated group "
                            f"{proto_field.name} (the proto's; the dictionary "
                            "has no Repeater row)",
                        )
                    )
                    out.append(moved)
                    continue
        out.append(row)
    return tuple(out)


def _split_pkey(
    name: str, rows: Sequence[DictField], pool: ProtoPool, infer: bool, issues: list[Issue]
) -> tuple[list[DictField], list[DictField]]:
    """Dictionary rows that are primary-key parts, and the rest.

    getschema says so itself (isPkey); with a proto, the proto's PKey fields decide; for a
    dictionary-only message the field numbering convention does, and that is reported.
    """
    pkey_names = {normalise(f.name) for f in pool.pkey}
    pkey: list[DictField] = []
    body: list[DictField] = []
    for row in rows:
        if row.is_pkey is not None:
            is_pkey = row.is_pkey
        elif pool.pkey or not infer:
            is_pkey = normalise(row.name) in pkey_names and not pool.is_top(row.name, row.number)
        else:
            is_pkey = row.number is not None and row.number < _PKEY_NUMBER_LIMIT
        (pkey if is_pkey else body).append(row)
    if infer and pkey and all(r.is_pkey is None for r in pkey):
        issues.append(
            Issue(
                "pkey-inferred",
                name,
                None,
                f"primary key {[r.name for r in pkey]} inferred from field numbers "
                f"< {_PKEY_NUMBER_LIMIT}",
            )
        )
    return pkey, body


def _groups(
    name: str, rows: Sequence[DictField], pool: ProtoPool, builder: FieldBuilder, has_dict: bool
) -> tuple[tuple[Group, ...], list[Field]]:
    """Repeated groups from dictionary Repeater rows and proto repeated nested messages."""
    order: list[str] = []
    dict_children: dict[str, list[DictField]] = {}
    dict_rows: dict[str, DictField] = {}
    spelled: dict[str, str] = {}
    for row in rows:
        if row.sr_type == "Repeater":
            key = normalise(row.name)
            order.append(key)
            dict_rows[key] = row
            dict_children.setdefault(key, [])
    for row in rows:
        if row.repeater is not None:
            key = normalise(row.repeater)
            spelled.setdefault(key, row.repeater)
            if key not in dict_children:
                order.append(key)
                dict_children[key] = []
            dict_children[key].append(row)
    for key in pool.groups:
        if key not in dict_children:
            order.append(key)
            dict_children[key] = []
    groups: list[Group] = []
    parent_fields: list[Field] = []
    for key in order:
        proto_field, proto_nested = pool.groups.get(key, (None, None))
        wire = _group_wire_name(dict_rows.get(key), proto_nested, spelled.get(key, key))
        class_name = f"{name}{pascal(snake(wire))}"
        group_pool = ProtoPool.of_group(proto_nested)
        children = builder.build_fields(
            dict_children[key],
            group_pool.top,
            has_proto=group_pool.present,
            has_dictionary=has_dict and key in dict_rows,
            scope=wire,
        )
        groups.append(
            Group(
                class_name,
                wire,
                proto_field.name if proto_field else None,
                builder.dedupe(children),
            )
        )
        parent_fields.append(builder.group_field(dict_rows.get(key), proto_field, wire, class_name))
    return tuple(groups), parent_fields


def _group_wire_name(row: DictField | None, nested: ProtoMessage | None, spelling: str) -> str:
    """The JSON name of a repeated group: the dictionary's Repeater row, else the proto's.

    SpiderRock names a repeater after its nested message type (all 72 Repeater rows of the
    2026 dictionary do: ``Subscribe``, ``Underlying``), so a proto-only group takes the nested
    message's name (``TKeyFilters``, ``MsgTypes``), not the field's (``tkey_filters``), whose
    word boundaries are lost. Otherwise the spelling the dictionary's children give, in
    SpiderRock's upper camel case.
    """
    if row is not None:
        return row.name
    if nested is not None:
        return nested.name
    return pascal(spelling)
