"""The SDK against a 3-node cluster: bootstrap from the node list, keep producing through a node
kill and restart, every acknowledged message stored exactly once (ids checked)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from whippet.sdk import Client, Message, PollingStrategy
from whippet.sdk.options import Backoff

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path).start()
    yield c
    c.stop()


async def test_producer_from_the_node_list_survives_a_node_kill_and_restart(cluster: Cluster) -> None:
    nodes = [n.address for n in cluster.nodes.values()]
    client = Client(nodes, username="iggy", password="iggy", backoff=Backoff(initial=0.05, maximum=0.5, retries=None),
                    request_timeout=10.0)
    async with client:
        metadata = await client.get_cluster_metadata()
        assert len(metadata.nodes) == 3
        await client.create_stream("c")
        await client.create_topic("c", "t", 1, replication_factor=3)
        producer = await client.producer("c", "t").batch_length(20).linger("2ms").max_in_flight(1).build().init()
        victim = next(n for n in cluster.nodes.values() if n.address == str(client.connected_node))
        acked = 0
        for i in range(60):
            await producer.send([Message(f"{i}:{j}".encode(), id=i * 20 + j + 1) for j in range(20)])
            await producer.flush()
            acked += 20
            if i == 20:
                await asyncio.to_thread(victim.kill)
            if i == 40:
                await asyncio.to_thread(victim.start)
        await producer.close()
        assert client.reconnects >= 1
        seen: list[int] = []
        offset = 0
        while True:
            polled = await client.poll_messages("c", "t", 0, 1, PollingStrategy.offset(offset), 500)
            if not polled.messages:
                break
            seen += [m.id for m in polled]
            offset = polled.messages[-1].offset + 1
    assert len(seen) == len(set(seen)), "a message was stored twice"
    assert set(seen) == set(range(1, acked + 1))
