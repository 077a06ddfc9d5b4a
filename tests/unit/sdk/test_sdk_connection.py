"""Pipelining on one connection: answers in order, cancellation does not misalign, loss fails everyone."""

from __future__ import annotations

import asyncio
import struct

import pytest
from whippet.sdk.connection import Connection
from whippet.wire.errors import ConnectionClosed, StreamIdNotFound


async def _echo_server(close_after: int | None = None) -> tuple[asyncio.Server, int]:
    """Answers each request with its payload (code 1009 -> that error), after a short delay."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        try:
            while close_after is None or served < close_after:
                length, code = struct.unpack("<II", await reader.readexactly(8))
                payload = await reader.readexactly(length - 4)
                await asyncio.sleep(0.001)
                if code == 1009:
                    writer.write(struct.pack("<II", 1009, 0))
                else:
                    writer.write(struct.pack("<II", 0, len(payload)) + payload)
                served += 1
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_many_requests_in_flight_are_answered_in_order() -> None:
    server, port = await _echo_server()
    conn = await Connection.open("127.0.0.1", port)
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


async def test_a_lost_connection_fails_pending_and_later_requests() -> None:
    server, port = await _echo_server(close_after=1)
    conn = await Connection.open("127.0.0.1", port)
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
