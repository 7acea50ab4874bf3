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

__all__ = [
    "KEY_CACHES",
    "KeyCache",
    "compile_encoder",
    "compile_function",
    "is_frozen",
    "shared_key",
]

_KEY_TYPES = frozenset({"TickerKey", "ExpiryKey", "OptionKey"})


class KeyCache:
    """A bounded memo of decoded keys, least recently used dropped first (approximately).

    Two generations: hits are looked up in ``young`` (one dict look-up), then in ``old``
    (and moved to ``young``). When ``young`` holds ``limit`` entries it becomes ``old`` and the
    previous ``old`` is dropped, so the cache holds the ``limit`` to ``2 * limit`` most recent
    keys at a dict's cost per hit, with no wholesale forgetting of a feed's working set (a
    full OPRA feed has over a million series).
    """

    __slots__ = ("limit", "old", "young")

    def __init__(self, limit: int = 1 << 19) -> None:
        self.limit = limit
        self.young: dict[object, object] = {}
        self.old: dict[object, object] = {}
        KEY_CACHES.append(self)

    def recall(self, ident: object) -> Any:
        """The value of ``ident`` from the old generation (moved to the young), or None."""
        found = self.old.pop(ident, None)
        if found is not None:
            self.put(ident, found)
        return found

    def put(self, ident: object, value: object) -> None:
        young = self.young
        if len(young) >= self.limit:
            self.old = young
            self.young = young = {}
        young[ident] = value

    def clear(self) -> None:
        self.young = {}
        self.old = {}

    def __len__(self) -> int:
        """Keys held (a key moved between generations counts once)."""
        return len(self.young) + len(self.old)


# Every memo of decoded keys (see jsonc / protoc), so they can be emptied together.
KEY_CACHES: list[KeyCache] = []


def is_frozen(cls: type) -> bool:
    """Whether instances refuse plain attribute assignment (frozen attrs classes)."""
    return getattr(cls, "__setattr__") is not object.__setattr__  # noqa: B009 - silences mypy


def shared_key(cls: type, spec: Any) -> tuple[Any, Callable[[Any], Any]] | None:
    """For a frozen class (a primary key) whose one field is just a security key: that field
    (a FieldSpec) and ``hold(key)``, which makes an instance holding ``key``; else None.

    Such instances are immutable: decoders share them, memoised with the key itself.
    """
    fields = spec.fields
    if len(fields) != 1 or fields[0].sr_type not in _KEY_TYPES or not is_frozen(cls):
        return None
    put = getattr(cls, "__dict__")[fields[0].name].__set__  # noqa: B009 - the slot's descriptor
    new = object.__new__

    def hold(key: Any) -> Any:
        obj: Any = new(cls)
        put(obj, key)
        return obj

    return fields[0], hold


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
    if where:
        lines += [
            "    except Exception as exc:",
            "        line = exc.__traceback__.tb_lineno",
            "        raise _failure(exc, _owner, _where.get(line)) from None",
        ]
    else:  # a message or group without fields: no try block (an empty one does not compile)
        lines.pop()
    lines += tail
    namespace.update(_failure=encode_failure, _owner=owner, _where=where)
    return compile_function("encode", lines, namespace)
