"""getsummary and getaggregate for the local server: group records and measure fields.

Pure functions over records and field getters (from :func:`srmlink.query.field_getter`), so
the REST handler only parses parameters and builds the result records.

Group terms are ``field``, ``field:top:N`` (the N most frequent values, the rest dropped) or
``field:range:N`` (N equal-width numeric buckets, keyed ``lo..hi``); at most four, as the
result records have ``key1`` .. ``key4``. Measures are ``field`` or ``field:cnt|min|max|sum|avg``;
every numeric result record carries all five statistics whatever the suffix.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from attrs import frozen

from ..errors import QueryError
from ..message import Message

__all__ = ["GroupTerm", "Stats", "bucket_keys", "parse_group", "parse_measures", "stats"]

Getter = Callable[[Message], Any]
_MEASURES = frozenset({"cnt", "min", "max", "sum", "avg"})
MAX_GROUPS = 4


@frozen
class GroupTerm:
    """One ``group`` term: a field path and how its values are bucketed."""

    path: str
    mode: str = "value"  # value, top or range
    count: int = 0


@frozen
class Stats:
    """Count, sum, mean, minimum and maximum of the numeric values of one field."""

    cnt: int
    sum: float | None
    avg: float | None
    min: float | None
    max: float | None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", "|").split("|") if part.strip()]


def parse_group(text: str) -> tuple[GroupTerm, ...]:
    """``okey.tk|bidprice:range:3`` -> terms; QueryError on bad syntax."""
    terms = []
    for part in _split(text):
        path, _, rest = part.partition(":")
        if not rest:
            terms.append(GroupTerm(path))
            continue
        mode, _, number = rest.partition(":")
        if mode.lower() not in ("top", "range") or not number.isdigit() or int(number) < 1:
            raise QueryError(f"group term {part!r}: expected field, field:top:N or field:range:N")
        terms.append(GroupTerm(path, mode.lower(), int(number)))
    if not terms or len(terms) > MAX_GROUPS:
        raise QueryError(f"group needs 1 to {MAX_GROUPS} terms, got {len(terms)}")
    return tuple(terms)


def parse_measures(text: str) -> tuple[str, ...]:
    """``bidsize:sum|askprice`` -> field paths; QueryError on an unknown statistic."""
    paths = []
    for part in _split(text):
        path, _, kind = part.partition(":")
        if kind and kind.lower() not in _MEASURES:
            raise QueryError(f"measure {part!r}: the statistic must be one of {sorted(_MEASURES)}")
        paths.append(path)
    return tuple(paths)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _ranges(values: Sequence[float], count: int) -> Callable[[Any], str]:
    finite = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return _text
    low, high = min(finite), max(finite)
    width = (high - low) / count or 1.0

    def bucket(value: Any) -> str:
        if not isinstance(value, int | float) or not math.isfinite(value):
            return ""
        index = min(int((value - low) / width), count - 1)
        start = low + index * width
        return f"{_text(round(start, 10))}..{_text(round(start + width, 10))}"

    return bucket


def bucket_keys(
    records: Sequence[Message], terms: Sequence[GroupTerm], getters: Sequence[Getter]
) -> dict[tuple[str, ...], list[Message]]:
    """Records grouped by their bucket keys, in first-seen order (top-N applied)."""
    keyers: list[Callable[[Any], str]] = []
    for term, get in zip(terms, getters, strict=True):
        keyers.append(
            _ranges([get(r) for r in records], term.count) if term.mode == "range" else _text
        )
    groups: dict[tuple[str, ...], list[Message]] = {}
    for record in records:
        key = tuple(keyer(get(record)) for keyer, get in zip(keyers, getters, strict=True))
        groups.setdefault(key, []).append(record)
    for index, term in enumerate(terms):
        if term.mode == "top":
            sizes: Counter[str] = Counter()
            for key, members in groups.items():
                sizes[key[index]] += len(members)
            kept = {value for value, _ in sizes.most_common(term.count)}
            groups = {k: v for k, v in groups.items() if k[index] in kept}
    return groups


def stats(values: Iterable[Any]) -> Stats:
    """Statistics of the numeric, finite values (others are not counted)."""
    numbers = [
        float(v)
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    if not numbers:
        return Stats(0, None, None, None, None)
    total = math.fsum(numbers)
    return Stats(len(numbers), total, total / len(numbers), min(numbers), max(numbers))
