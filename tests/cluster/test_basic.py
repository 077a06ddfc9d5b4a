"""A 3-node cluster: any node serves any client; data is on every replica."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire.errors import InvalidReplicationFactor
from whippet.wire.primitives import Identifier
from whippet.wire.responses import ClusterMetadata, TopicDetails

pytestmark = pytest.mark.asyncio


async def test_any_node_serves_and_replicas_converge(cluster) -> None:
    c1 = await TestClient.connect(cluster[1].address)
    await c1.create_stream("s")
    with pytest.raises(InvalidReplicationFactor):  # 5 replicas on 3 nodes
        await c1.create_topic("s", "t", partitions=3, replication_factor=5)
    await c1.create_topic("s", "t", partitions=3)
    for _ in range(50):  # peers are reported healthy once the first pings went through
        meta = ClusterMetadata.decode(await c1.call(rq.GetClusterMetadata()))
        if all(n.status == 0 for n in meta.nodes):
            break
        await asyncio.sleep(0.1)
    assert sorted(n.tcp_port for n in meta.nodes) == sorted(n.tcp_port for n in cluster.nodes.values())
    assert sum(n.role == 0 for n in meta.nodes) == 1 and all(n.status == 0 for n in meta.nodes)
    # Send through every node to every partition (forwarded where the node does not lead).
    clients = {i: await TestClient.connect(cluster[i].address) for i in (1, 2, 3)}
    for i, c in clients.items():
        for p in range(3):
            await c.send("s", "t", p, [f"n{i}p{p}m{j}".encode() for j in range(5)])
    for i, c in clients.items():
        for p in range(3):
            _, msgs = await c.poll("s", "t", p, count=100)
            assert len(msgs) == 15, (i, p)
            assert [m.offset for m in msgs] == list(range(15))
    topic = TopicDetails.decode(await c1.call(rq.GetTopic(stream_id=Identifier("s"), topic_id=Identifier("t"))))
    assert topic.topic.replication_factor == 3
    for c in clients.values():
        await c.close()
    await c1.close()
    # Every replica holds the same bytes.
    await asyncio.sleep(1.0)
    cluster.stop()
    from whippet.storage import layout
    from whippet.storage.log import LogConfig, PartitionLog

    for p in range(3):
        logs = [
            PartitionLog.open(layout.partition_dir(n.data_dir / "partitions", 0, 0, p), LogConfig())
            for n in cluster.nodes.values()
        ]
        datas = {lg.read(0, 1000).data for lg in logs}
        assert len(datas) == 1 and logs[0].next_offset == 15
        for lg in logs:
            lg.close()


async def test_purge_on_a_cluster_restarts_every_replica_at_zero(cluster) -> None:
    c = await TestClient.connect(cluster[2].address)
    await c.create_stream("s")
    await c.create_topic("s", "t", partitions=1)
    await c.send("s", "t", 0, [b"old"] * 5)
    await c.call(rq.PurgeTopic(stream_id=Identifier("s"), topic_id=Identifier("t")))
    _, msgs = await c.poll("s", "t", 0, count=10)
    assert msgs == []
    await c.send("s", "t", 0, [b"new"])
    for i in (1, 2, 3):
        reader = await TestClient.connect(cluster[i].address)
        head, msgs = await reader.poll("s", "t", 0, count=10)
        assert [(m.offset, m.payload) for m in msgs] == [(0, b"new")] and head.current_offset == 0
        await reader.close()
    await c.close()
