"""The HTTP server around the application: aiohttp's own protocol errors answered like ours.

aiohttp refuses some requests before any middleware runs (a header over 8,190 bytes, a
garbled request line): it answers plain text without ``X-Request-Id`` and logs a
traceback. A gateway then sees an error body unlike every other one, and the log gets a
traceback for a client's mistake. ``ReceiverRunner`` serves the app with a request
handler whose ``handle_error`` gives the documented JSON body and one log line instead.
aiohttp has no public hook for this (``on_response_prepare`` does not run for these
requests), so the runner builds its server the way ``AppRunner`` does, with that handler.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod
from aiohttp.web_protocol import RequestHandler

from .context import CTX, Context

_LOGGER = logging.getLogger(__name__)


class _JsonErrorHandler(RequestHandler):
    """aiohttp's connection handler, with errors answered as ``{"error", "detail", "request_id"}``."""

    def __init__(self, manager: web.Server, ctx: Context, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._ctx = ctx

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0 or status >= 500:
            # A response already started (only closing is left), or a bug in the receiver:
            # aiohttp's handling, traceback included, is the right one for those.
            return super().handle_error(request, status, exc, message)
        request_id = self._ctx.next_request_id()
        # The exception's message can quote the offending bytes (a header value): log its kind only.
        detail = f"malformed HTTP request ({type(exc).__name__ if exc else 'unknown'})"
        # Not HTTP at all (TLS to a plain port, a scanner): debug, as aiohttp does, not a line per probe.
        level = logging.DEBUG if isinstance(exc, BadHttpMethod) else logging.INFO
        _LOGGER.log(
            level, "HTTP request from %s rejected with %s: %s [request %s]", request.remote, status, detail, request_id
        )
        error = "payload_too_large" if status == 413 else "bad_request"
        response = web.json_response(
            {"error": error, "detail": detail, "request_id": request_id},
            status=status,
            headers={"X-Request-Id": request_id},
        )
        response.force_close()
        return response


class _Server(web.Server):
    def __init__(self, *args: Any, ctx: Context, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ctx = ctx

    def __call__(self) -> RequestHandler:
        # As ``web.Server.__call__``, with the receiver's handler class.
        return _JsonErrorHandler(self, self._ctx, loop=self._loop, **self._kwargs)


class ReceiverRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer protocol errors in the receiver's format."""

    async def _make_server(self) -> web.Server:
        # AppRunner's own server (app started and frozen, its handler options resolved),
        # rebuilt as a ``_Server`` with the same handler, request factory and options.
        server = await super()._make_server()
        return _Server(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=asyncio.get_running_loop(),
            ctx=self._app[CTX],
            **server._kwargs,  # private, see the module docstring
        )
