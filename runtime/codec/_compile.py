"""Compile per-class conversion functions from a class's ``SPEC``.

Generic code that walks the field table for every message is several times slower than
straight-line code, so (like attrs and cattrs) we build the straight-line source once per class
on first use and ``exec`` it. Only names from the schema's field table go into the source, and
only as string literals or attribute names that the generator already validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .limits import encode_failure

__all__ = ["KEY_CACHES", "compile_encoder", "compile_function", "is_frozen"]

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


def compile_encoder(
    owner: str,
    head: list[str],
    fields: list[tuple[str, list[str]]],
    tail: list[str],
    namespace: dict[str, Any],
) -> Callable[..., Any]:
    """Define ``encode(o)``: ``head``, then each field's lines in one ``try``, then ``tail``.

    Whatever a field's lines raise becomes an EncodeError naming ``owner`` and the field (see
    :func:`.limits.encode_failure`). The field is found afterwards from the traceback's line
    number, so the normal path pays nothing for naming it.
    """
    lines = ["def encode(o):", *head, "    try:"]
    where: dict[int, str] = {}
    for wire_name, body in fields:
        for line in body:
            lines.append(f"        {line}")
            where[len(lines)] = wire_name  # source lines count from 1
    lines += [
        "    except Exception as exc:",
        "        raise _failure(exc, _owner, _where.get(exc.__traceback__.tb_lineno)) from None",
        *tail,
    ]
    namespace.update(_failure=encode_failure, _owner=owner, _where=where)
    return compile_function("encode", lines, namespace)
