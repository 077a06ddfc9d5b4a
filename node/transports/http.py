"""The HTTP REST API listener (HTTP or HTTPS) on the node's event loop.

aiohttp serves the application of ``whippet.node.http``; with ``http_tls_enabled``
it is wrapped in TLS from the configured PEM certificate and key.

Every connection is under the node's limits (``transports.limits``): admitted at
accept, and timed on every read. A request is "still arriving" from its first
byte until its head and whole body are in, and a new connection is so from the
accept, so a client dribbling a request head or body (slowloris) is cut off by
the slow-client bound; a kept-alive connection between requests is only idle.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from whippet.node.http import build_app

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.transports.limits import Guard, Limits


class _GuardedHandler(RequestHandler):
    """aiohttp's connection protocol, timed by a :class:`~whippet.node.transports.limits.Guard`."""

    guard: Guard | None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        limits: Limits = self._manager._whippet_limits  # type: ignore[union-attr]
        self.guard = limits.open("http", transport.abort, awaiting=True)  # type: ignore[attr-defined]
        if self.guard is None:
            transport.abort()  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.guard is not None:
            self.guard.touch(len(data), not self._request_in())

    def _request_in(self) -> bool:
        """The newest request (parsed, or being handled) has its head and whole body."""
        if self._messages:
            return bool(self._messages[-1][1].is_eof())
        request = self._current_request
        return request is not None and request.content.is_eof()

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        if self.guard is not None:
            self.guard.release()


class _GuardedServer(web.Server):
    """aiohttp's connection factory, making :class:`_GuardedHandler` connections."""

    _whippet_limits: Limits

    def __call__(self) -> RequestHandler:
        return _GuardedHandler(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    def __init__(self, app: web.Application, limits: Limits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._whippet_limits = limits

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The app builds a plain web.Server; only its factory method differs here.
        server.__class__ = _GuardedServer
        server._whippet_limits = self._whippet_limits  # type: ignore[attr-defined]
        return server

__all__ = ["start"]


def _tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


async def start(node: Node, host: str, port: int) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Serve the HTTP API on ``host:port`` (0 picks a free port); returns the bound port and
    a coroutine function that stops the listener."""
    cfg = node.config
    context = None
    if cfg.http_tls_enabled:
        if not (cfg.http_tls_cert_file and cfg.http_tls_key_file):
            raise SystemExit("http_tls_enabled needs http_tls_cert_file and http_tls_key_file")
        context = _tls_context(cfg.http_tls_cert_file, cfg.http_tls_key_file)
    runner = _Runner(build_app(node), node.limits, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context, reuse_address=True)
    await site.start()
    bound = runner.addresses[0][1]
    return int(bound), runner.cleanup
