"""One binary-protocol connection: send a request frame, read its response frame.

The framing is ``wire.framing``'s; this module only moves bytes. Requests on one
connection are serialised (Iggy answers in order and the 0.8 servers expect one
request in flight), so a lock guards each round trip.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
import struct

from whippet.wire.errors import ConnectionClosed, IggyError
from whippet.wire.framing import encode_request

__all__ = ["Connection"]

_RESPONSE_HEAD = struct.Struct("<II")


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        self.address = address

    @classmethod
    async def open(
        cls, host: str, port: int, *, ssl: _ssl.SSLContext | None = None, timeout: float = 10.0
    ) -> Connection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl, limit=1 << 22), timeout
        )
        return cls(reader, writer, f"{host}:{port}")

    async def request(self, code: int, payload: bytes = b"") -> bytes:
        """Send one command; return the OK payload or raise the server's IggyError."""
        return await self.request_raw(encode_request(code, payload))

    async def request_raw(self, frame: bytes | memoryview) -> bytes:
        """Send a pre-encoded request frame (the bench's fast path)."""
        async with self._lock:
            try:
                self._writer.write(frame)
                head = await self._reader.readexactly(8)
                status, length = _RESPONSE_HEAD.unpack(head)
                body = await self._reader.readexactly(length) if length else b""
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                raise ConnectionClosed(f"connection to {self.address} closed: {exc}") from exc
        if status != 0:
            raise IggyError.from_code(status)
        return body

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass
