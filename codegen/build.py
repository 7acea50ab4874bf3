"""The generator pipeline: locate -> load -> reconcile -> render -> write."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from attrs import frozen

from .errors import SchemaNotFoundError
from .ir import Schema
from .locate import locate_schema
from .reconcile import reconcile
from .render import render
from .sources import load_sources
from .writer import WriteResult, write_tree

__all__ = ["GenerateResult", "build_schema", "generate", "generate_for_build"]


@frozen
class GenerateResult:
    schema: Schema
    files: dict[str, str]
    written: WriteResult | None
    seconds: float


def build_schema(root: Path, label: str | None = None) -> Schema:
    """Load and reconcile one schema directory into the IR."""
    return reconcile(load_sources(root), label or root.resolve().name)


def generate(
    root: Path, out: Path | None, *, label: str | None = None, check: bool = False
) -> GenerateResult:
    """Generate the bindings of ``root`` into ``out`` (render only when ``out`` is None)."""
    start = time.perf_counter()
    schema = build_schema(root, label)
    files = render(schema)
    written = write_tree(files, out, check=check) if out is not None else None
    return GenerateResult(schema, files, written, time.perf_counter() - start)


def _label(root: Path, label: str | None) -> str:
    if label:
        return label
    resolved = root.resolve()
    # ``.../2026-07/proto_files`` is labelled by its snapshot folder, not ``proto_files``.
    return (
        resolved.parent.name
        if resolved.name == "proto_files" and (resolved.parent / "getmsgtypes.json").exists()
        else resolved.name
    )


def generate_for_build(project: Path) -> None:
    """The build hook: regenerate ``generated/`` if a schema can be found, else warn."""
    try:
        root = locate_schema(base=project)
    except SchemaNotFoundError as exc:
        print(f"srmlink build: bindings not generated: {exc}", file=sys.stderr)
        return
    result = generate(root, project / "generated")
    print(
        f"srmlink build: generated {len(result.files)} modules from {root} "
        f"in {result.seconds:.1f} s",
        file=sys.stderr,
    )
