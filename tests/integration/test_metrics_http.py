"""``GET /metrics`` of a real node process while producers and a consumer run.

Scrapes over HTTP, as Prometheus does, and checks the series move between
scrapes while the load runs, and that ``metrics_enabled = false`` removes the
endpoint.
"""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.client import TestClient
from tests.support.nodeproc import NodeProcess

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _scrape(http: aiohttp.ClientSession, node: NodeProcess) -> Samples:
    async with http.get(f"http://127.0.0.1:{node.http_port}/metrics") as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await reply.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _sum(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


async def _produce(address: str, partition: int, stop: asyncio.Event) -> int:
    client = await TestClient.connect(address)
    sent = 0
    try:
        while not stop.is_set():
            await client.send("load", "events", partition, [b"p" * 200] * 50)
            sent += 50
    finally:
        await client.close()
    return sent


async def test_series_move_under_load(node: NodeProcess) -> None:
    setup = await TestClient.connect(node.address)
    await setup.create_stream("load")
    await setup.create_topic("load", "events", partitions=2)
    async with aiohttp.ClientSession() as http:
        before = await _scrape(http, node)
        stop = asyncio.Event()
        producers = [asyncio.create_task(_produce(node.address, p, stop)) for p in (0, 1)]
        scrapes = []
        for _ in range(3):
            await asyncio.sleep(0.3)
            await setup.poll("load", "events", 0, offset=0, count=100)
            scrapes.append(await _scrape(http, node))
        stop.set()
        sent = sum(await asyncio.gather(*producers))
        await setup.close()
        after = await _scrape(http, node)

    # Counters and gauges rise from scrape to scrape while the load runs.
    for name, labels in (
        ("whippet_messages_in_total", {}),
        ("whippet_bytes_in_total", {}),
        ("whippet_requests_total", {"command": "message.send", "transport": "tcp"}),
        ("whippet_request_duration_seconds_count", {"command": "message.send"}),
        ("whippet_fsync_duration_seconds_count", {}),
        ("whippet_partition_log_end_offset", {"partition": "0"}),
        ("whippet_partition_size_bytes", {}),
        ("process_cpu_seconds_total", {}),
    ):
        series = [_sum(s, name, **labels) for s in (before, *scrapes)]
        assert all(a < b for a, b in itertools.pairwise(series)), f"{name}{labels} did not move: {series}"
    assert _sum(after, "whippet_messages_in_total") == sent
    assert _sum(after, "whippet_partition_log_end_offset") == sent
    assert _sum(after, "whippet_messages_out_total") == 300  # three polls of 100
    assert _sum(scrapes[-1], "whippet_connected_clients", transport="tcp") >= 3  # two producers + setup
    assert _sum(after, "whippet_connections_opened_total") >= 3
    assert _sum(after, "whippet_request_errors_total") == 0
    assert _sum(after, "whippet_topic_info", stream_name="load", topic_name="events") == 1


async def test_metrics_can_be_switched_off(node_factory) -> None:  # type: ignore[no-untyped-def]
    quiet = node_factory("quiet", extra_env={"WHIPPET_METRICS_ENABLED": "false"})
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{quiet.http_port}/ping") as reply:
            assert reply.status == 200
        async with http.get(f"http://127.0.0.1:{quiet.http_port}/metrics") as reply:
            assert reply.status == 404
