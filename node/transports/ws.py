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

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from whippet.node.session import TRANSPORT_WS
from whippet.node.transports import tls
from whippet.node.transports.sniff import FrameReader, Unreadable, answer_frame

if TYPE_CHECKING:
    from whippet.node.server import Node

__all__ = ["MAX_MESSAGE_SIZE", "start"]

log = logging.getLogger(__name__)
# The library logs every connection open/close at INFO; the TCP listener logs none, so keep it quiet.
_library_log = log.getChild("websockets")
_library_log.setLevel(logging.WARNING)

#: tungstenite's default ``max_message_size``, which a 0.8 server keeps unless configured.
MAX_MESSAGE_SIZE = 64 << 20
_FRAGMENT = 1 << 20


async def start(node: Node, host: str, port: int) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Listen on ``host:port`` (0 = any free port); return the bound port and an async closer."""
    server = await serve(
        lambda ws: _serve_connection(node, ws),
        host,
        port,
        ssl=tls.context_for(node, "ws"),
        compression=None,  # the 0.8 SDK does not negotiate permessage-deflate
        max_size=MAX_MESSAGE_SIZE,
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
    reader = FrameReader()  # 0.8 or 0.9, decided by the first bytes
    try:
        async for message in ws:
            if isinstance(message, str):
                continue
            reader.feed(message)
            while (frame := reader.next_frame()) is not None:
                buffers, close = await answer_frame(node, session, frame)
                if buffers:
                    await ws.send(_message(buffers))
                if close or isinstance(frame, Unreadable):  # the byte stream cannot be trusted
                    return
    except ConnectionClosed:
        pass
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
