"""Prometheus metrics of one node (prometheus-client, a registry per Node).

A registry per node, not the global default, so several nodes can live in one
test process. Two kinds of series:

- counted on the request path, where the event happens: requests and their
  latency (``node.dispatch``), messages and bytes in/out (the message handlers),
  fsync waits (``node.durability``), connections opened and closed (transports).
  Each costs a dict lookup and a lock-protected add; label children are cached.
- read at scrape time by :class:`_NodeCollector` from the node's own state
  (partition logs, metadata, sessions, the data volume), so partitions and
  consumer groups cost nothing while no one scrapes.

Label values are bounded (docs/METRICS.md says how): command names come from
the fixed command table, transports and error codes from fixed sets, and
stream/topic/partition/group labels are the numeric ids metadata assigns, so a
series exists only per object that exists.
"""

from __future__ import annotations

import functools
import importlib.metadata
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from whippet.node.session import TRANSPORT_HTTP, TRANSPORT_QUIC, TRANSPORT_TCP, TRANSPORT_WS
from whippet.wire.errors import IggyError

if TYPE_CHECKING:
    from whippet.node.server import Node

__all__ = ["CONTENT_TYPE", "TRANSPORT_NAMES", "NodeMetrics"]

#: The Content-Type of :meth:`NodeMetrics.render` (Prometheus text format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

TRANSPORT_NAMES = {TRANSPORT_TCP: "tcp", TRANSPORT_QUIC: "quic", TRANSPORT_HTTP: "http", TRANSPORT_WS: "ws"}

# Requests range from a cached metadata read (~50 µs) to a send waiting for fsync
# and replication (tens of ms); fsync from a page-cache flush to a stalled disk.
_REQUEST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_FSYNC_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

_GROUP_KIND = 2  # consumer offsets of groups (kind 1 = single consumers: ids are client-chosen)

