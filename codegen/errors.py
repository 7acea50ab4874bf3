"""Errors the generator raises (only for input it cannot read at all).

Disagreements between sources are not errors: they are collected as report issues.
"""

from __future__ import annotations

__all__ = ["SchemaError", "SchemaNotFoundError"]


class SchemaError(Exception):
    """A schema source is unreadable (bad syntax, wrong columns, invalid JSON)."""


class SchemaNotFoundError(SchemaError):
    """No schema directory was found; the message says how to get one."""
