"""Assemble an importable ``srmlink`` tree from the runtime and a set of generated files.

Used to type-check and exercise bindings of several schemas side by side (each in its own
tree) without touching the installed package: ``PYTHONPATH=<dest>`` then imports that tree.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
from collections.abc import Mapping
from pathlib import Path

from .build import generate

__all__ = ["STANDALONE", "stage_package"]

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")

# Python code to run first in an interpreter that must import only the staged tree: an editable
# install adds a finder that would fill in any module missing from it with the checkout's own.
STANDALONE = (
    "import sys\n"
    "sys.meta_path[:] = [f for f in sys.meta_path\n"
    "                    if not str(getattr(f, '__module__', '')).startswith('__editable__')]\n"
)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"cannot locate package {name}")
    return Path(next(iter(spec.submodule_search_locations)))


def stage_package(dest: Path, generated: Mapping[str, str]) -> Path:
    """Write ``dest/srmlink`` (runtime + codegen + ``messages`` holding ``generated``).

    Returns ``dest``, the folder to put on ``sys.path`` / ``PYTHONPATH`` / ``MYPYPATH``.
    """
    root = dest / "srmlink"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(
        _package_dir("srmlink"),
        root,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "codegen", "messages"),
    )
    shutil.copytree(_package_dir("srmlink.codegen"), root / "codegen", ignore=_IGNORE)
    messages = root / "messages"
    messages.mkdir()
    source = _package_dir("srmlink.messages")
    for keep in ("__init__.py", "py.typed"):
        shutil.copy2(source / keep, messages / keep)
    for name, text in generated.items():
        (messages / name).write_text(text, encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -m srmlink.codegen.stage SCHEMA_DIR DEST``: generate SCHEMA_DIR into DEST."""
    parser = argparse.ArgumentParser(prog="python -m srmlink.codegen.stage")
    parser.add_argument("schema", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    result = generate(args.schema, None)
    stage_package(args.dest, result.files)
    print(f"staged {len(result.files)} generated modules of {args.schema} in {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
