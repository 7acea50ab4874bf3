"""Golden end-to-end: the small hand-written schema generates exactly the committed files,
and the output passes mypy --strict and imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from srmlink.codegen.stage import stage_package

from .conftest import run_python
from .golden.regenerate import EXPECTED, render_golden

REGENERATE = "python -m tests.golden.regenerate"


def test_output_matches_golden_files() -> None:
    files = render_golden()
    expected = {p.name: p.read_text(encoding="utf-8") for p in EXPECTED.iterdir() if p.is_file()}
    assert sorted(files) == sorted(expected), f"file set changed; run `{REGENERATE}`"
    for name, text in files.items():
        assert text == expected[name], f"{name} differs from the golden file; run `{REGENERATE}`"


def test_render_is_deterministic() -> None:
    assert render_golden() == render_golden()


def test_golden_output_is_mypy_strict_clean(tmp_path: Path) -> None:
    files = {k: v for k, v in render_golden().items() if k.endswith(".py")}
    stage = stage_package(tmp_path, files)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "srmlink.messages"],
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(stage)},
        cwd=stage,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_golden_output_imports_and_behaves(tmp_path: Path) -> None:
    files = {k: v for k, v in render_golden().items() if k.endswith(".py")}
    stage = stage_package(tmp_path, files)
    out = run_python(
        stage,
        """
        import sys
        import srmlink.messages as m
        loaded = [k for k in sys.modules if k.startswith("srmlink.messages.")]
        assert loaded == ["srmlink.messages._index"], loaded
        classes = list(m.registry)
        assert classes and all(c.MSG_NAME for c in classes)
        print(len(classes), len(m.registry.entries()))
        """,
    )
    classes, entries = map(int, out.split())
    assert entries >= classes > 0
