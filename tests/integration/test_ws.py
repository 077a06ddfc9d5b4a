"""WebSocket framing against a real node, with a raw ``websockets`` client.

The official SDK's scenarios run over ``iggy+ws://`` in tests/compat (TRANSPORTS);
these pin the framing rules of protocol reference §8.2 that the SDK never
exercises: a request frame split over messages or two in one message, pings,
text messages, bad framing, fragmentation of large replies, session lifetime.
"""

from __future__ import annotations

import asyncio
import struct

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.batch import build_send_messages, parse_polled
from whippet.wire.framing import encode_request
from whippet.wire.primitives import (
    Consumer,
    ConsumerKind,
    Identifier,
    Partitioning,
    PollingKind,
    PollingStrategy,
)
from whippet.wire.responses import decode_clients

pytestmark = pytest.mark.asyncio

_OK_EMPTY = b"\x00" * 8
_LOGIN = encode_request(rq.LoginUser.CODE, rq.LoginUser(username="iggy", password="iggy", version="t",
                                                        context="").encode())


def url(node) -> str:
    return f"ws://127.0.0.1:{node.ws_port}/any/path"


async def status(ws) -> tuple[int, bytes]:
    message = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(message, bytes)
    code, length = struct.unpack_from("<II", message)
    assert len(message) == 8 + length  # exactly one response frame per message
    return code, message[8:]


async def test_frames_are_a_byte_stream_across_messages(node) -> None:
    async with connect(url(node), compression=None) as ws:
        ping = encode_request(codes.PING)
        await ws.send(_LOGIN[:5])  # one frame split over three messages
        await ws.send(_LOGIN[5:11])
        await ws.send(_LOGIN[11:])
        assert (await status(ws))[0] == 0
        await ws.send(ping + ping)  # two frames in one message: two reply messages
        assert await ws.recv() == _OK_EMPTY
        assert await ws.recv() == _OK_EMPTY


async def test_pings_answered_text_ignored(node) -> None:
    async with connect(url(node), compression=None) as ws:
        await asyncio.wait_for(await ws.ping(b"hi"), 5)  # the pong arrives
        await ws.send("not a frame")  # ignored, not an error
        await ws.send(encode_request(codes.PING))
        assert await ws.recv() == _OK_EMPTY


async def test_errors_are_status_frames_and_bad_framing_closes(node) -> None:
    async with connect(url(node), compression=None) as ws:
        await ws.send(encode_request(rq.CreateStream.CODE, rq.CreateStream(name="x").encode()))
        assert await status(ws) == (40, b"")  # Unauthenticated, connection stays open
        await ws.send(struct.pack("<II", 2, codes.PING))  # length < 4: the stream cannot be trusted
        assert (await status(ws))[0] == 3
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


async def test_large_poll_reply_is_one_message(node) -> None:
    async with connect(url(node), compression=None, max_size=None) as ws:
        await ws.send(_LOGIN)
        await status(ws)
        for req in (
            rq.CreateStream(name="s"),
            rq.CreateTopic(stream_id=Identifier("s"), partitions_count=1, compression=1, message_expiry=0,
                           max_topic_size=0, replication_factor=1, name="t"),
        ):
            await ws.send(encode_request(req.CODE, req.encode()))
            assert (await status(ws))[0] == 0
        payloads = [bytes([i]) * 900_000 for i in range(4)]  # ~3.6 MB: several 1 MiB fragments
        body = build_send_messages(Identifier("s"), Identifier("t"), Partitioning.partition_id(0),
                                   [(0, p, b"", 0) for p in payloads])
        await ws.send(encode_request(codes.SEND_MESSAGES, body))
        assert await status(ws) == (0, b"")
        poll = rq.PollMessages(consumer=Consumer(ConsumerKind.CONSUMER, Identifier(1)), stream_id=Identifier("s"),
                               topic_id=Identifier("t"), partition_id=0,
                               strategy=PollingStrategy(PollingKind.FIRST, 0), count=10, auto_commit=False)
        await ws.send(encode_request(poll.CODE, poll.encode()))
        code, payload = await status(ws)
        assert code == 0
        _, messages = parse_polled(payload)
        assert [m.payload for m in messages] == payloads


async def test_session_is_a_websocket_client_and_ends_with_it(node) -> None:
    async with connect(url(node), compression=None) as first:
        await first.send(_LOGIN)
        await status(first)
    async with connect(url(node), compression=None) as ws:
        await ws.send(_LOGIN)
        await status(ws)
        for _ in range(50):  # the first connection's close reaches the node asynchronously
            await ws.send(encode_request(codes.GET_CLIENTS))
            clients = decode_clients((await status(ws))[1])
            if len(clients) == 1:
                break
            await asyncio.sleep(0.05)
        assert [c.transport for c in clients] == [4]
