"""Bad bytes on a real socket: clear error codes, no crash, no changed state."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.client import TestClient
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import IggyError
from whippet.wire.primitives import Identifier
from whippet.wire.table import COMMAND_TABLE


def _roundtrip(address: str, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; return everything read until close or timeout."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def _frame(code: int, payload: bytes) -> bytes:
    return struct.pack("<II", len(payload) + 4, code) + payload


def _statuses(reply: bytes) -> list[int]:
    out, pos = [], 0
    while pos + 8 <= len(reply):
        status, length = struct.unpack_from("<II", reply, pos)
        out.append(status)
        pos += 8 + length
    assert pos == len(reply), "reply must be whole frames"
    return out


def test_frame_length_below_four_is_invalid_command_and_closes(node) -> None:
    reply = _roundtrip(node.address, struct.pack("<I", 2) + b"\x01\x00" + _frame(codes.PING, b""))
    assert _statuses(reply) == [3], "error, then the connection is closed (the ping is never answered)"


def test_unknown_code_keeps_the_connection(node) -> None:
    reply = _roundtrip(node.address, _frame(999, b"") + _frame(codes.PING, b""))
    assert _statuses(reply) == [3, 0]


def test_oversized_control_frame_is_rejected(node) -> None:
    header = struct.pack("<II", 10 * 1024 * 1024 + 5, codes.CREATE_STREAM)
    reply = _roundtrip(node.address, header + b"\x00" * 1024)
    assert _statuses(reply) == [3]


def test_unauthenticated_commands_get_40(node) -> None:
    reply = _roundtrip(node.address, _frame(codes.CREATE_STREAM, b"\x03abc") + _frame(codes.GET_STREAMS, b""))
    assert _statuses(reply) == [40, 40]


_CODES = sorted(COMMAND_TABLE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.sampled_from(_CODES), payload=st.binary(max_size=64))
def test_random_payloads_unauthenticated_change_nothing(node, code: int, payload: bytes) -> None:
    reply = _roundtrip(node.address, _frame(code, payload) + _frame(codes.PING, b""))
    statuses = _statuses(reply)
    assert statuses[-1] == 0, "the node still answers after any payload"


@pytest.mark.asyncio
async def test_truncated_valid_requests_are_rejected_and_change_nothing(node) -> None:
    client = await TestClient.connect(node.address)
    await client.create_stream("keep")
    await client.create_topic("keep", "t", partitions=2)
    before = await client.call(rq.GetStreams())
    samples = [
        rq.CreateStream(name="newstream"),
        rq.CreateTopic(stream_id=Identifier("keep"), partitions_count=1, compression=1, message_expiry=0,
                       max_topic_size=0, replication_factor=1, name="topic2"),
        rq.UpdateStream(stream_id=Identifier("keep"), name="renamed"),
        rq.DeleteStream(stream_id=Identifier("keep")),
        rq.CreatePartitions(stream_id=Identifier("keep"), topic_id=Identifier("t"), partitions_count=3),
        rq.CreateUser(username="mallory", password="pw-pw-pw", status=1, permissions=None),
    ]
    for req in samples:
        full = req.encode()
        for cut in range(len(full)):
            try:
                type(req).decode(full[:cut])
            except IggyError:
                pass
            else:
                continue  # a shorter form the protocol accepts; not a bad input
            with pytest.raises(IggyError) as info:
                await client.conn.request(req.CODE, full[:cut])
            assert info.value.status in (3, 4, 6), (req, cut, info.value)
    assert await client.call(rq.GetStreams()) == before
    await client.close()


@pytest.mark.asyncio
async def test_bad_send_batches_get_their_codes(node) -> None:
    from whippet.wire.batch import build_send_messages
    from whippet.wire.primitives import Partitioning

    client = await TestClient.connect(node.address)
    await client.create_stream("s")
    await client.create_topic("s", "t")
    good = bytearray(build_send_messages(Identifier("s"), Identifier("t"), Partitioning.partition_id(0),
                                         [(0, b"hello", b"", 0)]))
    meta_len = struct.unpack_from("<I", good, 0)[0]
    index_at = 4 + meta_len
    bad_offset = bytearray(good)
    struct.pack_into("<I", bad_offset, index_at, 7)
    bad_count = bytearray(good)
    struct.pack_into("<I", bad_count, meta_len, 0)
    for body, code in ((bad_offset, 4031), (bad_count, 4009)):
        with pytest.raises(IggyError) as info:
            await client.conn.request(codes.SEND_MESSAGES, bytes(body))
        assert info.value.status == code
    _, msgs = await client.poll("s", "t", 0, count=10)
    assert msgs == []
    await client.conn.request(codes.SEND_MESSAGES, bytes(good))
    _, msgs = await client.poll("s", "t", 0, count=10)
    assert [m.payload for m in msgs] == [b"hello"]
    await asyncio.sleep(0)
    await client.close()
