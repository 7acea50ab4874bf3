"""Load getmsgtypes (MsgDesc records) and getlayout (MsgLayout / FieldLayout records) output.

getmsgtypes is the server's word on message numbers. 2026 responses carry ``mToken``; the May
2023 server called the same thing ``mCat``. getlayout's records are not described by any
published schema; we read the members that overlap MsgDesc / FieldDesc (name, mNum; name, fNum,
fType) and ignore the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import SchemaError
from .dictionary import canonical_type, envelopes
from .models import DictField, Dictionary, DictMessage, MsgType, MsgTypes

__all__ = ["load_getlayout", "load_msgtypes"]


def _msg_type(msg: Mapping[str, object], where: str) -> MsgType:
    name = msg.get("name", msg.get("msgName"))
    mnum = msg.get("mNum", msg.get("msgNum"))
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{where}: record without a message name")
    if isinstance(mnum, str) and mnum.isdigit():
        mnum = int(mnum)
    if not isinstance(mnum, int) or isinstance(mnum, bool):
        raise SchemaError(f"{where}: {name} has no numeric mNum ({mnum!r})")
    token = msg.get("mToken", msg.get("mCat"))
    schema_hash = msg.get("schemaHash")
    return MsgType(
        name,
        mnum,
        token if isinstance(token, str) and token else None,
        str(schema_hash) if schema_hash not in (None, "") else None,
    )


def load_msgtypes(path: Path) -> MsgTypes:
    """Load a getmsgtypes response (a JSON array of MsgDesc envelopes)."""
    types = tuple(
        _msg_type(msg, where) for mtyp, msg, where in envelopes(path) if mtyp == "MsgDesc"
    )
    return MsgTypes(types, str(path))


def load_getlayout(path: Path) -> tuple[MsgTypes, Dictionary]:
    """Load a getlayout response: MsgLayout records, each followed by its FieldLayout records."""
    types: list[MsgType] = []
    fields: dict[str, list[DictField]] = {}
    current: str | None = None
    for mtyp, msg, where in envelopes(path):
        if mtyp == "MsgLayout":
            entry = _msg_type(msg, where)
            types.append(entry)
            current = entry.name
            fields.setdefault(current, [])
        elif mtyp == "FieldLayout":
            if current is None:
                raise SchemaError(f"{where}: FieldLayout before any MsgLayout")
            name = msg.get("name")
            if not isinstance(name, str) or not name:
                raise SchemaError(f"{where}: FieldLayout without a name")
            sr_type, enum_name = canonical_type(str(msg.get("fType", "")))
            number = msg.get("fNum")
            repeater = msg.get("inRepeater")
            fields[current].append(
                DictField(
                    name,
                    number if isinstance(number, int) else None,
                    sr_type,
                    enum_name,
                    None,
                    "",
                    repeater if isinstance(repeater, str) and repeater else None,
                    None,
                    where,
                )
            )
    by_name = {t.name: t for t in types}
    messages = tuple(
        DictMessage(name, by_name[name].token, by_name[name].mnum, tuple(rows))
        for name, rows in fields.items()
        if rows
    )
    return MsgTypes(tuple(types), str(path)), Dictionary(messages, str(path))
