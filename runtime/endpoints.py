"""Where MLink lives: the default hosts of the live and delayed services.

Hosts move between SpiderRock's deployments (2023: ``mlink.spiderrockconnect.com``), so every
client also takes ``host=``; these are only the defaults, shared by REST and WebSocket.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ENDPOINTS", "Endpoint"]

Endpoint = Literal["live", "delayed"]
ENDPOINTS: dict[str, str] = {
    "live": "mlink-live.nms.saturn.spiderrockconnect.com",
    "delayed": "mlink-delay.nms.saturn.spiderrockconnect.com",
}