# ``*_created`` series double the counters for no operational use; the node is the
# process, so the process-wide switch is ours to set.
disable_created_metrics()


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "whippet_requests", "Requests handled, by command and transport", ["command", "transport"], registry=r
        )
        self._errors = Counter(
            "whippet_request_errors",
            "Requests answered with an error status, by command and Iggy error code",
            ["command", "code"],
            registry=r,
        )
        self._latency = Histogram(
            "whippet_request_duration_seconds",
            "Time from a decoded request to its reply, by command",
            ["command"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self._fsync = Histogram(
            "whippet_fsync_duration_seconds",
            "Time an append, a flush or a background round waited for a partition fsync (group commit included)",
            buckets=_FSYNC_BUCKETS,
            registry=r,
        )
        self._opened = Counter("whippet_connections_opened", "Client connections accepted", registry=r)
        self._closed = Counter("whippet_connections_closed", "Client connections closed", registry=r)
        # Read as plain attributes by the message handlers and GetStats.
        self.messages_in = Counter("whippet_messages_in", "Messages appended by clients", registry=r)
        self.bytes_in = Counter("whippet_bytes_in", "Message bytes appended by clients", registry=r)
        self.messages_out = Counter("whippet_messages_out", "Messages returned to polls", registry=r)
        self.bytes_out = Counter("whippet_bytes_out", "Message bytes returned to polls", registry=r)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._node: Node | None = None

    # --- wiring ---
    def watch(self, node: Node) -> None:
        """Start reading ``node``'s state at scrape time and timing its fsyncs (idempotent)."""
        if self._node is node:
            return
        if self._node is not None:
            raise RuntimeError("these metrics already watch another node")
        self._node = node
        self.registry.register(_NodeCollector(node))
        node.durability.on_fsync = self._fsync.observe

    # --- the request path ---
    def request(self, command: str, transport: int = 0, seconds: float | None = None) -> None:
        """Count one request of ``command`` (a COMMAND_TABLE name) and observe its latency."""
        pair = self._children.get((command, transport))
        if pair is None:
            pair = (
                self._requests.labels(command, TRANSPORT_NAMES.get(transport, "other")),
                self._latency.labels(command),
            )
            self._children[(command, transport)] = pair
        pair[0].inc()
        if seconds is not None:
            pair[1].observe(seconds)

    def request_failed(self, command: str, exc: BaseException) -> None:
        """Count a request answered with an error status (1 for unexpected exceptions)."""
        code = exc.status if isinstance(exc, IggyError) else 1
        self._errors.labels(command, str(code)).inc()

    def connections(self, delta: int) -> None:
        """A transport accepted (+1) or closed (-1) a client connection."""
        (self._opened if delta > 0 else self._closed).inc(abs(delta))

    def render(self) -> bytes:
        """The Prometheus text exposition of every series (serve with :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


class _NodeCollector(Collector):
    """Series read from the node's state when Prometheus scrapes."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def describe(self) -> list[Any]:
        return []  # names are dynamic per scrape; nothing to pre-register

    def collect(self) -> Iterator[Any]:
        node = self._node
        info = GaugeMetricFamily("whippet_node_info", "This node's id and version (always 1)", labels=["node_id", "version"])
        info.add_metric([str(node.node_id), _version()], 1)
        yield info
        yield from _clients(node)
        yield from _volume(node)
        if getattr(node, "meta", None) is not None:
            yield from _partitions(node)


def _clients(node: Node) -> Iterator[Any]:
    # HTTP requests share client id 0 and hold no session: only the connection transports.
    by_transport = {"tcp": 0, "quic": 0, "ws": 0}
    for session in node.clients.all():
        name = TRANSPORT_NAMES.get(session.transport, "other")
        by_transport[name] = by_transport.get(name, 0) + 1
    family = GaugeMetricFamily("whippet_connected_clients", "Client sessions open, by transport", labels=["transport"])
    for name, count in by_transport.items():
        family.add_metric([name], count)
    yield family


def _volume(node: Node) -> Iterator[Any]:
    try:
        usage = shutil.disk_usage(node.data_dir)
    except OSError:
        return
    yield GaugeMetricFamily("whippet_data_volume_size_bytes", "Size of the volume holding the data dir", value=usage.total)
    yield GaugeMetricFamily("whippet_data_volume_free_bytes", "Free bytes on the volume holding the data dir", value=usage.free)


def _partitions(node: Node) -> Iterator[Any]:
    """Metadata counts, per-partition log state, and consumer-group lag on partitions this node leads."""
    labels = ["stream", "topic", "partition"]
    end = GaugeMetricFamily(
        "whippet_partition_log_end_offset", "Offset the next appended message gets (messages ever appended)", labels=labels
    )
    segments = GaugeMetricFamily("whippet_partition_segments", "Segment files of the partition log", labels=labels)
    size = GaugeMetricFamily("whippet_partition_size_bytes", "Bytes in the partition's segment files", labels=labels)
    lag = GaugeMetricFamily(
        "whippet_consumer_group_lag",
        "Messages after a group's stored offset, on partitions this node leads",
        labels=[*labels, "group"],
    )
    topic_info = GaugeMetricFamily(
        "whippet_topic_info", "Names of the topics (always 1)", labels=["stream", "topic", "stream_name", "topic_name"]
    )
    group_info = GaugeMetricFamily(
        "whippet_consumer_group_info", "Names of the consumer groups (always 1)",
        labels=["stream", "topic", "group", "group_name"],
    )
    counts = {"streams": 0, "topics": 0, "partitions": 0, "groups": 0}
    with node.meta.lock:
        for stream in node.meta.machine.streams():
            counts["streams"] += 1
            for topic in stream.topics.values():
                counts["topics"] += 1
                counts["groups"] += len(topic.consumer_groups)
                counts["partitions"] += len(topic.partitions)
                ids = [str(stream.id), str(topic.id)]
                topic_info.add_metric([*ids, stream.name, topic.name], 1)
                for group in topic.consumer_groups.values():
                    group_info.add_metric([*ids, str(group.id), group.name], 1)
                for part in topic.partitions:
                    plog = node.partitions.local_log(stream.id, topic.id, part.id)
                    if plog is None:
                        continue
                    key = [*ids, str(part.id)]
                    log_end = plog.next_offset
                    end.add_metric(key, log_end)
                    segments.add_metric(key, plog.segments_count)
                    size.add_metric(key, plog.size_bytes)
                    if part.leader != node.node_id:
                        continue
                    for (kind, group_id), stored in part.offsets.items():
                        if kind == _GROUP_KIND and group_id in topic.consumer_groups:
                            lag.add_metric([*key, str(group_id)], max(0, log_end - stored - 1))
    yield GaugeMetricFamily("whippet_streams", "Streams in the cluster metadata", value=counts["streams"])
    yield GaugeMetricFamily("whippet_topics", "Topics in the cluster metadata", value=counts["topics"])
    yield GaugeMetricFamily("whippet_partitions", "Partitions in the cluster metadata", value=counts["partitions"])
    yield GaugeMetricFamily("whippet_consumer_groups", "Consumer groups in the cluster metadata", value=counts["groups"])
    yield from (topic_info, group_info, end, segments, size, lag)


@functools.cache
def _version() -> str:
    try:
        return importlib.metadata.version("whippet")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
