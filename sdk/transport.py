"""The seam between the client and a byte transport, and the one place that opens one.

Anything that carries binary request frames and answers in order can be a
transport: :class:`whippet.sdk.connection.Connection` (TCP, TCP+TLS),
:class:`whippet.sdk.ws.WsConnection` (WebSocket, WSS) and the QUIC transport in
``whippet.sdk.quic``. The client only uses the four members of
:class:`BinaryTransport`.

QUIC: ``whippet.sdk.quic.QuicConnection`` (one stream per request, so requests
run concurrently) is wrapped in :class:`_QuicLink`, which adds the ``closed`` flag
the client checks before reusing a link.
"""

from __future__ import annotations

import importlib
import ssl
from typing import Any, Protocol, runtime_checkable

from whippet.sdk.connection import Connection
from whippet.sdk.errors import ConnectionClosed
from whippet.sdk.options import NodeAddress, TlsOptions, Transport
from whippet.sdk.ws import WsConnection
from whippet.wire.errors import FeatureUnavailable
from whippet.wire.framing import encode_request

__all__ = ["BinaryTransport", "open_transport", "tls_context"]


@runtime_checkable
class BinaryTransport(Protocol):
    address: str

    @property
    def closed(self) -> bool: ...

    async def request(self, code: int, payload: bytes | bytearray | memoryview = b"") -> bytes: ...

    async def request_raw(self, frame: bytes | bytearray | memoryview) -> bytes: ...

    async def close(self) -> None: ...


def tls_context(tls: TlsOptions) -> ssl.SSLContext:
    """A client TLS context: the CA file if given, else the system store; or no checks at all."""
    context = ssl.create_default_context(cafile=tls.ca_file or None)
    if not tls.validate_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def open_transport(
    address: NodeAddress, transport: Transport, tls: TlsOptions, timeout: float
) -> BinaryTransport:
    """Connect to one node; raises OSError/TimeoutError (retried by the client) or IggyError."""
    if transport in ("tcp", "ws"):
        context = tls_context(tls) if tls.enabled else None
        stream_open = Connection.open if transport == "tcp" else WsConnection.open
        return await stream_open(
            address.host, address.port, ssl=context, server_hostname=tls.domain or address.host, timeout=timeout
        )
    if transport == "quic":
        try:
            quic = importlib.import_module("whippet.sdk.quic")
        except ImportError as exc:
            raise FeatureUnavailable(f"the QUIC transport is not available: {exc}") from exc
        conn = await quic.QuicConnection.open(
            address.host,
            address.port,
            server_name=tls.domain or "localhost",
            verify=tls.validate_certificate and bool(tls.ca_file),
            cafile=tls.ca_file or None,
            timeout=timeout,
        )
        return _QuicLink(conn)
    raise FeatureUnavailable(f"unknown transport {transport!r}")


class _QuicLink:
    """Adds ``closed`` to the QUIC connection: set once a request saw the connection die."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.address: str = conn.address
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def request(self, code: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
        return await self.request_raw(encode_request(code, bytes(payload)))

    async def request_raw(self, frame: bytes | bytearray | memoryview) -> bytes:
        try:
            body: bytes = await self._conn.request_raw(frame)
        except ConnectionClosed:
            self._closed = True
            raise
        return body

    async def close(self) -> None:
        self._closed = True
        await self._conn.close()
