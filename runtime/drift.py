"""Schema drift at connect time: the server's message types against the generated registry.

A server answers ``cmd=getmsgtypes`` with one MsgDesc record per message type (name, mNum,
mToken, or mCat on 2023 servers, and schemaHash). When those disagree with the registry the
bindings were generated with, framed and protobuf messages are misread (mNum) or cannot be
decoded at all (unknown types). :func:`check_drift` lists the differences;
:func:`warn_on_drift` turns them into one :class:`~srmlink.errors.SchemaDriftWarning` and never
raises, so a client can call it on every connect.

schemaHash is compared where both sides have one: the server sends it (2023 servers did), and
the registry records it when the getmsgtypes the bindings were generated from carried it.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Iterable, Mapping

from attrs import frozen

from .errors import SchemaDriftWarning
from .registry import Registry

__all__ = ["DriftItem", "DriftKind", "check_drift", "warn_on_drift"]

# How many items a warning names before it only counts the rest.
_SHOWN = 5


class DriftKind(enum.Enum):
    """How the server and the registry disagree about one message type."""

    UNKNOWN_TO_REGISTRY = "unknown to the bindings"
    MISSING_ON_SERVER = "missing on the server"
    MNUM_DIFFERS = "mNum differs"
    TOKEN_DIFFERS = "token differs"
    SCHEMA_HASH_DIFFERS = "schemaHash differs"


@frozen
class DriftItem:
    """One disagreement; ``server`` and ``registry`` are what each side says (None: nothing)."""

    kind: DriftKind
    name: str
    server: str | None = None
    registry: str | None = None

    def __str__(self) -> str:
        if self.kind is DriftKind.UNKNOWN_TO_REGISTRY:
            return f"{self.name} ({self.kind.value}; server mNum {self.server})"
        if self.kind is DriftKind.MISSING_ON_SERVER:
            return f"{self.name} ({self.kind.value})"
        return f"{self.name} ({self.kind.value}: server {self.server}, bindings {self.registry})"


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _number(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def check_drift(
    server_msgtypes: Iterable[Mapping[str, object]], registry: Registry
) -> tuple[DriftItem, ...]:
    """Differences between getmsgtypes records and ``registry``, sorted by kind and name.

    Args:
        server_msgtypes: the ``message`` objects of the server's MsgDesc envelopes. Records
            without a name are skipped; names match case-insensitively, as the server's do.
        registry: the generated registry (``srmlink.messages.registry``).
    """
    entries = {e.name.lower(): e for e in registry.entries()}
    seen: set[str] = set()
    items: list[DriftItem] = []
    for record in server_msgtypes:
        name = record.get("name")
        if not isinstance(name, str) or not name:
            continue
        seen.add(name.lower())
        mnum = _number(record.get("mNum"))
        entry = entries.get(name.lower())
        if entry is None:
            items.append(DriftItem(DriftKind.UNKNOWN_TO_REGISTRY, name, server=_text(mnum)))
            continue
        if mnum != entry.number:
            items.append(DriftItem(DriftKind.MNUM_DIFFERS, name, _text(mnum), _text(entry.number)))
        # 2023 servers called the token mCat.
        token = _text(record.get("mToken", record.get("mCat")))
        if token is not None and entry.token is not None and token != entry.token:
            items.append(DriftItem(DriftKind.TOKEN_DIFFERS, name, token, entry.token))
        schema_hash = _text(record.get("schemaHash"))
        if schema_hash is not None and entry.schema_hash not in (None, schema_hash):
            items.append(
                DriftItem(DriftKind.SCHEMA_HASH_DIFFERS, name, schema_hash, entry.schema_hash)
            )
    # Types the schema gives no number (dictionary- or proto-only) are not in getmsgtypes.
    items += [
        DriftItem(DriftKind.MISSING_ON_SERVER, e.name, registry=_text(e.number))
        for key, e in entries.items()
        if key not in seen and e.number is not None
    ]
    order = list(DriftKind)
    return tuple(sorted(items, key=lambda i: (order.index(i.kind), i.name.lower())))


def warn_on_drift(
    server_msgtypes: Iterable[Mapping[str, object]], registry: Registry, *, stacklevel: int = 2
) -> tuple[DriftItem, ...]:
    """Emit one :class:`~srmlink.errors.SchemaDriftWarning` summarising the drift, if any.

    Never raises (unless the warnings filter turns the warning into an error): the check is
    advice, and a malformed getmsgtypes answer must not break a connection, so a failure of the
    check itself is reported as the warning instead.

    Returns:
        the items found (empty when the check could not run).
    """
    try:
        items = check_drift(server_msgtypes, registry)
    except Exception as exc:  # advice only: no input may turn this into a failed connect
        warnings.warn(
            SchemaDriftWarning(f"could not compare the server's message types: {exc!r}"),
            stacklevel=stacklevel,
        )
        return ()
    if items:
        warnings.warn(SchemaDriftWarning(_summary(items)), stacklevel=stacklevel)
    return items


def _summary(items: tuple[DriftItem, ...]) -> str:
    counts: dict[DriftKind, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    head = ", ".join(f"{n} {kind.value}" for kind, n in counts.items())
    shown = "; ".join(str(i) for i in items[:_SHOWN])
    more = f"; and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return (
        f"the server's schema differs from srmlink.messages ({head}): {shown}{more}. "
        "Regenerate the bindings with `srmlink generate` against the server's schema."
    )
