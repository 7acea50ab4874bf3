"""MLink stripes: the codes that split the feed into exclusive ranges, one connection each."""

from __future__ import annotations

__all__ = ["STRIPES"]

#: The stripe codes SpiderRock's clients use; together they cover the whole feed.
STRIPES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "H", "M", "S", "X")
