"""Answers of whippet's own partition commands: GET_PARTITION_STATES (9005) and
GET_CONSUMER_ASSIGNMENT (9006).

9005, partitions as their leaders see them.

Cluster metadata says who leads a partition and which nodes hold it; only the
leader knows which replicas are in sync, how far each follower has fetched, the
high watermark and the log's size. The node a client asks collects one
:class:`PartitionState` per partition from each leader (its own, or over the
forwarding path) and answers them all in one :class:`PartitionStates`. A leader
that cannot be asked leaves the metadata view with ``source`` saying so, so a
dashboard still shows the partition, marked.

Conventions as in :mod:`whippet.wire.responses`: fixed layouts, u32-counted lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from whippet.wire._fields import NAME8, U8, U32, U64, WireStruct, counted, nested
from whippet.wire.responses_system import _LEADER

__all__ = [
    "NO_MEMBER",
    "ConsumerAssignment",
    "SOURCE_LEADER",
    "SOURCE_METADATA",
    "SOURCE_NO_LEADER",
    "SOURCE_STALE",
    "PartitionState",
    "PartitionStates",
    "ReplicaProgress",
]

#: answered by the partition's leader: every field is current
SOURCE_LEADER = 0
#: the leader did not answer: placement from the metadata only (in-sync set, watermark, sizes empty)
SOURCE_METADATA = 1
#: the partition has no leader now (an election or a failover is in progress)
SOURCE_NO_LEADER = 2
#: the node asked no longer leads it (leadership moved meanwhile): its own replica's view
SOURCE_STALE = 3


@dataclass(frozen=True, slots=True)
class ReplicaProgress(WireStruct):
    """A follower and the offset it has fetched up to (its log end as the leader last saw it)."""

    LAYOUT = (("node_id", U32), ("log_end", U64))
    node_id: int
    log_end: int


@dataclass(frozen=True, slots=True)
class PartitionState(WireStruct):
    """One partition. Offsets are *ends* (the next offset), so an empty log has ``log_end`` 0;
    ``high_watermark`` is the end of what is committed and visible to polls."""

    LAYOUT = (
        ("partition_id", U32),
        ("leader_node_id", _LEADER),
        ("epoch", U64),
        ("source", U8),
        ("reported_by", U32),
        ("replicas", counted(U32)),
        ("in_sync", counted(U32)),
        ("followers", counted(nested(ReplicaProgress))),
        ("high_watermark", U64),
        ("log_end", U64),
        ("first_offset", U64),
        ("size_bytes", U64),
        ("messages_count", U64),
        ("segments_count", U32),
    )
    SOURCES: ClassVar[dict[int, str]] = {
        SOURCE_LEADER: "leader",
        SOURCE_METADATA: "metadata",
        SOURCE_NO_LEADER: "no_leader",
        SOURCE_STALE: "stale",
    }
    partition_id: int
    leader_node_id: int | None
    epoch: int
    source: int
    reported_by: int
    replicas: list[int]
    in_sync: list[int]
    followers: list[ReplicaProgress]
    high_watermark: int
    log_end: int
    first_offset: int
    size_bytes: int
    messages_count: int
    segments_count: int

    @property
    def source_name(self) -> str:
        return self.SOURCES.get(self.source, "unknown")

    @property
    def under_replicated(self) -> bool:
        """Fewer replicas in sync than assigned (only known when the leader answered)."""
        return self.source == SOURCE_LEADER and len(self.in_sync) < len(self.replicas)


@dataclass(frozen=True, slots=True)
class PartitionStates(WireStruct):
    """GET_PARTITION_STATES: the topic (ids and names) and its partitions in id order."""

    LAYOUT = (
        ("stream_id", U32),
        ("topic_id", U32),
        ("stream_name", NAME8),
        ("topic_name", NAME8),
        ("partitions", counted(nested(PartitionState))),
    )
    stream_id: int
    topic_id: int
    stream_name: str
    topic_name: str
    partitions: list[PartitionState]


#: ``ConsumerAssignment.member_id`` when the session is not a member of the group
NO_MEMBER = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class ConsumerAssignment(WireStruct):
    """GET_CONSUMER_ASSIGNMENT (9006): the asking session's member id (NO_MEMBER when it
    has not joined) and the partitions the group assigned to it, sorted."""

    LAYOUT = (("member_id", U32), ("partitions", counted(U32)))
    member_id: int
    partitions: list[int]

    @property
    def is_member(self) -> bool:
        return self.member_id != NO_MEMBER
