"""The binary protocol over WebSocket (ws:// and, with ``ws_tls_enabled``, wss://).

Iggy 0.8 (protocol reference §8.2) carries the same request/response frames as TCP
inside WebSocket binary messages: the client sends each request frame as one
binary message, the server reads binary messages as one byte stream (so a frame
split over messages or two frames in one message are both fine) and answers each
request with one binary message. Pings are answered (the ``websockets`` library
does it), text messages are ignored, any path is accepted, no subprotocol.

Requests of one connection run one after another, like TCP; the next message is
not read while a request runs, so the library's bounded queue is the
backpressure. Large replies (polls) go out as one message split into 1 MiB
fragments: no joining of the poll bytes in Python, and no frame larger than the
16 MiB a tungstenite client (the official SDK) accepts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from whippet.node.session import TRANSPORT_WS
from whippet.node.transports import tls
from whippet.node.transports.sniff import Unreadable, answer_frame

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.transports.limits import Guard

__all__ = ["start"]

log = logging.getLogger(__name__)
# The library logs every connection open/close at INFO; the TCP listener logs none, so keep it quiet.
_library_log = log.getChild("websockets")
_library_log.setLevel(logging.WARNING)

_FRAGMENT = 1 << 20


class _GuardedConnection(ServerConnection):
    """A WebSocket connection under the node's limits (``transports.limits``): admitted at
    accept, timed on every read (a half-received handshake, frame or fragmented message
    is a request still arriving)."""

    node: Node  # set on the subclass made per listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.guard: Guard | None = self.node.limits.open("ws", transport.abort, awaiting=True)  # type: ignore[attr-defined]
        self.app_receiving = False  # a binary frame split over messages is half-received
        self._completed = False
        if self.guard is None:
            transport.abort()  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self._completed = False
        super().data_received(data)
        if self.guard is not None:
            self.guard.touch(len(data), self.receiving())

    def process_event(self, event: Any) -> None:
        self._completed = True  # the handshake request or a whole frame came in
        super().process_event(event)

    def answering(self, busy: bool) -> None:
        """The node is (not) answering a request: that time is not the client's."""
        if self.guard is not None:
            self.guard.hold(busy)

    def receiving(self) -> bool:
        """Something is half-received: bytes the parser holds, a frame whose header it took
        (the last read completed nothing), a fragmented message, or a split binary frame."""
        protocol = self.protocol
        if protocol.reader.buffer or protocol.current_size is not None or self.app_receiving:
            return True
        return not self._completed

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.guard is not None:
            self.guard.release()


async def start(node: Node, host: str, port: int) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Listen on ``host:port`` (0 = any free port); return the bound port and an async closer."""
    connection_class = type("WhippetWsConnection", (_GuardedConnection,), {"node": node})
    server = await serve(
        lambda ws: _serve_connection(node, ws),
        host,
        port,
        ssl=tls.context_for(node, "ws"),
        create_connection=connection_class,
        # The handshake is a request like any other: the slow-client bound times it (and counts it).
        open_timeout=None if node.limits.request_timeout else 10,
        compression=None,  # the 0.8 SDK does not negotiate permessage-deflate
        max_size=node.config.ws_max_frame_size + 8,
        ping_interval=None,  # Iggy sends no pings; an idle SDK flushes pongs only when it talks
        close_timeout=1,  # shutdown must not wait on a client that never answers the close frame
        server_header=None,
        logger=_library_log,
    )
    bound = server.sockets[0].getsockname()[1]

    async def close() -> None:
        server.close()
        await server.wait_closed()

    return int(bound), close


async def _serve_connection(node: Node, ws: ServerConnection) -> None:
    peer = ws.remote_address
    address = f"{peer[0]}:{peer[1]}" if peer else "unknown:0"
    session = node.clients.open(address, TRANSPORT_WS)
    node.metrics.connections(+1)
    reader = node.limits.reader("ws")  # 0.8 or 0.9, decided by the first bytes
    guarded: _GuardedConnection = ws  # type: ignore[assignment]  # made by create_connection
    try:
        async for message in ws:
            if isinstance(message, str):
                continue
            reader.feed(message)
            while (frame := reader.next_frame()) is not None:
                guarded.answering(True)
                buffers, close = await answer_frame(node, session, frame)
                if buffers:
                    await ws.send(_message(buffers))
                guarded.answering(False)
                if close or isinstance(frame, Unreadable):  # the byte stream cannot be trusted
                    return
            guarded.app_receiving = reader.receiving()
    except ConnectionClosed as exc:
        if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
            node.limits.count("frame_size", "ws")
    finally:
        node.session_closed(session)
        node.metrics.connections(-1)
        await ws.close()


def _message(buffers: list[Any]) -> bytes | Iterator[memoryview]:
    """One WebSocket message: joined when small, else 1 MiB fragments of the same buffers."""
    total = sum(len(b) for b in buffers)
    if total <= _FRAGMENT:
        return buffers[0] if len(buffers) == 1 else b"".join(buffers)
    return _fragments(buffers)


def _fragments(buffers: list[Any]) -> Iterator[memoryview]:
    for buf in buffers:
        view = memoryview(buf).cast("B")
        for at in range(0, len(view), _FRAGMENT):
            yield view[at : at + _FRAGMENT]
