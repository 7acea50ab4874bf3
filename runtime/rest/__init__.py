"""MLink REST: request builders (no I/O), typed results and the sync / async httpx clients."""

from __future__ import annotations

from .client import ENDPOINTS, AsyncMLinkClient, MLinkClient
from .commands import MAX_LIMIT, RestRequest
from .results import CountResult, KeySetResult, RestResult

__all__ = [
    "ENDPOINTS",
    "MAX_LIMIT",
    "AsyncMLinkClient",
    "CountResult",
    "KeySetResult",
    "MLinkClient",
    "RestRequest",
    "RestResult",
]
