"""Scaling 3 -> 5: new nodes join the metadata Raft group and take replicas of new topics."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.cluster.producer import Producer
from tests.cluster.test_failover import _assert_exactly_once, _poll_all
from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire.responses import ClusterMetadata

pytestmark = pytest.mark.asyncio


async def test_two_nodes_join_a_running_cluster(cluster) -> None:
    cluster.add_node(4)
    cluster.add_node(5)
    c = await TestClient.connect(cluster[5].address)
    meta = ClusterMetadata.decode(await c.call(rq.GetClusterMetadata()))
    assert sorted(n.tcp_port for n in meta.nodes) == sorted(n.tcp_port for n in cluster.nodes.values())
    await c.create_stream("s")
    await c.create_topic("s", "t", partitions=5, replication_factor=5)
    await c.close()
    producer = Producer(cluster, partition=3)  # first replica: node 4
    await producer.run(range(0, 10), time.monotonic() + 60)
    # With five members, two may fail: the metadata group and the data keep a majority.
    cluster[1].kill()
    cluster[2].kill()
    await producer.run(range(10, 20), time.monotonic() + 60)
    await producer.close()
    c = await TestClient.connect(cluster[3].address)
    deadline = time.monotonic() + 20
    while True:
        try:
            await c.create_stream("after-two-failures")
            break
        except Exception:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.3)
    await c.close()
    _assert_exactly_once(await _poll_all(cluster[5], 3), producer.acked)
