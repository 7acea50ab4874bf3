"""Typed bindings for every MLink message type, generated from the schema.

The modules beside this file are a build product of ``srmlink generate`` (never edited by
hand, never committed). Classes load lazily: ``from srmlink.messages import OptionNbboQuote``
imports only the ``opt_mkt_data`` module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOW = (
    "srmlink.messages has not been generated yet. Run `srmlink generate` (or `nox -s generate` "
    "in a checkout) with SpiderRock's schema in proto_files/, $SRMLINK_SCHEMA or --schema DIR."
)

try:
    from ._index import CLASSES, RUNTIME_API, registry as registry
except ModuleNotFoundError as exc:
    if exc.name != f"{__name__}._index":
        raise
    raise ImportError(_HOW, name=__name__) from None

if TYPE_CHECKING:
    from ._index import *  # noqa: F403

_SUPPORTED_RUNTIME_API = 1
if RUNTIME_API != _SUPPORTED_RUNTIME_API:
    raise ImportError(
        f"srmlink.messages was generated for runtime API {RUNTIME_API}, but this srmlink runtime "
        f"supports {_SUPPORTED_RUNTIME_API}: regenerate with `srmlink generate`.",
        name=__name__,
    )

# CLASSES is sorted by name; "registry" sorts after every class name.
__all__ = [*CLASSES, "registry"]  # noqa: PLE0604 - built from the generated table


def __getattr__(name: str) -> Any:
    module = CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
