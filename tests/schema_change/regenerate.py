"""Rewrite ``tests/schema_change/expected/`` from the ``old/`` and ``new/`` schemas.

Run after an intended change to the diff or its rendering
(``python -m tests.schema_change.regenerate``), then review the changed changelogs before
committing them.
"""

from __future__ import annotations

from pathlib import Path

from srmlink.codegen.build import build_schema
from srmlink.codegen.diff import SchemaDiff, diff_schemas

HERE = Path(__file__).resolve().parent
OLD = HERE / "old"
NEW = HERE / "new"
EXPECTED = HERE / "expected"


def golden_diff() -> SchemaDiff:
    """The diff between the two small schemas, labelled ``old`` and ``new``."""
    return diff_schemas(build_schema(OLD, "old"), build_schema(NEW, "new"))


def render_changelogs() -> dict[str, str]:
    """The expected files, by name."""
    diff = golden_diff()
    return {"changelog.md": diff.to_markdown(), "changelog.json": diff.to_json()}


def main() -> None:
    EXPECTED.mkdir(exist_ok=True)
    for name, text in render_changelogs().items():
        (EXPECTED / name).write_text(text, encoding="utf-8")
    print(f"wrote the changelogs of {OLD.name} -> {NEW.name} to {EXPECTED}")


if __name__ == "__main__":
    main()
