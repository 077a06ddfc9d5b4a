"""kill -9 during a bounded send loop, restart on the same data dir: nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire.errors import IggyError
from whippet.wire.primitives import Consumer, ConsumerKind, Identifier

pytestmark = pytest.mark.asyncio

BATCH = 10


async def _send_until_killed(client: TestClient, node, kill_after: int, limit: int) -> int:
    """Send numbered batches; kill -9 the node after ``kill_after`` acks. Returns batches acked."""
    acked = 0
    for i in range(limit):
        if acked == kill_after:
            # Fire one more send and kill while it is in flight.
            pending = asyncio.create_task(
                client.send("crash", "t", 0, [f"{i}:{j}".encode() for j in range(BATCH)])
            )
            await asyncio.sleep(0)
            node.kill()
            try:
                await pending
                acked += 1
            except (IggyError, ConnectionError, OSError):
                pass
            return acked
        await client.send("crash", "t", 0, [f"{i}:{j}".encode() for j in range(BATCH)])
        acked += 1
    return acked


@pytest.mark.parametrize("fsync", ["always", "never"])
async def test_kill9_keeps_every_acknowledged_message(node_factory, fsync: str) -> None:
    node = node_factory("crash", extra_args=["--fsync", fsync])
    client = await TestClient.connect(node.address)
    await client.create_stream("crash")
    await client.create_topic("crash", "t", partitions=1)
    await client.call(
        rq.CreateUser(username="alice", password="secret1", status=1, permissions=None)
    )
    await client.send("crash", "t", 0, [b"warmup"])
    consumer = Consumer(ConsumerKind.CONSUMER, Identifier(7))
    await client.call(
        rq.StoreConsumerOffset(consumer=consumer, stream_id=Identifier("crash"), topic_id=Identifier("t"),
                               partition_id=0, offset=0)
    )
    started = time.monotonic()
    acked = await _send_until_killed(client, node, kill_after=200, limit=10_000)
    assert time.monotonic() - started < 60
    assert acked >= 200
    await client.close()

    node.start()
    client = await TestClient.connect(node.address)
    head, messages = await client.poll("crash", "t", 0, offset=0, count=100_000)
    assert messages[0].payload == b"warmup"
    body = [m for m in messages[1:]]
    assert len(body) >= acked * BATCH, f"lost acknowledged messages: {len(body)} < {acked * BATCH}"
    assert len(body) <= (acked + 1) * BATCH
    for n, m in enumerate(body):
        assert m.offset == n + 1
        assert m.payload == f"{n // BATCH}:{n % BATCH}".encode()
    # Metadata and offsets survived too.
    await client.login("alice", "secret1")
    await client.login("iggy", "iggy")
    stored = await client.call(
        rq.GetConsumerOffset(consumer=consumer, stream_id=Identifier("crash"), topic_id=Identifier("t"), partition_id=0)
    )
    assert int.from_bytes(stored[12:20], "little") == 0
    # And it serves: a new append continues the offsets.
    await client.send("crash", "t", 0, [b"after"])
    _, tail = await client.poll("crash", "t", 0, offset=len(body) + 1, count=10)
    assert [m.payload for m in tail] == [b"after"]
    await client.close()
