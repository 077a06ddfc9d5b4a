"""A rolling restart (SIGTERM, one node at a time) under quorum-acked writes loses nothing."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.cluster.producer import Producer
from tests.cluster.test_failover import _assert_exactly_once, _poll_all, _setup

pytestmark = pytest.mark.asyncio


async def _ready(node) -> bool:
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{node.http_port}/ready") as resp:
                return resp.status == 200
    except aiohttp.ClientError:
        return False


async def test_rolling_restart_keeps_every_acknowledged_message(cluster) -> None:
    await _setup(cluster, partitions=3)
    producers = [Producer(cluster, partition=p) for p in range(3)]
    deadline = time.monotonic() + 150
    stop = asyncio.Event()

    async def produce(p: Producer) -> None:
        b = 0
        while not stop.is_set():
            await p.send_batch(b, deadline)
            b += 1

    tasks = [asyncio.create_task(produce(p)) for p in producers]
    await asyncio.sleep(1.0)
    for i in (1, 2, 3):
        code = cluster[i].stop()
        assert code == 0, f"node {i} did not stop cleanly"
        cluster[i].start()
        ready_by = time.monotonic() + 30
        while not await _ready(cluster[i]):
            assert time.monotonic() < ready_by, f"node {i} never became ready"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks)
    stalls = []
    for p in producers:
        await p.close()
        gaps = [b - a for a, b in zip(p.ack_times, p.ack_times[1:])]
        stalls.append(max(gaps))
        assert len(p.acked) > 20
    print(f"rolling restart: longest produce stall {max(stalls):.2f}s per partition {[round(s, 2) for s in stalls]}")
    for p, producer in enumerate(producers):
        _assert_exactly_once(await _poll_all(cluster[1], p), producer.acked)
