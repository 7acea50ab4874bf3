"""The generated package's import behaviour: lazy, helpful when missing, version-checked."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from srmlink.codegen.stage import stage_package

from .conftest import ROOT, run_python, snapshot_dir


def test_import_is_lazy(staged: Callable[[Path], Path]) -> None:
    out = run_python(
        staged(snapshot_dir("2026-07")),
        """
        import sys
        import srmlink.messages
        loaded = sorted(m for m in sys.modules if m.startswith("srmlink.messages."))
        print(loaded)
        from srmlink.messages import OptionNbboQuote
        token = sorted(m for m in sys.modules if m.startswith("srmlink.messages.")
                       and not m.startswith("srmlink.messages._enum_"))
        enums = sum(1 for m in sys.modules if m.startswith("srmlink.messages._enum_"))
        print(token, enums, len(srmlink.messages.registry.entries()))
        """,
    )
    first, second = out.splitlines()
    # Only the registry table is imported up front; a class brings its token module and the
    # handful of enums it uses, not the ~400 others.
    assert first == "['srmlink.messages._index']"
    token, enums, entries = re.fullmatch(r"(\[.*\]) (\d+) (\d+)", second).groups()  # type: ignore[union-attr]
    assert token == "['srmlink.messages._index', 'srmlink.messages.opt_mkt_data']"
    assert 0 < int(enums) < 40 < int(entries)


def test_missing_bindings_say_how_to_generate(tmp_path: Path) -> None:
    stage = stage_package(tmp_path, {})
    out = run_python(
        stage,
        """
        try:
            import srmlink.messages
        except ImportError as exc:
            print(type(exc).__name__, exc)
        """,
    )
    assert out.startswith("ImportError srmlink.messages has not been generated yet")
    assert "srmlink generate" in out


def test_bindings_for_another_runtime_are_refused(tmp_path: Path) -> None:
    index = "CLASSES: dict[str, str] = {}\nRUNTIME_API = 999\nregistry = None\n"
    stage = stage_package(tmp_path, {"_index.py": index})
    out = run_python(
        stage,
        """
        try:
            import srmlink.messages
        except ImportError as exc:
            print(exc)
        """,
    )
    assert "generated for runtime API 999" in out and "regenerate" in out


def test_readme_example_runs(staged: Callable[[Path], Path]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", readme, re.S)
    assert block is not None
    out = run_python(staged(snapshot_dir("2026-07")), block.group(1))
    assert out.strip() == "AAPL-NMS-EQT-2026-07-17-200-C PrcChange"


@pytest.mark.parametrize("name", ["OptionNbboQuote", "optionnbboquote", "OPTIONNBBOQUOTE"])
def test_registry_names_are_case_insensitive(name: str, staged: Callable[[Path], Path]) -> None:
    out = run_python(
        staged(snapshot_dir("2026-07")),
        f"""
        from srmlink.messages import registry
        cls = registry.by_name({name!r})
        print(cls.__name__, [c.__name__ for c in registry.by_token("optmktdata")][:3],
              {name!r} in registry, 2785 in registry, "Nope" in registry)
        """,
    )
    assert out.split(" ", 1)[0] == "OptionNbboQuote"
    assert out.strip().endswith("True True False")
