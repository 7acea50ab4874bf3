"""``python -m srmlink.codegen.stage``: a schema generated into a package tree of its own
(what the typecheck session and the tests of other snapshots import)."""

from __future__ import annotations

from pathlib import Path

import pytest

from srmlink.codegen.stage import main

GOLDEN = Path(__file__).parent / "golden"


def test_stage_writes_runtime_codegen_and_the_generated_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = GOLDEN / "schema"
    stale = tmp_path / "srmlink" / "stale.py"
    stale.parent.mkdir()
    stale.write_text("left from an earlier stage\n")
    assert main([str(schema), str(tmp_path)]) == 0
    root = tmp_path / "srmlink"
    assert not stale.exists()  # the tree is replaced, not merged
    assert (root / "framing.py").is_file() and (root / "codegen" / "stage.py").is_file()
    assert not list(root.rglob("__pycache__"))
    messages = root / "messages"
    expected = sorted(p.name for p in (GOLDEN / "expected").glob("*.py"))
    staged = sorted(p.name for p in messages.glob("*.py") if p.name != "__init__.py")
    assert staged == expected
    assert (messages / "py.typed").is_file() and (messages / "__init__.py").is_file()
    assert capsys.readouterr().out == (
        f"staged {len(expected)} generated modules of {schema} in {tmp_path}\n"
    )
