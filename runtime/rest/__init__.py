"""MLink REST: request builders (no I/O) and the sync / async httpx clients."""

from __future__ import annotations

from .client import ENDPOINTS, AsyncMLinkClient, MLinkClient, RestResult
from .commands import MAX_LIMIT, RestRequest

__all__ = ["ENDPOINTS", "MAX_LIMIT", "AsyncMLinkClient", "MLinkClient", "RestRequest", "RestResult"]
