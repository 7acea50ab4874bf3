"""Import pyarrow (and polars / pandas) on demand, naming the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import SRMLinkError

__all__ = ["MissingExtraError", "require"]

_EXTRAS = {"pyarrow": "arrow", "polars": "polars", "pandas": "pandas"}


class MissingExtraError(SRMLinkError, ImportError):
    """An optional dependency of :mod:`srmlink.frames` is not installed."""


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRAS.get(module.partition(".")[0], "arrow")
        raise MissingExtraError(
            f"{module} is not installed: pip install 'srmlink[{extra}]'"
        ) from exc
