"""Compile per-class conversion functions from a class's ``SPEC``.

Generic code that walks the field table for every message is several times slower than
straight-line code, so (like attrs and cattrs) we build the straight-line source once per class
on first use and ``exec`` it. Only names from the schema's field table go into the source, and
only as string literals or attribute names that the generator already validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["KEY_CACHES", "compile_function", "is_frozen"]

# Every memo of decoded keys (see jsonc / protoc), so they can be emptied together.
KEY_CACHES: list[dict[tuple[object, ...], object]] = []


def is_frozen(cls: type) -> bool:
    """Whether instances refuse plain attribute assignment (frozen attrs classes)."""
    return getattr(cls, "__setattr__") is not object.__setattr__  # noqa: B009 - silences mypy


def compile_function(name: str, lines: list[str], namespace: dict[str, Any]) -> Callable[..., Any]:
    """Define function ``name`` from ``lines`` (its full source) in ``namespace``; return it."""
    source = "\n".join(lines)
    code = compile(source, f"<srmlink {name}>", "exec")
    exec(code, namespace)
    func: Callable[..., Any] = namespace[name]
    return func
