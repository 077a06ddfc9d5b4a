"""The SDK against a 3-node cluster: bootstrap from the node list, keep producing through a node
kill and restart, every acknowledged message stored exactly once (ids checked)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from whippet.sdk import AutoCommit, Client, Message, PollingStrategy
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
        # the node taking the writes: partition 0's leader (reached directly, or as the home node)
        await client.refresh_cluster()
        (_, _, _, leader, _), = client.routing.routes()
        victim = next(n for n in cluster.nodes.values() if n.tcp_port == client.routing.nodes[leader].address.port)
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


async def test_consumer_group_across_nodes_rebalances_when_a_member_leaves(cluster: Cluster) -> None:
    total = 300
    nodes = [n.address for n in cluster.nodes.values()]
    async with Client(nodes, username="iggy", password="iggy") as admin:
        await admin.create_stream("g")
        await admin.create_topic("g", "t", 3, replication_factor=3)
        await admin.create_consumer_group("g", "t", "app")
        members = [Client([address], username="iggy", password="iggy") for address in nodes]  # one per node
        consumers = []
        for c in members:
            await c.connect()
            consumers.append(
                await c.consumer_group("app", "g", "t").auto_commit(AutoCommit.after_each())
                .batch_length(10).poll_interval("5ms").rebalance_check("50ms").build().init()
            )
        # exactly-once needs a settled group: wait until every node applied the three joins
        for _ in range(200):
            views = [await c.get_consumer_group("g", "t", "app") for c in members]
            if all(v is not None and v.group.members_count == 3 for v in views):
                break
            await asyncio.sleep(0.05)
        producer = await admin.producer("g", "t").batch_length(25).build().init()
        for i in range(total):
            await producer.send(Message(b"m", id=i + 1))
        await producer.close()
        seen: list[int] = []
        done = asyncio.Event()

        async def run(consumer, stop_after: int | None) -> None:  # type: ignore[no-untyped-def]
            count = 0
            async for message in consumer:
                seen.append(message.id)
                count += 1
                if len(set(seen)) >= total:
                    done.set()
                if stop_after is not None and count >= stop_after:
                    break
            await consumer.close()

        await run(consumers[0], 20)
        others = [asyncio.create_task(run(c, None)) for c in consumers[1:]]
        await asyncio.wait_for(done.wait(), 90)
        for consumer in consumers[1:]:
            await consumer.close()
        await asyncio.wait_for(asyncio.gather(*others), 20)
        for c in members:
            await c.close()
    assert len(seen) == len(set(seen)), "a message was consumed twice"
    assert set(seen) == set(range(1, total + 1))
