"""A binary-protocol client over QUIC (aioquic): the same ``request`` API as ``sdk.connection``.

Each request opens a new bidirectional stream, writes its frame, finishes the
stream and reads the response to the end of the stream (protocol reference §8.1).
Requests on one connection may run concurrently, since each has its own stream.
The connection is pinged every few seconds so it outlives the server's 10 s idle
timeout, as the 0.8 SDK's keep-alive does.

Certificates are not checked unless ``verify=True`` (then against ``cafile``):
that is the 0.8 SDK's default for QUIC, where servers usually present a
self-signed certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from typing import Self, cast

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, QuicEvent

from whippet.sdk.errors import ConnectionClosed, from_status
from whippet.tasks import stop_task
from whippet.wire.framing import encode_request

__all__ = ["QuicConnection"]

_RESPONSE_HEAD = struct.Struct("<II")
_KEEPALIVE_S = 5.0


class _ClientProtocol(QuicConnectionProtocol):
    """Remembers that the connection ended, so later requests fail at once instead of waiting."""

    terminated = False

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            self.terminated = True
        super().quic_event_received(event)  # ends every open stream reader


class QuicConnection:
    def __init__(self, stack: contextlib.AsyncExitStack, protocol: _ClientProtocol, address: str) -> None:
        self._stack = stack
        self._protocol = protocol
        self.address = address
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        server_name: str = "localhost",
        verify: bool = False,
        cafile: str | None = None,
        timeout: float = 10.0,
    ) -> QuicConnection:
        """Connect and finish the TLS 1.3 handshake; raises ConnectionClosed on failure."""
        configuration = QuicConfiguration(is_client=True, server_name=server_name, max_stream_data=4 << 20,
                                          max_data=16 << 20)
        configuration.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
        if cafile is not None:
            configuration.load_verify_locations(cafile)
        stack = contextlib.AsyncExitStack()
        try:
            async with asyncio.timeout(timeout):
                protocol = await stack.enter_async_context(
                    connect(host, port, configuration=configuration, create_protocol=_ClientProtocol)
                )
        except (TimeoutError, ConnectionError, OSError) as exc:
            await stack.aclose()
            raise ConnectionClosed(f"QUIC connection to {host}:{port} failed: {exc!r}") from exc
        except BaseException:  # cancelled: close the half-open connection, then go on cancelling
            await stack.aclose()
            raise
        # connect() is typed as yielding the base protocol; create_protocol makes it ours.
        return cls(stack, cast(_ClientProtocol, protocol), f"{host}:{port}")

    async def request(self, code: int, payload: bytes = b"") -> bytes:
        """Send one command on a new stream; return the OK payload or raise the server's IggyError."""
        return await self.request_raw(encode_request(code, payload))

    @property
    def closed(self) -> bool:
        return self._protocol.terminated

    async def request_raw(self, frame: bytes | memoryview) -> bytes:
        if self._protocol.terminated:
            raise ConnectionClosed(f"QUIC connection to {self.address} is closed")
        try:
            reader, writer = await self._protocol.create_stream()
            writer.write(frame)
            writer.write_eof()
            data = await reader.read()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            raise ConnectionClosed(f"QUIC connection to {self.address} closed: {exc!r}") from exc
        if len(data) < _RESPONSE_HEAD.size:
            raise ConnectionClosed(f"QUIC stream from {self.address} ended after {len(data)} bytes")
        status, length = _RESPONSE_HEAD.unpack_from(data)
        if status != 0:
            raise from_status(status)
        if len(data) != _RESPONSE_HEAD.size + length:
            raise ConnectionClosed(f"QUIC response from {self.address}: length {length}, got {len(data) - 8}")
        return data[_RESPONSE_HEAD.size :]

    async def _keep_alive(self) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                await asyncio.sleep(_KEEPALIVE_S)
                await self._protocol.ping()

    async def close(self) -> None:
        await stop_task(self._keepalive)
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
