"""The official 0.8 SDK against a 3-node cluster: redirected from a follower, or pinned to one."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from apache_iggy import AutoCommit, AutoCommitWhen, IggyClient, PollingStrategy, SendMessage

from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire.responses import ClusterMetadata

pytestmark = pytest.mark.asyncio


async def _raft_roles(cluster) -> tuple[object, object]:
    """(the metadata Raft leader's process, one follower's process)."""
    c = await TestClient.connect(cluster[1].address)
    meta = ClusterMetadata.decode(await c.call(rq.GetClusterMetadata()))
    await c.close()
    leader_port = next(n.tcp_port for n in meta.nodes if n.role == 0)
    leader = next(n for n in cluster.nodes.values() if n.tcp_port == leader_port)
    return leader, next(n for n in cluster.nodes.values() if n.tcp_port != leader_port)


async def _client_count(node) -> int:
    c = await TestClient.connect(node.address)
    from whippet.wire.responses import decode_clients

    n = len(decode_clients(await c.call(rq.GetClients())))
    await c.close()
    return n - 1  # not counting this checker


async def _scenario(client: IggyClient) -> None:
    await client.create_stream("orders")
    await client.create_topic("orders", "events", partitions_count=3)
    for p in range(3):
        await client.send_messages("orders", "events", p, [SendMessage(f"p{p}-{i}") for i in range(4)])
    for p in range(3):
        got = await client.poll_messages("orders", "events", p, PollingStrategy.First(), 10, False)
        assert [m.payload().decode() for m in got] == [f"p{p}-{i}" for i in range(4)]
    consumer = await client.consumer_group(
        "g", "orders", "events", polling_strategy=PollingStrategy.Next(), batch_length=5,
        auto_commit=AutoCommit.When(AutoCommitWhen.PollingMessages()), poll_interval=timedelta(milliseconds=10),
    )
    seen: list[bytes] = []

    async def collect() -> None:
        async for msg in consumer.iter_messages():
            seen.append(msg.payload())
            if len(seen) == 12:
                return

    await asyncio.wait_for(collect(), 30)
    assert sorted(seen) == sorted(f"p{p}-{i}".encode() for p in range(3) for i in range(4))


async def test_sdk_connected_to_a_follower_is_redirected(cluster) -> None:
    leader, follower = await _raft_roles(cluster)
    client = IggyClient.from_connection_string(f"iggy://iggy:iggy@{follower.address}")
    await client.connect()
    assert await _client_count(leader) == 1 and await _client_count(follower) == 0, "the SDK moved to the leader"
    await _scenario(client)


async def test_clients_pinned_to_a_follower_work_through_forwarding(cluster) -> None:
    """Over HTTP the 0.8 SDK never redirects; our own client does not either."""
    _, follower = await _raft_roles(cluster)
    client = IggyClient.from_connection_string(f"iggy+http://iggy:iggy@127.0.0.1:{follower.http_port}")
    await client.connect()
    await client.login_user("iggy", "iggy")
    await client.create_stream("orders")
    await client.create_topic("orders", "events", partitions_count=3)
    for p in range(3):
        await client.send_messages("orders", "events", p, [SendMessage(f"p{p}-{i}") for i in range(4)])
        got = await client.poll_messages("orders", "events", p, PollingStrategy.First(), 10, False)
        assert [m.payload().decode() for m in got] == [f"p{p}-{i}" for i in range(4)]
    # Consumer groups (binary protocol only) through a client that stays on the follower.
    from whippet.wire.primitives import Consumer, ConsumerKind, Identifier, PollingKind

    c = await TestClient.connect(follower.address)
    await c.call(rq.CreateConsumerGroup(stream_id=Identifier("orders"), topic_id=Identifier("events"), name="g"))
    await c.call(rq.JoinConsumerGroup(stream_id=Identifier("orders"), topic_id=Identifier("events"),
                                      group_id=Identifier("g")))
    group = Consumer(ConsumerKind.CONSUMER_GROUP, Identifier("g"))
    seen = []
    for _ in range(6):
        _, msgs = await c.poll("orders", "events", None, kind=PollingKind.NEXT, consumer=group, count=4,
                               auto_commit=True)
        seen += [m.payload for m in msgs]
    assert sorted(seen) == sorted(f"p{p}-{i}".encode() for p in range(3) for i in range(4))
    await c.close()
