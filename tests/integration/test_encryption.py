"""Encryption at rest through real node processes: clients see plaintext, the disk does not,
and a node restarted with a wrong or missing key refuses message I/O with a clear code."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from apache_iggy import IggyClient, PollingStrategy, SendMessage

from tests.compat.transports import connection_string
from whippet.sdk.connection import Connection
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.batch import build_send_messages, parse_polled
from whippet.wire.errors import CannotDecryptData
from whippet.wire.headers import HeaderKind, encode_user_headers
from whippet.wire.primitives import Consumer, ConsumerKind, Identifier, Partitioning, PollingKind
from whippet.wire.primitives import PollingStrategy as PS

pytestmark = pytest.mark.asyncio

SECRET = b"top-secret-payload-" * 4
HEADERS = encode_user_headers([(HeaderKind.STRING, b"header-key", HeaderKind.STRING, b"header-secret-value")])


def key_env(key: bytes | None) -> dict[str, str]:
    if key is None:
        return {}
    return {"WHIPPET_ENCRYPTION_ENABLED": "true", "WHIPPET_ENCRYPTION_KEY": base64.b64encode(key).decode()}


async def login(node) -> Connection:
    conn = await Connection.open("127.0.0.1", node.tcp_port)
    await conn.request(rq.LoginUser.CODE, rq.LoginUser(username="iggy", password="iggy", version="t",
                                                       context="").encode())
    return conn


async def make_topic(conn: Connection) -> None:
    await conn.request(rq.CreateStream.CODE, rq.CreateStream(name="s").encode())
    topic = rq.CreateTopic(stream_id=Identifier("s"), partitions_count=1, compression=1, message_expiry=0,
                           max_topic_size=0, replication_factor=1, name="t")
    await conn.request(topic.CODE, topic.encode())


async def send(conn: Connection, messages: list[tuple[bytes, bytes]]) -> None:
    body = build_send_messages(Identifier("s"), Identifier("t"), Partitioning.partition_id(0),
                               [(0, p, h, 0) for p, h in messages])
    await conn.request(codes.SEND_MESSAGES, body)


async def poll(conn: Connection) -> list:
    req = rq.PollMessages(consumer=Consumer(ConsumerKind.CONSUMER, Identifier(1)), stream_id=Identifier("s"),
                          topic_id=Identifier("t"), partition_id=0, strategy=PS(PollingKind.OFFSET, 0), count=100,
                          auto_commit=False)
    return parse_polled(await conn.request(req.CODE, req.encode()))[1]


def disk_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / "partitions").rglob("*.log")))


async def test_round_trip_and_ciphertext_on_disk(node_factory) -> None:
    key = os.urandom(32)
    node = node_factory("enc", extra_env=key_env(key))
    conn = await login(node)
    await make_topic(conn)
    await send(conn, [(SECRET, HEADERS), (b"second", b"")])
    messages = await poll(conn)
    assert [(m.payload, m.user_headers) for m in messages] == [(SECRET, HEADERS), (b"second", b"")]
    assert [m.offset for m in messages] == [0, 1]
    await conn.close()
    # The official SDK reads the same plaintext.
    client = IggyClient.from_connection_string(connection_string(node, "tcp"))
    await client.connect()
    await client.send_messages("s", "t", 0, [SendMessage("from the sdk")])
    polled = await client.poll_messages("s", "t", 0, PollingStrategy.Offset(0), 10, False)
    assert [m.payload() for m in polled] == [SECRET, b"second", b"from the sdk"]
    on_disk = disk_bytes(node.data_dir)
    assert len(on_disk) >= 3 * 64 + len(SECRET) + 6 + 12 + 5 * 28
    for plaintext in (SECRET[:16], b"header-secret", b"second", b"from the sdk"):
        assert plaintext not in on_disk


async def test_restart_with_the_right_key_wrong_key_or_no_key(node_factory) -> None:
    key = os.urandom(32)
    node = node_factory("enc", extra_env=key_env(key))
    conn = await login(node)
    await make_topic(conn)
    await send(conn, [(SECRET, HEADERS)])
    await conn.close()
    node.stop()

    for wrong in (os.urandom(32), None):  # another key; encryption switched off
        # The node refuses to start with a clear reason, rather than serve garbage or mix keys.
        with pytest.raises(RuntimeError) as info:
            node_factory("enc", extra_env=key_env(wrong))
        assert "exited with 2" in str(info.value) and "whippet-node:" in str(info.value)

    node = node_factory("enc", extra_env=key_env(key))
    conn = await login(node)
    assert [(m.payload, m.user_headers) for m in await poll(conn)] == [(SECRET, HEADERS)]
    await conn.close()


async def test_messages_stored_before_encryption_was_enabled_are_an_error(node_factory) -> None:
    node = node_factory("late", extra_env={})
    conn = await login(node)
    await make_topic(conn)
    await send(conn, [(b"p" * 64, b"")])  # in the clear, longer than a sealed blob's overhead
    await conn.close()
    node.stop()
    node = node_factory("late", extra_env=key_env(os.urandom(32)))
    conn = await login(node)
    with pytest.raises(CannotDecryptData):
        await poll(conn)
    await conn.close()
