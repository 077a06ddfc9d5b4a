"""Issue 9: the official 0.8 SDK, which retries nothing, rides through a partition leader's
kill -9 without an error, and every message it sent is stored exactly once.

While the partition has no leader, the node the SDK talks to holds its sends (bounded by
``cluster_leader_wait_ms``) until the controller names the next leader, and runs them
there; a send in flight on the dead leader is run again only because deduplication is on
and the receiving node gave its messages ids (node.routing)."""

from __future__ import annotations

import asyncio
import time

import pytest
from apache_iggy import IggyClient, PollingStrategy, SendMessage

from tests.cluster.test_official_sdk_cluster import _raft_roles
from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire.primitives import Identifier
from whippet.wire.responses_system import PartitionLeaders

pytestmark = pytest.mark.asyncio


async def test_official_sdk_sees_no_error_across_a_partition_leader_kill(cluster) -> None:  # type: ignore[no-untyped-def]
    raft_leader, _ = await _raft_roles(cluster)
    client = IggyClient.from_connection_string(f"iggy://iggy:iggy@{raft_leader.address}")
    await client.connect()
    await client.create_stream("s")
    await client.create_topic("s", "t", partitions_count=3)
    raft_leader_id = next(i for i, n in cluster.nodes.items() if n is raft_leader)
    c = await TestClient.connect(raft_leader.address)
    try:
        routes = PartitionLeaders.decode(await c.call(rq.GetPartitionLeaders(stream_id=Identifier("s"),
                                                                              topic_id=Identifier("t"))))
    finally:
        await c.close()
    victim_partition, victim = next((p, leader) for _, _, p, leader, _ in routes.entries()
                                    if leader is not None and leader != raft_leader_id)
    sent: list[str] = []
    killed_at = None
    started = time.monotonic()
    for i in range(120):
        if i == 40:
            await asyncio.to_thread(cluster[victim].kill)
            killed_at = time.monotonic()
        payload = f"m{i}"
        await client.send_messages("s", "t", victim_partition, [SendMessage(payload)])  # must not raise
        sent.append(payload)
    assert killed_at is not None and time.monotonic() - started < 60
    got: list[str] = []
    offset = 0
    while len(got) < len(sent):
        batch = await client.poll_messages("s", "t", victim_partition, PollingStrategy.Offset(offset), 100, False)
        if not batch:
            break
        got += [m.payload().decode() for m in batch]
        offset += len(batch)
    assert got == sent, "every acknowledged message once, in order"
