"""A local MLink-compatible server (REST, all three encodings) for offline use and tests."""

from __future__ import annotations

from .app import LocalServer, create_app
from .rest import RestHandler
from .store import LiveStore

__all__ = ["LiveStore", "LocalServer", "RestHandler", "create_app"]
