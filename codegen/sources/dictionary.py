"""Load the data dictionary (``DataDictionaryMLink.csv``, 2026 or 2023 columns) and getschema
output (FieldDesc records, JSON) into one :class:`Dictionary` model.

The CSV and getschema are two forms of the same facts: one row per field, repeater children
listed right after their Repeater row (the CSV) or naming it in ``inRepeater`` (getschema).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from attrs import frozen

from ..errors import SchemaError
from .models import DictField, Dictionary, DictMessage

__all__ = ["SR_TYPES", "canonical_type", "envelopes", "load_dictionary_csv", "load_getschema"]

SR_TYPES = (
    "Float",
    "Double",
    "Byte",
    "Short",
    "UShort",
    "Int",
    "UInt",
    "Long",
    "ULong",
    "Enum",
    "Flag",
    "String",
    "Text1",
    "Text2",
    "DateTime",
    "TimeSpan",
    "DateKey",
    "TickerKey",
    "ExpiryKey",
    "OptionKey",
    "Repeater",
)
_CANONICAL = {t.lower(): t for t in SR_TYPES}

_COLUMNS_2026 = (
    "Message Name",
    "mToken",
    "Field Number (fNum)",
    "Field Name (name)",
    "Field Type (fType)",
    "Enum Set (eSet)",
    "Field Description (desc)",
)
_COLUMNS_2023 = (
    "Message Name",
    "Message ID",
    "Field Number",
    "Field Name",
    "Field Type",
    "Field Description",
)


def canonical_type(text: str) -> tuple[str, str | None]:
    """SR type and enum name of a dictionary type cell.

    2026 cells are bare (``Float``, ``Enum``); 2023 cells are lower case and may carry the enum
    name, a default or a length (``enum:YesNo:None``, ``flag:OpraMktType``, ``string:8``).
    Unknown types are returned as written, for the reconciler to report.
    """
    head, _, rest = text.strip().partition(":")
    sr_type = _CANONICAL.get(head.lower(), head)
    enum_name = rest.split(":")[0] or None if sr_type in ("Enum", "Flag") and rest else None
    return sr_type, enum_name


def load_dictionary_csv(path: Path) -> Dictionary:
    """Load ``DataDictionaryMLink.csv`` in either published column layout.

    Raises:
        SchemaError: the header is neither layout, or a row is malformed.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise SchemaError(f"{path}: empty data dictionary")
    header = tuple(cell.strip() for cell in rows[0])
    if header[: len(_COLUMNS_2026)] == _COLUMNS_2026:
        parse = _row_2026
    elif header[: len(_COLUMNS_2023)] == _COLUMNS_2023:
        parse = _row_2023
    else:
        raise SchemaError(f"{path}:1: unrecognised data dictionary columns {list(header)}")
    builder = _Builder(str(path), sequential_repeaters=True)
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path.name}:{line}"
        if len(row) < len(header) - 1:
            raise SchemaError(f"{where}: expected {len(header)} columns, got {len(row)}")
        builder.add(*parse(row, where), where=where)
    return builder.build()


