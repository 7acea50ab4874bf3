"""Find and load the schema sources of one schema directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import SchemaError
from .dictionary import load_dictionary_csv, load_getschema
from .models import Dictionary, MsgTypes, ProtoSchema, SchemaSources
from .msgtypes import load_getlayout, load_msgtypes
from .protos import load_protos

__all__ = ["load_sources", "schema_files"]

DICTIONARY_CSV = "DataDictionaryMLink.csv"
MSGTYPES_JSON = "getmsgtypes.json"
GETLAYOUT_JSON = "getlayout.json"
GETSCHEMA_DIR = "getschema"


def _proto_root(root: Path) -> Path | None:
    sub = root / "proto_files"
    if sub.is_dir() and any(sub.rglob("*.proto")):
        return sub
    return root if any(root.rglob("*.proto")) else None


def schema_files(root: Path) -> list[Path]:
    """The files of a schema directory that the generator reads (for fingerprints and locks)."""
    files: list[Path] = []
    proto_root = _proto_root(root)
    if proto_root is not None:
        files.extend(sorted(proto_root.rglob("*.proto")))
    for name in (DICTIONARY_CSV, MSGTYPES_JSON, GETLAYOUT_JSON):
        if (root / name).is_file():
            files.append(root / name)
    if (root / GETSCHEMA_DIR).is_dir():
        files.extend(sorted((root / GETSCHEMA_DIR).glob("*.json")))
    return files


def fingerprint(root: Path, files: list[Path]) -> str:
    """A stable hash of the schema's content: the same files give the same fingerprint."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def load_sources(root: Path) -> SchemaSources:
    """Load every source found in ``root``; any of them may be missing, not all of them.

    Raises:
        SchemaError: ``root`` holds no schema source, or one is unreadable.
    """
    if not root.is_dir():
        raise SchemaError(f"schema directory {root} does not exist")
    files = schema_files(root)
    if not files:
        raise SchemaError(
            f"{root} holds no schema: expected .proto files, {DICTIONARY_CSV} or {MSGTYPES_JSON}"
        )
    proto_root = _proto_root(root)
    protos: ProtoSchema | None = load_protos(proto_root) if proto_root is not None else None
    dictionary: Dictionary | None = None
    msgtypes: MsgTypes | None = None
    if (root / DICTIONARY_CSV).is_file():
        dictionary = load_dictionary_csv(root / DICTIONARY_CSV)
    elif (root / GETSCHEMA_DIR).is_dir():
        dictionary = load_getschema(sorted((root / GETSCHEMA_DIR).glob("*.json")))
    if (root / MSGTYPES_JSON).is_file():
        msgtypes = load_msgtypes(root / MSGTYPES_JSON)
    if (root / GETLAYOUT_JSON).is_file():
        layout_types, layout_fields = load_getlayout(root / GETLAYOUT_JSON)
        msgtypes = msgtypes or layout_types
        dictionary = dictionary or layout_fields
    return SchemaSources(str(root), protos, dictionary, msgtypes, fingerprint(root, files))
