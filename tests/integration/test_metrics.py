"""Metrics of one node, read in-process through ``NodeMetrics.render()``.

The node runs in the test's event loop on loopback ports, driven by our test
client over TCP, so every series comes from the same code path a scrape uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import whippet.node.handlers  # noqa: F401  (registers the handlers)
from tests.support.client import TestClient
from tests.unit.deploy import metrics_doc
from whippet.node.config import NodeConfig
from whippet.node.metrics import NodeMetrics
from whippet.node.server import Node
from whippet.wire import requests as rq
from whippet.wire.errors import StreamIdNotFound, StreamNameAlreadyExists
from whippet.wire.primitives import Consumer, Identifier

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: NodeMetrics) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over every series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    config = NodeConfig(
        data_dir=str(tmp_path / "data"), tcp_port=0, http_enabled=False, ws_enabled=False,
        quic_enabled=False, auth_default_root_credentials=True,
    )
    n = Node(config)
    await n.start()
    try:
        yield n
    finally:
        await n.stop()


async def test_series_move_with_traffic(node: Node) -> None:
    before = scrape(node.metrics)
    assert value(before, "whippet_connected_clients", transport="tcp") == 0
    client = await TestClient.connect(f"127.0.0.1:{node.ports['tcp']}")
    try:
        await client.create_stream("orders")
        await client.create_topic("orders", "created", partitions=2)
        await client.send("orders", "created", 0, [b"x" * 100] * 10)
        await client.send("orders", "created", 1, [b"y" * 50] * 3)
        await client.poll("orders", "created", 0, offset=0, count=4)
        with pytest.raises(StreamIdNotFound):
            await client.create_topic("missing", "t")
        mid = scrape(node.metrics)
    finally:
        await client.close()
    after = await _scrape_when(node, lambda s: value(s, "whippet_connected_clients", transport="tcp") == 0)

    assert value(mid, "whippet_requests_total", command="message.send", transport="tcp") == 2
    assert value(mid, "whippet_request_duration_seconds_count", command="message.send") == 2
    assert value(mid, "whippet_request_duration_seconds_sum", command="message.send") > 0
    assert value(mid, "whippet_request_errors_total", command="topic.create", code="1009") == 1
    assert value(mid, "whippet_messages_in_total") == 13
    assert value(mid, "whippet_messages_out_total") == 4
    assert value(mid, "whippet_bytes_in_total") > 13 * 50
    assert value(mid, "whippet_bytes_out_total") > 4 * 100
    # the default fsync policy is "always": one wait per send at least
    assert value(mid, "whippet_fsync_duration_seconds_count") >= 2
    assert value(mid, "whippet_connected_clients", transport="tcp") == 1
    assert value(after, "whippet_connected_clients", transport="tcp") == 0
    assert value(after, "whippet_connections_opened_total") == value(after, "whippet_connections_closed_total") == 1

    part = {"stream": "0", "topic": "0"}
    assert value(mid, "whippet_partition_log_end_offset", **part, partition="0") == 10
    assert value(mid, "whippet_partition_log_end_offset", **part, partition="1") == 3
    assert value(mid, "whippet_partition_segments", **part, partition="0") == 1
    assert value(mid, "whippet_partition_size_bytes", **part, partition="0") > 1000
    assert value(mid, "whippet_topic_info", **part, stream_name="orders", topic_name="created") == 1
    assert (value(mid, "whippet_streams"), value(mid, "whippet_topics"), value(mid, "whippet_partitions")) == (1, 1, 2)
    assert value(mid, "whippet_data_volume_free_bytes") > 0
    assert value(mid, "whippet_node_info", node_id="1", version=_version(mid)) == 1
    assert value(mid, "process_resident_memory_bytes") > 0
    assert value(mid, "process_cpu_seconds_total") > 0


async def test_consumer_group_lag_follows_stored_offsets(node: Node) -> None:
    client = await TestClient.connect(f"127.0.0.1:{node.ports['tcp']}")
    try:
        await client.create_stream("s")
        await client.create_topic("s", "t", partitions=1)
        await client.call(rq.CreateConsumerGroup(stream_id=Identifier("s"), topic_id=Identifier("t"), name="g"))
        await client.call(rq.JoinConsumerGroup(stream_id=Identifier("s"), topic_id=Identifier("t"),
                                               group_id=Identifier("g")))
        await client.send("s", "t", 0, [b"m"] * 8)
        lag_labels = {"stream": "0", "topic": "0", "partition": "0", "group": "0"}
        assert total(scrape(node.metrics), "whippet_consumer_group_lag") == 0  # nothing stored yet

        await client.call(rq.StoreConsumerOffset(consumer=Consumer.group("g"), stream_id=Identifier("s"),
                                                 topic_id=Identifier("t"), partition_id=0, offset=2))
        assert value(scrape(node.metrics), "whippet_consumer_group_lag", **lag_labels) == 5  # offsets 3..7
        await client.send("s", "t", 0, [b"m"] * 4)
        assert value(scrape(node.metrics), "whippet_consumer_group_lag", **lag_labels) == 9
        await client.call(rq.StoreConsumerOffset(consumer=Consumer.group("g"), stream_id=Identifier("s"),
                                                 topic_id=Identifier("t"), partition_id=0, offset=11))
        assert value(scrape(node.metrics), "whippet_consumer_group_lag", **lag_labels) == 0
        assert value(scrape(node.metrics), "whippet_consumer_groups") == 1
    finally:
        await client.close()


async def test_every_exported_series_is_documented_and_every_documented_one_exported(node: Node) -> None:
    """docs/METRICS.md is the contract of the dashboard and the alerts: hold the node to it."""
    client = await TestClient.connect(f"127.0.0.1:{node.ports['tcp']}")
    try:  # enough traffic for every family to have a series: a group with a stored offset, a poll
        await client.create_stream("s")
        await client.create_topic("s", "t", partitions=1)
        await client.call(rq.CreateConsumerGroup(stream_id=Identifier("s"), topic_id=Identifier("t"), name="g"))
        await client.call(rq.JoinConsumerGroup(stream_id=Identifier("s"), topic_id=Identifier("t"),
                                               group_id=Identifier("g")))
        await client.send("s", "t", 0, [b"m"] * 3)
        await client.poll("s", "t", 0)
        await client.call(rq.StoreConsumerOffset(consumer=Consumer.group("g"), stream_id=Identifier("s"),
                                                 topic_id=Identifier("t"), partition_id=0, offset=0))
        with pytest.raises(StreamNameAlreadyExists):
            await client.create_stream("s")  # an error, for whippet_request_errors_total
    finally:
        await client.close()
    seen = {name for name, _ in scrape(node.metrics)}
    # A one-node cluster has no followers and no peers, so no per-follower lag and no per-peer
    # liveness samples (tests/cluster covers them).
    documented = metrics_doc.sample_names(metrics_doc.exported()) - {
        "whippet_replication_lag_messages", "whippet_peer_up"}
    whippet = {name for name in seen if name.startswith("whippet_")}
    assert whippet == documented, f"undocumented: {whippet - documented}, not exported: {documented - whippet}"
    assert metrics_doc.process_names() <= seen
    assert not set(metrics_doc.reserved()) & seen, "a reserved name is exported: move it to the Exported tables"
    # The documented types are the real ones.
    for family in text_string_to_metric_families(node.metrics.render().decode()):
        name = family.name + ("_total" if family.type == "counter" else "")
        if name in metrics_doc.exported():
            assert metrics_doc.exported()[name] == family.type, name


async def test_interval_fsync_rounds_are_timed_too(tmp_path: Path) -> None:
    """With fsync "interval" no reply waits for an fsync, but the background rounds are observed."""
    config = NodeConfig(
        data_dir=str(tmp_path / "data"), tcp_port=0, http_enabled=False, ws_enabled=False, quic_enabled=False,
        auth_default_root_credentials=True, storage_fsync="interval", storage_fsync_interval_ms=20,
    )
    n = Node(config)
    await n.start()
    try:
        client = await TestClient.connect(f"127.0.0.1:{n.ports['tcp']}")
        await client.create_stream("s")
        await client.create_topic("s", "t", partitions=1)
        await client.send("s", "t", 0, [b"x"] * 5)
        await client.close()
        samples = await _scrape_when(n, lambda s: value(s, "whippet_fsync_duration_seconds_count") >= 1)
        assert value(samples, "whippet_fsync_duration_seconds_count") >= 1
    finally:
        await n.stop()


def test_metrics_without_a_node_are_only_the_counted_ones() -> None:
    """Before ``watch`` nothing reads node state; each NodeMetrics has its own registry."""
    a, b = NodeMetrics(), NodeMetrics()
    a.request("stream.get", 1, 0.002)
    a.request("stream.get", 4, 0.003)
    a.request_failed("stream.get", StreamIdNotFound())
    a.request_failed("stream.get", RuntimeError("boom"))
    sa, sb = scrape(a), scrape(b)
    assert value(sa, "whippet_requests_total", command="stream.get", transport="tcp") == 1
    assert value(sa, "whippet_requests_total", command="stream.get", transport="ws") == 1
    assert value(sa, "whippet_request_duration_seconds_bucket", command="stream.get", le="0.0025") == 1
    assert value(sa, "whippet_request_duration_seconds_count", command="stream.get") == 2
    assert value(sa, "whippet_request_errors_total", command="stream.get", code="1009") == 1
    assert value(sa, "whippet_request_errors_total", command="stream.get", code="1") == 1
    assert total(sb, "whippet_requests_total") == 0
    assert not any(name.startswith("whippet_partition") for name, _ in sa)
    assert not any(name.endswith("_created") for name, _ in sa)


async def _scrape_when(node: Node, ready: Callable[[Samples], bool], timeout: float = 5.0) -> Samples:
    """Scrape until ``ready`` holds (the server sees a close a moment after the client)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ready(samples := scrape(node.metrics)) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    return samples


def _version(samples: Samples) -> str:
    for name, labels in samples:
        if name == "whippet_node_info":
            return dict(labels)["version"]
    raise AssertionError("no whippet_node_info")