def _int(text: str, where: str, column: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise SchemaError(f"{where}: {column} {text!r} is not a number") from None


def _row_2026(row: Sequence[str], where: str) -> tuple[str, str | None, int | None, _RawField]:
    sr_type, enum_name = canonical_type(row[4])
    eset = tuple(v.strip() for v in row[5].split(",")) if row[5].strip() else None
    field = _RawField(
        row[3].strip(),
        _int(row[2], where, "fNum"),
        sr_type,
        enum_name,
        eset,
        row[6].strip(),
        None,
        None,
    )
    return row[0].strip(), row[1].strip() or None, None, field


def _row_2023(row: Sequence[str], where: str) -> tuple[str, str | None, int | None, _RawField]:
    sr_type, enum_name = canonical_type(row[4])
    description = row[5].strip() if len(row) > 5 else ""
    field = _RawField(
        row[3].strip(),
        _int(row[2], where, "Field Number"),
        sr_type,
        enum_name,
        None,
        description,
        None,
        None,
    )
    return row[0].strip(), None, _int(row[1], where, "Message ID"), field


@frozen
class _RawField:
    """A field row before its message is assembled (repeater membership may come later)."""

    name: str
    number: int | None
    sr_type: str
    enum_name: str | None
    enum_set: tuple[str, ...] | None
    description: str
    repeater: str | None
    is_pkey: bool | None


class _Builder:
    """Groups rows by message, in first-seen order, tracking repeater membership."""

    def __init__(self, source: str, *, sequential_repeaters: bool) -> None:
        self.source = source
        self.sequential_repeaters = sequential_repeaters
        self.order: list[str] = []
        self.tokens: dict[str, str | None] = {}
        self.mnums: dict[str, int | None] = {}
        self.fields: dict[str, list[DictField]] = {}
        self.current_repeater: dict[str, str | None] = {}

    def add(
        self, message: str, token: str | None, mnum: int | None, raw: _RawField, *, where: str
    ) -> None:
        if not message or not raw.name:
            raise SchemaError(f"{where}: a row needs a message name and a field name")
        if message not in self.fields:
            self.order.append(message)
            self.fields[message] = []
            self.tokens[message] = token
            self.mnums[message] = mnum
            self.current_repeater[message] = None
        repeater = raw.repeater
        if raw.sr_type == "Repeater":
            self.current_repeater[message] = raw.name
            repeater = None
        elif self.sequential_repeaters:
            # CSV layout: children follow their Repeater row up to the next Repeater row.
            repeater = self.current_repeater[message]
        self.fields[message].append(
            DictField(
                raw.name,
                raw.number,
                raw.sr_type,
                raw.enum_name,
                raw.enum_set,
                raw.description,
                repeater,
                raw.is_pkey,
                where,
            )
        )

    def build(self) -> Dictionary:
        messages = tuple(
            DictMessage(name, self.tokens[name], self.mnums[name], tuple(self.fields[name]))
            for name in self.order
        )
        return Dictionary(messages, self.source)


def envelopes(path: Path) -> Iterator[tuple[str, Mapping[str, object], str]]:
    """(mTyp, message, where) of each envelope in a JSON array file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(data, list):
        raise SchemaError(f"{path}: expected a JSON array of MLink envelopes")
    for i, item in enumerate(data):
        where = f"{path.name}[{i}]"
        header = item.get("header") if isinstance(item, dict) else None
        message = item.get("message") if isinstance(item, dict) else None
        if not isinstance(header, dict) or not isinstance(message, dict):
            raise SchemaError(f"{where}: expected {{'header': {{...}}, 'message': {{...}}}}")
        yield str(header.get("mTyp", "")), message, where


def load_getschema(files: Sequence[Path]) -> Dictionary:
    """Load getschema responses, one file per message type named ``<MessageName>.json``.

    Each holds the JSON array the REST server returns for ``cmd=getschema&msgtype=NAME``:
    FieldDesc envelopes (a trailing QueryResult is ignored).
    """
    builder = _Builder(str(files[0].parent) if files else "getschema", sequential_repeaters=False)
    for path in sorted(files):
        for mtyp, msg, where in envelopes(path):
            if mtyp != "FieldDesc":
                continue
            for raw in _field_descs(msg, where):
                builder.add(path.stem, None, None, raw, where=where)
    return builder.build()


def _field_descs(msg: Mapping[str, object], where: str) -> Iterator[_RawField]:
    """One FieldDesc's fields: itself, then the children a 2023 server nests in its
    ``Repeater`` member (``nm``, ``fn``, ``fType``, ``tName``, ``eSet``, ``desc``); 2026
    servers send children as rows of their own naming ``inRepeater``."""
    field = _field_desc(msg, where)
    yield field
    children = msg.get("Repeater")
    if field.sr_type != "Repeater" or not isinstance(children, list):
        return
    for i, child in enumerate(children):
        inner = f"{where}.Repeater[{i}]"
        if not isinstance(child, dict):
            raise SchemaError(f"{inner}: expected an object describing a field of {field.name}")
        yield _field_desc(
            {
                "name": child.get("nm"),
                "fNum": child.get("fn"),
                "fType": child.get("fType"),
                "eName": child.get("tName"),
                "eSet": child.get("eSet"),
                "desc": child.get("desc"),
                "inRepeater": field.name,
            },
            inner,
        )


def _field_desc(msg: Mapping[str, object], where: str) -> _RawField:
    name = msg.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{where}: FieldDesc without a name")
    sr_type, enum_name = canonical_type(str(msg.get("fType", "")))
    eset_text = msg.get("eSet")
    eset = tuple(v.strip() for v in eset_text.split(",")) if isinstance(eset_text, str) else None
    number = msg.get("fNum")
    in_repeater = msg.get("inRepeater")
    return _RawField(
        name,
        number if isinstance(number, int) else None,
        sr_type,
        str(msg["eName"]) if msg.get("eName") else enum_name,
        eset if eset else None,
        str(msg.get("desc", "") or ""),
        in_repeater if isinstance(in_repeater, str) and in_repeater else None,
        msg.get("isPkey") == "Yes",
    )
