"""The binary protocol over WebSocket (``websockets``): the same pipelined API as ``sdk.connection``.

As Iggy 0.8 carries it (protocol reference §8.2, docs/TRANSPORTS.md): each request
frame goes out as one binary message and each response comes back as one binary
message (8-byte status/length head, then the payload). The node answers the
requests of a connection in order, so, as on TCP, requests are pipelined: a
caller queues a future and writes its frame under one lock (so futures and frames
stay in the same order), and one reader task resolves the futures as messages
arrive. A cancelled caller only drops its own answer.

``wss://`` when an SSL context is given. No compression (the node does not
negotiate it) and no client pings (the node sends none either; the client's
``heartbeat_interval`` keeps an idle session alive, as on TCP).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as _ssl
import struct

import websockets
from websockets.asyncio.client import ClientConnection, connect

from whippet.sdk.connection import Pipelined
from whippet.sdk.errors import ConnectionClosed
from whippet.tasks import stop_task

__all__ = ["WsConnection"]

_RESPONSE_HEAD = struct.Struct("<II")


class WsConnection(Pipelined):
    """A pipelined binary connection over one WebSocket; see the module docstring."""

    def __init__(self, ws: ClientConnection, address: str) -> None:
        super().__init__(address)
        self._ws = ws
        self._write_lock = asyncio.Lock()
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, host: str, port: int, *, ssl: _ssl.SSLContext | None = None,
                   server_hostname: str | None = None, timeout: float = 10.0) -> WsConnection:
        """Connect and finish the WebSocket handshake.

        A refused or timed-out connection raises OSError/TimeoutError (retried by the
        client); a failed handshake (e.g. plain ws:// to a wss:// port) ConnectionClosed.
        """
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        uri = f"{'wss' if ssl else 'ws'}://{netloc}/"
        try:
            ws = await connect(
                uri,
                ssl=ssl,
                server_hostname=server_hostname if ssl else None,
                compression=None,
                max_size=None,  # a poll answer is as large as the node makes it
                ping_interval=None,
                open_timeout=timeout,
                close_timeout=1,
                proxy=None,
                user_agent_header=None,
            )
        except websockets.exceptions.InvalidHandshake as exc:
            raise ConnectionClosed(f"WebSocket handshake with {netloc} failed: {exc}") from exc
        return cls(ws, netloc)

    async def _send(self, frame: bytes | bytearray | memoryview, future: asyncio.Future[tuple[int, bytes]]) -> None:
        # send() may wait for the socket to drain: the lock keeps futures and messages in one order.
        async with self._write_lock:
            self._pending.append(future)
            try:
                await self._ws.send(frame)
            except (websockets.exceptions.ConnectionClosed, ConnectionError) as exc:
                self._fail(f"write to {self.address} failed: {exc}")

    async def _read_loop(self) -> None:
        try:
            async for message in self._ws:
                if isinstance(message, str):
                    continue  # the node sends none; ignore as it ignores ours
                if len(message) < _RESPONSE_HEAD.size:
                    self._fail(f"{self.address} sent a {len(message)}-byte message")
                    return
                status, length = _RESPONSE_HEAD.unpack_from(message)
                if length != len(message) - _RESPONSE_HEAD.size:
                    self._fail(f"{self.address} sent length {length} in a {len(message)}-byte message")
                    return
                if not self._deliver(status, message[_RESPONSE_HEAD.size :]):
                    return
            self._fail(f"connection to {self.address} closed by the node")
        except (websockets.exceptions.ConnectionClosed, ConnectionError, OSError) as exc:
            self._fail(f"connection to {self.address} closed: {exc or type(exc).__name__}")
        except asyncio.CancelledError:
            self._fail(f"connection to {self.address} closed by the client")

    async def close(self) -> None:
        await stop_task(self._reader_task)
        self._fail(f"connection to {self.address} closed by the client")
        with contextlib.suppress(websockets.exceptions.WebSocketException, OSError):
            await self._ws.close()
