"""aiohttp's runner, minus one leak: the text of a request it cannot parse.

When a request line or header is malformed or too long (a URL over 8 KB), aiohttp answers
400 with the offending line in the body, and that line carries ``apikey=...``. The handler
here answers with a fixed text instead (the server's log still gets the error, through the
:class:`~srmlink.server.auth.SecretFilter` that scrubs it). aiohttp builds its protocol
objects itself, so the runner swaps their classes for subclasses that only override
:meth:`handle_error`.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

__all__ = ["BAD_REQUEST_TEXT", "SafeAppRunner"]

BAD_REQUEST_TEXT = (
    "400 Bad Request: the request line or a header is malformed or too long "
    "(the request is not echoed: it may carry credentials)"
)


class _Handler(RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status == 400:
            message = BAD_REQUEST_TEXT
        response: web.StreamResponse = super().handle_error(request, status, exc, message)
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        handler.__class__ = _Handler
        return handler


class SafeAppRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose 400 replies never echo the request."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server
        return server
