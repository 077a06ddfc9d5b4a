"""The HTTP REST API listener (HTTP or HTTPS) on the node's event loop.

aiohttp serves the application of ``whippet.node.http``; with ``http_tls_enabled``
it is wrapped in TLS from the configured PEM certificate and key.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from whippet.node.http import build_app

if TYPE_CHECKING:
    from whippet.node.server import Node

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
    runner = web.AppRunner(build_app(node), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context, reuse_address=True)
    await site.start()
    bound = runner.addresses[0][1]
    return int(bound), runner.cleanup
