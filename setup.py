"""Build hook: generate ``srmlink.messages`` from the schema before the package is built.

Generated code is a build product (never committed). ``pip install .`` / ``python -m build``
run the generator here; ``srmlink generate`` and ``nox -s generate`` do the same by hand. When
no schema can be found the build goes on without bindings, and ``import srmlink.messages`` then
says how to generate them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _codegen() -> object:
    """Import ``codegen/`` under a private name: the package is not installed yet."""
    name = "_srmlink_build_codegen"
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "codegen" / "__init__.py", submodule_search_locations=[str(ROOT / "codegen")]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.build")


class GenerateThenBuildPy(build_py):
    def run(self) -> None:
        build = _codegen()
        build.generate_for_build(ROOT)  # type: ignore[attr-defined]
        super().run()


# src/srmlink is a committed symlink to runtime/, and runtime/codegen, runtime/messages link
# to codegen/ and generated/: the import tree srmlink/ exists on disk, so an editable install
# is a plain path entry (.pth) that mypy, pyright and jedi follow, and regenerated modules are
# seen at once.
setup(
    package_dir={"": "src"},
    packages=[
        "srmlink",
        "srmlink.codec",
        "srmlink.codegen",
        "srmlink.codegen.sources",
        "srmlink.frames",
        "srmlink.messages",
        "srmlink.query",
        "srmlink.rest",
        "srmlink.server",
        "srmlink.relay",
        "srmlink.stream",
    ],
    cmdclass={"build_py": GenerateThenBuildPy},
)
