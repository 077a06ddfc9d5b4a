"""The SDK sends each partition's requests straight to its leader (GET_PARTITION_LEADERS), and
keeps doing so across a leader's kill -9.

Observable: ``whippet_requests_total{command="message.send"|"message.send_appended"}`` counts a request on every node
that dispatches it, so a forwarded send counts twice (the node that received it and the
leader, where it arrives as ``message.send_appended``, 9004). Routed sends therefore add exactly one per send, on the partition's leader; sends
through one node without routing add one more per send to a partition led elsewhere.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.cluster.test_cluster_metrics import scrape
from whippet.sdk import Client, Message, Partitioning, PollingStrategy
from whippet.sdk.options import Backoff

pytestmark = pytest.mark.asyncio

SENDS_PER_PARTITION = 5
# Our SDK sends with SEND_MESSAGES_APPENDED (9004, "message.send_appended"), and a node forwards
# any send to the leader with it: both names are sends.
_SEND_COMMANDS = {("command", "message.send"), ("command", "message.send_appended")}


async def _send_counts(cluster) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """message.send requests dispatched so far, per live node id."""
    counts = {}
    for node_id, node in cluster.nodes.items():
        if node.proc is None or node.proc.poll() is not None:
            continue
        samples = await scrape(node)
        counts[node_id] = sum(
            v for (name, labels), v in samples.items()
            if name == "whippet_requests_total" and _SEND_COMMANDS & set(labels)
        )
    return counts


def _delta(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    return {i: after[i] - before.get(i, 0.0) for i in after}


def _leader_ids(client: Client, cluster) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """partition -> node id of its leader, as the client's routing table knows it."""
    by_port = {n.tcp_port: i for i, n in cluster.nodes.items()}
    ports = {v.name: v.address.port for v in client.routing.nodes.values()}
    return {p: by_port[ports[leader]] for _, _, p, leader, _ in client.routing.routes() if leader is not None}


async def _send_round(client: Client, partitions: list[int], first_id: int) -> int:
    """SENDS_PER_PARTITION one-message sends to each partition; returns the next id."""
    next_id = first_id
    for _ in range(SENDS_PER_PARTITION):
        for p in partitions:
            await client.send_messages("r", "t", [Message(b"m", id=next_id)], Partitioning.partition_id(p))
            next_id += 1
    return next_id


async def test_sends_go_to_each_partitions_leader_and_follow_a_leader_kill(cluster) -> None:
    nodes = [n.address for n in cluster.nodes.values()]
    client = Client(nodes, username="iggy", password="iggy", request_timeout=10.0,
                    backoff=Backoff(initial=0.05, maximum=0.5, retries=None))
    async with client:
        await client.create_stream("r")
        await client.create_topic("r", "t", 3, replication_factor=3)
        for _ in range(50):  # peers are reported healthy once the first pings went through
            await client.refresh_cluster()
            if all(v.usable for v in client.routing.nodes.values()):
                break
            await asyncio.sleep(0.1)
        leaders = _leader_ids(client, cluster)
        assert sorted(leaders) == [0, 1, 2] and len(set(leaders.values())) == 3  # one partition per node

        # routed: one count per send, on the partition's leader
        before = await _send_counts(cluster)
        next_id = await _send_round(client, [0, 1, 2], 1)
        routed = _delta(before, await _send_counts(cluster))
        assert routed == {leaders[p]: SENDS_PER_PARTITION for p in (0, 1, 2)}

        # the same through one node with no routing: the two other partitions are forwarded
        home = cluster[leaders[0]]
        async with Client([home.address], username="iggy", password="iggy", discover=False) as pinned:
            before = await _send_counts(cluster)
            next_id = await _send_round(pinned, [0, 1, 2], next_id)
            forwarded = _delta(before, await _send_counts(cluster))
        assert forwarded[leaders[0]] == 3 * SENDS_PER_PARTITION
        assert sum(forwarded.values()) == 5 * SENDS_PER_PARTITION

        # kill -9 the leader of a partition the client reaches over its own link (not its home node)
        home_id = next(i for i, n in cluster.nodes.items() if n.address == str(client.connected_node))
        victim_partition = next(p for p, node_id in leaders.items() if node_id != home_id)
        victim = leaders[victim_partition]
        await asyncio.to_thread(cluster[victim].kill)
        started = time.monotonic()
        next_id = await _send_round(client, [victim_partition], next_id)  # retried through the failover
        assert time.monotonic() - started < 20
        for _ in range(50):  # the routing table learns the new leader (refresh on not-leader, or periodic)
            new_leader = _leader_ids(client, cluster).get(victim_partition)
            if new_leader not in (None, victim):
                break
            await asyncio.sleep(0.2)
            await client.refresh_cluster()
        assert new_leader not in (None, victim)
        before = await _send_counts(cluster)
        next_id = await _send_round(client, [victim_partition], next_id)
        assert _delta(before, await _send_counts(cluster)) == {
            i: (SENDS_PER_PARTITION if i == new_leader else 0) for i in before
        }

        # every acknowledged message is stored exactly once
        seen: list[int] = []
        for p in (0, 1, 2):
            polled = await client.poll_messages("r", "t", p, 1, PollingStrategy.offset(0), 1000)
            seen += [m.id for m in polled]
    assert len(seen) == len(set(seen)), "a message was stored twice"
    assert set(seen) == set(range(1, next_id))
