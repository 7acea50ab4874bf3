"""Every Python block of README.md type-checks with mypy --strict and runs.

Blocks run against a local ``srmlink serve`` (the documented ``127.0.0.1:8642`` is replaced by
the test server's address; the key comes from ``SRMLINK_API_KEY``, as the README says). A
block whose first line is ``# needs a SpiderRock account`` is only type-checked; a block that
defines ``test_*`` functions runs under pytest, with the srmlink plugin's fixtures.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from srmlink.stream import MLinkStream
from srmlink.testing import ServerProcess

from .conftest import ROOT, MypyRun, clean_env

README = ROOT / "README.md"
LIVE = "# needs a SpiderRock account"
DOCUMENTED_HOST = "127.0.0.1:8642"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _BLOCK.finditer(text)]


BLOCKS = _blocks()
RUNNABLE = [(line, code) for line, code in BLOCKS if not code.startswith(LIVE)]


def test_the_readme_has_blocks_of_each_kind() -> None:
    assert len(RUNNABLE) >= 5 and len(BLOCKS) > len(RUNNABLE)
    assert any(DOCUMENTED_HOST in code for _, code in RUNNABLE)


# The first full check of the installed package (a shared cache makes later ones quick).
@pytest.mark.timeout(600)
def test_every_block_type_checks_with_mypy_strict(tmp_path: Path, mypy_installed: MypyRun) -> None:
    for line, code in BLOCKS:
        (tmp_path / f"readme_line_{line}.py").write_text(code, encoding="utf-8")
    proc = mypy_installed(tmp_path, ["."])
    # readme_line_N.py:M is README.md line N + M - 1.
    assert proc.returncode == 0, f"mypy --strict on README blocks:\n{proc.stdout}{proc.stderr}"


def _run(code: str, server: ServerProcess, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**clean_env(), "SRMLINK_API_KEY": server.api_key or ""}
    if "def test_" in code:
        (cwd / "test_readme_block.py").write_text(code, encoding="utf-8")
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        args.append("test_readme_block.py")
    else:
        args = [sys.executable, "-c", code.replace(DOCUMENTED_HOST, server.host)]
    return subprocess.run(
        args, capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=120
    )


@pytest.mark.parametrize(("line", "code"), RUNNABLE, ids=[f"line{n}" for n, _ in RUNNABLE])
def test_every_block_runs_against_the_local_server(
    line: int, code: str, mlink_server: ServerProcess, tmp_path: Path
) -> None:
    proc = _run(code, mlink_server, tmp_path)
    assert proc.returncode == 0, f"README.md line {line}:\n{proc.stdout}\n{proc.stderr}"
    if "print(" in code and "def test_" not in code:
        assert proc.stdout.strip(), f"README.md line {line} printed nothing"


def test_the_stream_example_is_typed() -> None:
    """The README's stream example iterates a typed subscription: no isinstance on events."""
    (stream_block,) = [code for _, code in RUNNABLE if "MLinkStream(" in code]
    assert "isinstance(" not in stream_block
    assert not any(
        p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in inspect.signature(MLinkStream.__init__).parameters.values()
    )
