"""Scrape /metrics from a 3-node cluster under load: replication series exist and move;
under-replicated partitions rise while a node is down and return to 0 once it caught up."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.client import TestClient

pytestmark = pytest.mark.asyncio


async def scrape(node) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{node.http_port}/metrics") as resp:
            text = await resp.text()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def ready(node) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{node.http_port}/ready") as resp:
            return resp.status


async def wait_for(predicate, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


async def test_replication_series_move_and_under_replication_heals(cluster) -> None:
    c = await TestClient.connect(cluster[1].address)
    await c.create_stream("s")
    await c.create_topic("s", "t", partitions=1)
    p0 = {"stream": "0", "topic": "0", "partition": "0"}
    before = await scrape(cluster[1])
    assert value(before, "whippet_partition_is_leader", **p0) == 1
    assert value(before, "whippet_partition_replicas", **p0) == 3
    for _ in range(5):
        await c.send("s", "t", 0, [b"x" * 100] * 10)
    after = await scrape(cluster[1])
    assert value(after, "whippet_partition_high_watermark", **p0) == 50

    async def fully_in_sync() -> bool:  # membership follows the followers' fetches and pings
        s = await scrape(cluster[1])
        return (value(s, "whippet_partition_in_sync_replicas", **p0) == 3
                and value(s, "whippet_under_replicated_partitions") == 0)

    await wait_for(fully_in_sync, 10)
    follower_view = await scrape(cluster[2])
    assert value(follower_view, "whippet_partition_is_leader", **p0) == 0
    assert sum(v for (n, _), v in follower_view.items() if n == "whippet_raft_role") == 1
    assert value(follower_view, "whippet_cluster_members") == 3
    await asyncio.to_thread(cluster.wait_connected)
    assert value(await scrape(cluster[1]), "whippet_peer_up", peer="3") == 1

    cluster[3].kill()

    async def peer_down() -> bool:
        return value(await scrape(cluster[1]), "whippet_peer_up", peer="3") == 0

    await wait_for(peer_down, 5)

    async def under_replicated() -> bool:
        return value(await scrape(cluster[1]), "whippet_under_replicated_partitions") == 1

    await wait_for(under_replicated)
    for _ in range(5):
        await c.send("s", "t", 0, [b"y" * 100] * 10)
    lag = value(await scrape(cluster[1]), "whippet_replication_lag_messages", follower="3", **p0)
    assert lag >= 50
    cluster[3].start()

    async def healed() -> bool:
        s = await scrape(cluster[1])
        return (value(s, "whippet_under_replicated_partitions") == 0
                and value(s, "whippet_replication_lag_messages", follower="3", **p0) == 0)

    await wait_for(healed)
    assert await ready(cluster[3]) == 200
    await c.close()
