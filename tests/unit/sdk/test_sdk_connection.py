"""Pipelining on one connection, over TCP and over WebSocket: answers in order,
cancellation does not misalign, loss fails everyone."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from whippet.sdk.connection import Connection
from whippet.sdk.ws import WsConnection
from whippet.wire.errors import ConnectionClosed, StreamIdNotFound

KINDS = ["tcp", "ws"]


def _answer(frame: bytes) -> bytes:
    """Echo the payload; code 1009 -> that error."""
    length, code = struct.unpack_from("<II", frame)
    payload = frame[8 : 4 + length]
    return struct.pack("<II", 1009, 0) if code == 1009 else struct.pack("<II", 0, len(payload)) + payload


async def _echo_server(kind: str, close_after: int | None = None) -> tuple[Any, Any]:
    """A server answering each request after a short delay, closing after ``close_after`` answers;
    returns it and a connection to it."""

    async def handle_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        try:
            while close_after is None or served < close_after:
                head = await reader.readexactly(8)
                body = await reader.readexactly(struct.unpack_from("<I", head)[0] - 4)
                await asyncio.sleep(0.001)
                writer.write(_answer(head + body))
                served += 1
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    async def handle_ws(ws: ServerConnection) -> None:
        served = 0
        async for message in ws:
            await asyncio.sleep(0.001)
            await ws.send(_answer(message))  # type: ignore[arg-type]
            served += 1
            if close_after is not None and served >= close_after:
                break

    if kind == "tcp":
        server = await asyncio.start_server(handle_tcp, "127.0.0.1", 0)
        conn: Any = await Connection.open("127.0.0.1", server.sockets[0].getsockname()[1])
    else:
        server = await serve(handle_ws, "127.0.0.1", 0, compression=None)
        conn = await WsConnection.open("127.0.0.1", server.sockets[0].getsockname()[1])
    return server, conn


@pytest.mark.parametrize("kind", KINDS)
async def test_many_requests_in_flight_are_answered_in_order(kind: str) -> None:
    server, conn = await _echo_server(kind)
    try:
        bodies = await asyncio.gather(*(conn.request(1, str(i).encode()) for i in range(50)))
        assert bodies == [str(i).encode() for i in range(50)]
        with pytest.raises(StreamIdNotFound):
            await conn.request(1009)
        # a caller that gives up does not shift the answers of the others
        slow = asyncio.ensure_future(conn.request(1, b"dropped"))
        await asyncio.sleep(0)
        slow.cancel()
        assert await conn.request(1, b"next") == b"next"
    finally:
        await conn.close()
        server.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_lost_connection_fails_pending_and_later_requests(kind: str) -> None:
    server, conn = await _echo_server(kind, close_after=1)
    try:
        results = await asyncio.gather(*(conn.request(1, b"x") for _ in range(3)), return_exceptions=True)
        assert results[0] == b"x"
        assert all(isinstance(r, ConnectionClosed) for r in results[1:])
        assert conn.closed
        with pytest.raises(ConnectionClosed):
            await conn.request(1, b"y")
    finally:
        await conn.close()
        server.close()
