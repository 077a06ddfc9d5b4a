"""The binary protocol over a byte stream (TCP, TCP+TLS): asyncio Protocol adapter.

Frames are decoded by ``wire.framing.RequestReader`` as bytes arrive and are run
strictly one after another per connection (Iggy answers in request order). A
frame that cannot be read (bad length, oversize) gets its error status and the
connection is closed, because the stream position can no longer be trusted.
Reading pauses while too many frames wait, and handlers wait while the socket's
write buffer is full, so a fast client cannot grow the server's memory.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import TYPE_CHECKING, Any

from whippet.node.dispatch import dispatch, error_frame, reply_buffers
from whippet.node.session import TRANSPORT_TCP
from whippet.node.transports.sniff import Frame, Unreadable, answer_frame
from whippet.wire.errors import IggyError

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session
    from whippet.node.transports.limits import Guard

__all__ = ["BinaryProtocol", "answer", "serve_binary"]

log = logging.getLogger(__name__)

_MAX_QUEUED = 16


async def answer(node: Node, session: Session, code: int, payload: memoryview) -> tuple[list[Any], bool]:
    """Run one request frame; return its response buffers and whether the connection must close.

    Shared by every transport that carries binary frames (TCP, WebSocket, QUIC), so
    the failure-to-status mapping and the closing rules live in one place. A
    negative ``code`` stands for a frame that could not be read (``-status``).
    """
    if code < 0:
        return [error_frame(IggyError.from_code(-code))], True
    try:
        return reply_buffers(await dispatch(node, session, code, payload)), False
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # every failure becomes a status frame, here only
        return [error_frame(exc)], isinstance(exc, IggyError) and exc.closes_connection


class BinaryProtocol(asyncio.Protocol):
    def __init__(self, node: Node, transport_kind: int = TRANSPORT_TCP) -> None:
        self._node = node
        self._kind = transport_kind
        self._reader = node.limits.reader("tcp")  # 0.8 or 0.9, decided by the first bytes
        self._guard: Guard | None = None
        self._queue: collections.deque[Frame] = collections.deque()
        self._wakeup = asyncio.Event()
        self._transport: asyncio.Transport | None = None
        self._session: Session | None = None
        self._worker: asyncio.Task[None] | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._paused = False
        self._closing = False

    # --- asyncio.Protocol ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass
        self._guard = self._node.limits.open("tcp", transport.abort)  # type: ignore[attr-defined]
        if self._guard is None:  # over limits_max_connections
            self._closing = True
            transport.abort()  # type: ignore[attr-defined]
            return
        peer = transport.get_extra_info("peername")
        address = f"{peer[0]}:{peer[1]}" if peer else "unknown:0"
        self._session = self._node.clients.open(address, self._kind)
        self._worker = asyncio.get_running_loop().create_task(self._run())
        self._node.metrics.connections(+1)

    def data_received(self, data: bytes) -> None:
        if self._closing or self._guard is None:
            return
        self._reader.feed(data)
        while (frame := self._reader.next_frame()) is not None:
            self._queue.append(frame)
            if isinstance(frame, Unreadable):
                # Unreadable framing: answer in order after what is queued, then close.
                self._closing = True
        self._guard.touch(len(data), self._reader.receiving())
        if self._queue:
            self._wakeup.set()
            if len(self._queue) >= _MAX_QUEUED and not self._paused and self._transport:
                self._paused = True
                self._guard.hold(True)
                self._transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._guard is None:  # refused at accept: no session was opened
            return
        self._guard.release()
        self._closing = True
        self._wakeup.set()
        self._can_write.set()
        if self._worker is not None:
            self._worker.cancel()
        if self._session is not None:
            self._node.session_closed(self._session)
        self._node.metrics.connections(-1)

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # --- request loop ---
    async def _run(self) -> None:
        assert self._transport is not None and self._session is not None
        transport, session = self._transport, self._session
        try:
            while True:
                if not self._queue:
                    if self._closing:
                        break
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                frame = self._queue.popleft()
                if self._paused and len(self._queue) < _MAX_QUEUED // 2:
                    self._paused = False
                    if self._guard is not None:
                        self._guard.hold(False)
                    transport.resume_reading()
                buffers, close = await answer_frame(self._node, session, frame)
                if transport.is_closing():
                    return
                if buffers:
                    transport.writelines(buffers)
                if close:
                    break
                if not self._can_write.is_set():
                    await self._can_write.wait()
        except asyncio.CancelledError:
            return
        transport.close()


async def serve_binary(
    node: Node, host: str, port: int, *, ssl: Any = None, kind: int = TRANSPORT_TCP, start_serving: bool = True
) -> asyncio.Server:
    """Listen for binary-protocol connections on ``host:port`` (port 0 picks a free one)."""
    # Every node starts this listener before serving: the metrics start reading the node here.
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: BinaryProtocol(node, kind), host, port, ssl=ssl, reuse_address=True, start_serving=start_serving
    )
