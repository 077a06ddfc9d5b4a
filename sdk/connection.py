"""One binary-protocol connection over TCP (or TCP+TLS): pipelined request/response.

The framing is ``wire.framing``'s; this module only moves bytes. Iggy answers the
requests of one connection strictly in order, so requests are *pipelined*: each
call writes its frame at once and queues a future; one reader task resolves the
futures in FIFO order as response frames arrive. Many requests can therefore be
in flight on one socket (the producer and the bench rely on it to overlap the
round trip with the node's work), and a caller that gives up (cancellation) only
drops its own answer: the reader still consumes it, so the stream stays aligned.

When the socket dies every waiting call fails with :class:`ConnectionClosed`
and later calls fail at once; reconnecting is the client's job (``sdk.client``).

That bookkeeping (the queue of futures, answering in order, failing everyone)
is :class:`Pipelined`, shared with the WebSocket transport (``sdk.ws``); a
subclass only writes frames and feeds the answers it reads to ``_deliver``.
"""

from __future__ import annotations

import asyncio
import collections
import ssl as _ssl
import struct
from collections.abc import Callable

from whippet.sdk.errors import ConnectionClosed, from_status
from whippet.tasks import stop_task
from whippet.wire.errors import IggyError
from whippet.wire.framing import encode_request

__all__ = ["Connection", "Pipelined"]

_RESPONSE_HEAD = struct.Struct("<II")
# Above this many unsent bytes a writer waits for the socket to drain (back-pressure).
_HIGH_WATER = 4 << 20


class Pipelined:
    """In-order request/answer bookkeeping; subclasses implement ``_send`` and call ``_deliver``."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._pending: collections.deque[asyncio.Future[tuple[int, bytes]]] = collections.deque()
        self._error: IggyError | None = None
        #: called once, with the reason, when the connection fails or is closed
        self.on_lost: Callable[[str], None] | None = None

    @property
    def closed(self) -> bool:
        return self._error is not None

    @property
    def in_flight(self) -> int:
        """Requests written and not answered yet."""
        return len(self._pending)

    async def request(self, code: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
        """Send one command; return the OK payload or raise the server's IggyError."""
        return await self.request_raw(encode_request(code, bytes(payload)))

    async def request_raw(self, frame: bytes | bytearray | memoryview) -> bytes:
        """Send a pre-encoded request frame (the producer's and the bench's fast path)."""
        if self._error is not None:
            raise ConnectionClosed(self._error.reason)
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        await self._send(frame, future)
        status, body = await future
        if status != 0:
            raise from_status(status)
        return body

    async def _send(self, frame: bytes | bytearray | memoryview, future: asyncio.Future[tuple[int, bytes]]) -> None:
        """Queue ``future`` and write ``frame``, in the same order as every other request."""
        raise NotImplementedError

    def _deliver(self, status: int, body: bytes) -> bool:
        """Hand the next answer to the oldest request; False (and the connection failed) if none waits."""
        if not self._pending:
            self._fail(f"{self.address} sent a response nobody asked for")
            return False
        future = self._pending.popleft()
        if not future.done():  # a cancelled caller's answer is dropped here
            future.set_result((status, body))
        return True

    def _fail(self, reason: str) -> None:
        if self._error is None:
            self._error = ConnectionClosed(reason)
            if self.on_lost is not None:
                self.on_lost(reason)
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(ConnectionClosed(reason))


class Connection(Pipelined):
    """A pipelined binary connection over TCP; see the module docstring."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        super().__init__(address)
        self._reader = reader
        self._writer = writer
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        ssl: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        timeout: float = 10.0,
    ) -> Connection:
        """Connect; a timeout or refusal raises OSError/TimeoutError for the caller to retry."""
        # Awaited inline under asyncio.timeout: a cancellation then lands inside open_connection,
        # which closes what it opened (wait_for on 3.11 could hand the socket to nobody).
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ssl, server_hostname=server_hostname if ssl else None, limit=1 << 22
            )
        sock = writer.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, f"{host}:{port}")

    async def _send(self, frame: bytes | bytearray | memoryview, future: asyncio.Future[tuple[int, bytes]]) -> None:
        # write() is synchronous, so the order of futures is the order of frames on the wire.
        self._pending.append(future)
        try:
            self._writer.write(frame)
        except (ConnectionError, RuntimeError) as exc:
            self._fail(f"write to {self.address} failed: {exc}")
        transport = self._writer.transport
        if transport.get_write_buffer_size() > _HIGH_WATER:
            try:
                await self._writer.drain()
            except (ConnectionError, RuntimeError):
                pass  # the reader task reports the loss to every pending future

    async def _read_loop(self) -> None:
        reader = self._reader
        try:
            while True:
                head = await reader.readexactly(8)
                status, length = _RESPONSE_HEAD.unpack(head)
                body = await reader.readexactly(length) if length else b""
                if not self._deliver(status, body):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            self._fail(f"connection to {self.address} closed: {exc or type(exc).__name__}")
        except asyncio.CancelledError:
            self._fail(f"connection to {self.address} closed by the client")

    def _fail(self, reason: str) -> None:
        super()._fail(reason)
        self._writer.close()

    async def close(self) -> None:
        await stop_task(self._reader_task)
        self._fail(f"connection to {self.address} closed by the client")
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError, _ssl.SSLError):
            pass
