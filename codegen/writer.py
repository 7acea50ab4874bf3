"""Put rendered files on disk, removing generated files the new output no longer has."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from attrs import frozen

__all__ = ["WriteResult", "write_tree"]

# Files of the output folder that are hand-written and committed, never touched.
KEEP = frozenset({"__init__.py", "py.typed", "README.md", ".gitignore"})


@frozen
class WriteResult:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


def write_tree(files: Mapping[str, str], out: Path, *, check: bool = False) -> WriteResult:
    """Make ``out`` hold exactly ``files`` (plus the hand-written ones in :data:`KEEP`).

    With ``check`` nothing is written: the result says what would change.
    """
    written: list[str] = []
    unchanged: list[str] = []
    if not check:
        out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(files.items()):
        path = out / name
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            unchanged.append(name)
            continue
        written.append(name)
        if not check:
            path.write_text(text, encoding="utf-8")
    removed = sorted(
        p.name
        for p in (out.glob("*.py") if out.is_dir() else ())
        if p.name not in files and p.name not in KEEP
    )
    if not check:
        for name in removed:
            (out / name).unlink()
    return WriteResult(tuple(written), tuple(unchanged), tuple(removed))
