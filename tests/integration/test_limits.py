"""Limits against abusive clients on a real node, over real sockets: each limit acts, is counted
in ``whippet_limit_rejections_total``, and leaves the node serving everyone else."""

from __future__ import annotations

import asyncio
import re
import ssl
import struct
import time
import urllib.request

import aiohttp
import pytest
from aioquic.asyncio import connect as quic_connect
from aioquic.quic.configuration import QuicConfiguration
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire.framing import request_header

pytestmark = pytest.mark.asyncio

FRAME_LIMIT = 4096


@pytest.fixture
def limited(node_factory):  # type: ignore[no-untyped-def]
    return node_factory(extra_env={
        "WHIPPET_TCP_MAX_FRAME_SIZE": str(FRAME_LIMIT), "WHIPPET_WS_MAX_FRAME_SIZE": str(FRAME_LIMIT),
        "WHIPPET_QUIC_MAX_FRAME_SIZE": str(FRAME_LIMIT), "WHIPPET_HTTP_MAX_REQUEST_SIZE": str(FRAME_LIMIT),
        "WHIPPET_LIMITS_IDLE_TIMEOUT_S": "2", "WHIPPET_LIMITS_REQUEST_TIMEOUT_S": "1",
        "WHIPPET_LIMITS_REQUEST_MIN_RATE": "0",
    })


def rejections(node) -> dict[tuple[str, str], float]:  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    pattern = r'^whippet_limit_rejections_total\{limit="(\w+)",transport="(\w+)"\} (\S+)$'
    return {(m[0], m[1]): float(m[2]) for m in re.findall(pattern, text, re.M)}


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> float:
    """Seconds until the node closed the connection (read everything it sent until EOF)."""
    start = time.monotonic()
    while await asyncio.wait_for(reader.read(65536), within):
        pass
    return time.monotonic() - start


async def _still_serves(node) -> None:  # type: ignore[no-untyped-def]
    c = await TestClient.connect(node.address)
    await c.call(rq.GetStreams())
    await c.close()


async def test_frames_over_each_transports_limit_are_refused_from_the_header(limited) -> None:  # type: ignore[no-untyped-def]
    oversize = request_header(101, 1 << 30)  # a 1 GiB SendMessages, header only: nothing else is needed
    # TCP: error status 3, then the connection closes
    reader, writer = await asyncio.open_connection("127.0.0.1", limited.tcp_port)
    writer.write(oversize)
    assert struct.unpack("<II", await asyncio.wait_for(reader.readexactly(8), 5)) == (3, 0)
    await _closed_by_server(reader, 5)
    writer.close()
    # WebSocket: the same status in one message, then the close
    async with ws_connect(f"ws://127.0.0.1:{limited.ws_port}/", compression=None) as ws:
        await ws.send(oversize)
        assert struct.unpack("<II", await asyncio.wait_for(ws.recv(), 5)) == (3, 0)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    # WebSocket: a message over the limit is refused by the WebSocket layer itself (close 1009)
    async with ws_connect(f"ws://127.0.0.1:{limited.ws_port}/", compression=None, max_size=None) as ws:
        await ws.send(b"\x00" * (FRAME_LIMIT + 100))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    # QUIC: the stream gets the status
    config = QuicConfiguration(is_client=True, verify_mode=ssl.CERT_NONE, server_name="localhost")
    async with quic_connect("127.0.0.1", limited.quic_port, configuration=config) as quic:
        stream_reader, stream_writer = await quic.create_stream()
        stream_writer.write(oversize)
        stream_writer.write_eof()
        assert struct.unpack("<II", await asyncio.wait_for(stream_reader.read(), 5)) == (3, 0)
    # HTTP: 413 for a body over http_max_request_size
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{limited.http_port}/users/login", data=b"{" * (FRAME_LIMIT + 1),
                             headers={"Content-Type": "application/json"}) as reply:
            assert reply.status == 413
    counted = rejections(limited)
    assert {t: counted[("frame_size", t)] for t in ("tcp", "ws", "quic", "http")} == {
        "tcp": 1, "ws": 2, "quic": 1, "http": 1}
    await _still_serves(limited)


async def test_idle_connections_are_closed(limited) -> None:  # type: ignore[no-untyped-def]
    reader, writer = await asyncio.open_connection("127.0.0.1", limited.tcp_port)
    writer.write(request_header(1, 0))  # one ping, then silence
    assert struct.unpack("<II", await asyncio.wait_for(reader.readexactly(8), 5)) == (0, 0)
    waited = await _closed_by_server(reader, 10)
    assert 1.5 < waited < 5, waited
    writer.close()
    async with ws_connect(f"ws://127.0.0.1:{limited.ws_port}/", compression=None) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    counted = rejections(limited)
    assert counted[("idle", "tcp")] == 1 and counted[("idle", "ws")] == 1
    await _still_serves(limited)


async def _dribble(port: int, text: bytes, every: float = 0.2) -> float:
    """Send ``text`` one byte at a time; return the seconds until the node hung up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.monotonic()
    try:
        for byte in text:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(65536), every) == b"":
                    break
            except asyncio.TimeoutError:
                pass
        else:
            pytest.fail("the node let a slowloris client send its whole request")
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
    return time.monotonic() - start


async def test_slowloris_clients_are_cut_off_on_http_and_websocket(limited) -> None:  # type: ignore[no-untyped-def]
    head = b"GET /ping HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    assert await _dribble(limited.http_port, head) < 3
    handshake = (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + b"X: " + b"b" * 200)
    assert await _dribble(limited.ws_port, handshake) < 3
    # A silent new HTTP connection owes its request head too.
    reader, writer = await asyncio.open_connection("127.0.0.1", limited.http_port)
    assert await _closed_by_server(reader, 5) < 3
    writer.close()
    # A WebSocket frame (after the handshake) dribbled is cut off as well.
    async with ws_connect(f"ws://127.0.0.1:{limited.ws_port}/", compression=None) as ws:
        raw = ws.transport
        raw.write(b"\x82\xfe\x01\x00" + b"\x00" * 4)  # the header of a masked 256-byte frame, then silence
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    counted = rejections(limited)
    assert counted[("slow_client", "http")] == 2 and counted[("slow_client", "ws")] == 2
    # A normal request on the same node is unaffected.
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{limited.http_port}/ping") as reply:
        assert reply.status == 200


async def test_connections_over_the_node_limit_are_closed_at_accept(node_factory) -> None:  # type: ignore[no-untyped-def]
    node = node_factory(extra_env={"WHIPPET_LIMITS_MAX_CONNECTIONS": "3"})
    held = [await TestClient.connect(node.address) for _ in range(3)]
    reader, writer = await asyncio.open_connection("127.0.0.1", node.tcp_port)
    writer.write(request_header(1, 0))
    try:  # closed at once (reset), unanswered
        assert await asyncio.wait_for(reader.read(8), 5) == b""
    except ConnectionResetError:
        pass
    writer.close()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{node.http_port}/ping") as reply:
                await reply.read()
    await held.pop().close()
    await asyncio.sleep(0.1)
    await _still_serves(node)  # a slot is free again
    for c in held:
        await c.close()
    await asyncio.sleep(0.1)
    counted = rejections(node)
    assert counted[("connections", "tcp")] == 1 and counted[("connections", "http")] >= 1
