"""Response payloads of the system and client commands: clients, stats, cluster metadata.

Split from :mod:`whippet.wire.responses` (which re-exports everything here) to keep
modules small; the conventions are the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Self

from whippet.wire._codec import U32_MAX, Reader, Writer
from whippet.wire._fields import (
    ACK,
    EFFECTIVE_ACK,
    F32,
    NAME8,
    STR32,
    U8,
    U16,
    U32,
    U64,
    Codec,
    WireStruct,
    counted,
    nested,
)

__all__ = [
    "NO_USER_ID",
    "ClientInfo",
    "ClientDetails",
    "CacheMetric",
    "Stats",
    "ClusterNode",
    "ClusterMetadata",
    "NO_LEADER",
    "LeaderNode",
    "PartitionLeader",
    "TopicLeaders",
    "PartitionLeaders",
    "TopicAck",
]

#: ``ClientInfo.user_id`` of a session that is not logged in.
NO_USER_ID = U32_MAX


@dataclass(frozen=True, slots=True)
class ClientInfo(WireStruct):
    """ClientResponse; ``user_id`` is NO_USER_ID when not logged in, ``transport`` 1 tcp,
    2 quic, 3 http, 4 websocket."""

    LAYOUT = (
        ("client_id", U32),
        ("user_id", U32),
        ("transport", U8),
        ("address", STR32),
        ("consumer_groups_count", U32),
    )
    client_id: int
    user_id: int
    transport: int
    address: str
    consumer_groups_count: int


@dataclass(frozen=True, slots=True)
class ClientDetails(WireStruct):
    """GetMe/GetClient: a ClientInfo, then consumer_groups_count x (stream, topic, group) u32s."""

    client: ClientInfo
    consumer_groups: list[tuple[int, int, int]]

    @classmethod
    def read(cls, r: Reader) -> Self:
        client = ClientInfo.read(r)
        groups = [(r.u32(), r.u32(), r.u32()) for _ in range(client.consumer_groups_count)]
        return cls(client, groups)

    def write(self, w: Writer) -> None:
        self.client.write(w)
        for stream_id, topic_id, group_id in self.consumer_groups:
            w.u32(stream_id).u32(topic_id).u32(group_id)


@dataclass(frozen=True, slots=True)
class CacheMetric(WireStruct):
    """One 32-byte cache entry of Stats."""

    LAYOUT = (
        ("stream_id", U32),
        ("topic_id", U32),
        ("partition_id", U32),
        ("hits", U64),
        ("misses", U64),
        ("hit_ratio", F32),
    )
    stream_id: int
    topic_id: int
    partition_id: int
    hits: int
    misses: int
    hit_ratio: float


@dataclass(frozen=True, slots=True)
class Stats(WireStruct):
    """GetStats (§3.6): 108 fixed bytes, five str32, semver, cache entries, disk figures.

    ``iggy_server_semver`` is major*1_000_000 + minor*1000 + patch (0.8.0 -> 8000); 0 = absent.
    """

    LAYOUT = (
        ("process_id", U32),
        ("cpu_usage", F32),
        ("total_cpu_usage", F32),
        ("memory_usage", U64),
        ("total_memory", U64),
        ("available_memory", U64),
        ("run_time", U64),
        ("start_time", U64),
        ("read_bytes", U64),
        ("written_bytes", U64),
        ("messages_size_bytes", U64),
        ("streams_count", U32),
        ("topics_count", U32),
        ("partitions_count", U32),
        ("segments_count", U32),
        ("messages_count", U64),
        ("clients_count", U32),
        ("consumer_groups_count", U32),
        ("hostname", STR32),
        ("os_name", STR32),
        ("os_version", STR32),
        ("kernel_version", STR32),
        ("iggy_server_version", STR32),
        ("iggy_server_semver", U32),
        ("cache_metrics", counted(nested(CacheMetric))),
        ("threads_count", U32),
        ("free_disk_space", U64),
        ("total_disk_space", U64),
    )
    process_id: int
    cpu_usage: float
    total_cpu_usage: float
    memory_usage: int
    total_memory: int
    available_memory: int
    run_time: int
    start_time: int
    read_bytes: int
    written_bytes: int
    messages_size_bytes: int
    streams_count: int
    topics_count: int
    partitions_count: int
    segments_count: int
    messages_count: int
    clients_count: int
    consumer_groups_count: int
    hostname: str
    os_name: str
    os_version: str
    kernel_version: str
    iggy_server_version: str
    iggy_server_semver: int
    cache_metrics: list[CacheMetric]
    threads_count: int
    free_disk_space: int
    total_disk_space: int


@dataclass(frozen=True, slots=True)
class ClusterNode(WireStruct):
    """``role`` 0 leader, 1 follower; ``status`` 0 healthy, 1 starting, 2 stopping,
    3 unreachable, 4 maintenance (the SDK rejects 5 and anything unlisted)."""

    LAYOUT = (
        ("name", STR32),
        ("ip", STR32),
        ("tcp_port", U16),
        ("quic_port", U16),
        ("http_port", U16),
        ("websocket_port", U16),
        ("role", U8),
        ("status", U8),
    )
    name: str
    ip: str
    tcp_port: int
    quic_port: int
    http_port: int
    websocket_port: int
    role: int
    status: int


@dataclass(frozen=True, slots=True)
class ClusterMetadata(WireStruct):
    """GetClusterMetadata (§6.1): cluster name, then a u32-counted list of nodes."""

    LAYOUT = (("name", STR32), ("nodes", counted(nested(ClusterNode))))
    name: str
    nodes: list[ClusterNode]


# --- GET_PARTITION_LEADERS (whippet's own command, code 9001) ---------------------------

#: ``PartitionLeader.leader_node_id`` on the wire when a partition has no leader (yet).
NO_LEADER = U32_MAX


def _read_leader(r: Reader) -> int | None:
    value = r.u32()
    return None if value == NO_LEADER else value


def _write_leader(w: Writer, value: int | None) -> None:
    w.u32(NO_LEADER if value is None or value < 0 else value)


_LEADER: Codec = (_read_leader, _write_leader)


@dataclass(frozen=True, slots=True)
class LeaderNode(WireStruct):
    """A node id with the name GET_CLUSTER_METADATA reports for it: how a client turns
    a leader id into an address without parsing names."""

    LAYOUT = (("node_id", U32), ("name", STR32))
    node_id: int
    name: str


@dataclass(frozen=True, slots=True)
class PartitionLeader(WireStruct):
    """One partition: its leader (None = no leader, NO_LEADER on the wire) and leader epoch."""

    LAYOUT = (("partition_id", U32), ("leader_node_id", _LEADER), ("epoch", U64))
    partition_id: int
    leader_node_id: int | None
    epoch: int


@dataclass(frozen=True, slots=True)
class TopicLeaders(WireStruct):
    """The partitions of one topic, with the names so a client addressing by name can route."""

    LAYOUT = (
        ("stream_id", U32),
        ("topic_id", U32),
        ("stream_name", NAME8),
        ("topic_name", NAME8),
        ("partitions", counted(nested(PartitionLeader))),
    )
    stream_id: int
    topic_id: int
    stream_name: str
    topic_name: str
    partitions: list[PartitionLeader]


@dataclass(frozen=True, slots=True)
class PartitionLeaders(WireStruct):
    """GET_PARTITION_LEADERS: the answering node's id, every node's id and name, then the topics.

    ``node_id`` lets a client tell which partitions its own connection already leads.
    """

    LAYOUT = (
        ("node_id", U32),
        ("nodes", counted(nested(LeaderNode))),
        ("topics", counted(nested(TopicLeaders))),
    )
    node_id: int
    nodes: list[LeaderNode]
    topics: list[TopicLeaders]

    def entries(self) -> Iterator[tuple[int, int, int, int | None, int]]:
        """Flat (stream_id, topic_id, partition_id, leader_node_id, epoch) rows."""
        for t in self.topics:
            for p in t.partitions:
                yield t.stream_id, t.topic_id, p.partition_id, p.leader_node_id, p.epoch


# --- GET_TOPIC_ACK (whippet's own command, code 9003) -----------------------------------


@dataclass(frozen=True, slots=True)
class TopicAck(WireStruct):
    """GET_TOPIC_ACK: the topic's setting ("" = the node's default; byte 0..3) and the
    level in force for it (never "": the setting, else the answering node's
    ``cluster_ack``; byte 1..3)."""

    LAYOUT = (("ack", ACK), ("effective", EFFECTIVE_ACK))
    ack: str
    effective: str
