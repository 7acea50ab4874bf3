"""Rewrite ``tests/golden/expected/`` from ``tests/golden/schema/``.

Run after an intended change to the generator's output (``nox -s golden`` or
``python -m tests.golden.regenerate``), then review the diff before committing it.
"""

from __future__ import annotations

from pathlib import Path

from srmlink.codegen.build import generate
from srmlink.codegen.report import report_json

HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "schema"
EXPECTED = HERE / "expected"
LABEL = "golden"


def render_golden() -> dict[str, str]:
    """The generated modules and the JSON report of the golden schema, by file name."""
    result = generate(SCHEMA, None, label=LABEL)
    return {**result.files, "reconciliation-report.json": report_json(result.schema)}


def main() -> None:
    files = render_golden()
    EXPECTED.mkdir(exist_ok=True)
    for stale in EXPECTED.iterdir():
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (EXPECTED / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} golden files to {EXPECTED}")


if __name__ == "__main__":
    main()
