"""What an applied metadata command changed, for the node's subscribers.

Every node applies every command, so every node sees the same events in the same
order. Events are self-contained (placements are copied in) because a subscriber
runs later, on the event loop, when the machine may already have moved on.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Event",
    "GroupCreated",
    "GroupDeleted",
    "MembershipChanged",
    "NodeRegistered",
    "PartitionLeaderChanged",
    "PartitionPlacement",
    "PartitionsCreated",
    "PartitionsDeleted",
    "PartitionsPlaced",
    "PatCreated",
    "PatDeleted",
    "StateRestored",
    "StreamCreated",
    "StreamDeleted",
    "StreamPurged",
    "StreamUpdated",
    "TopicCreated",
    "TopicDeleted",
    "TopicPurged",
    "TopicUpdated",
    "UserCreated",
    "UserDeleted",
    "UserUpdated",
]


@dataclass(frozen=True, slots=True)
class PartitionPlacement:
    """A frozen copy of a partition's placement at the time of the event."""

    id: int
    replicas: tuple[int, ...]
    leader: int
    epoch: int


@dataclass(frozen=True, slots=True)
class StreamCreated:
    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamUpdated:
    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamDeleted:
    stream_id: int
    topic_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StreamPurged:
    stream_id: int
    topic_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TopicCreated:
    stream_id: int
    topic_id: int
    partitions: tuple[PartitionPlacement, ...]


@dataclass(frozen=True, slots=True)
class TopicUpdated:
    stream_id: int
    topic_id: int


@dataclass(frozen=True, slots=True)
class TopicDeleted:
    stream_id: int
    topic_id: int
    partition_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TopicPurged:
    stream_id: int
    topic_id: int
    partition_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PartitionsCreated:
    stream_id: int
    topic_id: int
    partitions: tuple[PartitionPlacement, ...]


@dataclass(frozen=True, slots=True)
class PartitionsDeleted:
    stream_id: int
    topic_id: int
    partition_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PartitionsPlaced:
    """Partitions created before any node registered got their replicas now."""

    stream_id: int
    topic_id: int
    partitions: tuple[PartitionPlacement, ...]


@dataclass(frozen=True, slots=True)
class PartitionLeaderChanged:
    stream_id: int
    topic_id: int
    partition: PartitionPlacement


@dataclass(frozen=True, slots=True)
class GroupCreated:
    stream_id: int
    topic_id: int
    group_id: int


@dataclass(frozen=True, slots=True)
class GroupDeleted:
    stream_id: int
    topic_id: int
    group_id: int


@dataclass(frozen=True, slots=True)
class MembershipChanged:
    """Members or their partition assignment changed (join, leave, repartition)."""

    stream_id: int
    topic_id: int
    group_id: int


@dataclass(frozen=True, slots=True)
class UserCreated:
    user_id: int


@dataclass(frozen=True, slots=True)
class UserUpdated:
    """Username, status, permissions or password changed: sessions may re-check."""

    user_id: int


@dataclass(frozen=True, slots=True)
class UserDeleted:
    user_id: int


@dataclass(frozen=True, slots=True)
class PatCreated:
    user_id: int
    name: str


@dataclass(frozen=True, slots=True)
class PatDeleted:
    user_id: int
    name: str


@dataclass(frozen=True, slots=True)
class NodeRegistered:
    node_id: int


@dataclass(frozen=True, slots=True)
class StateRestored:
    """The whole state was replaced from a snapshot (startup or install from the
    leader): commands in between produced no events, so rebuild from the machine."""


Event = (
    StreamCreated
    | StreamUpdated
    | StreamDeleted
    | StreamPurged
    | TopicCreated
    | TopicUpdated
    | TopicDeleted
    | TopicPurged
    | PartitionsCreated
    | PartitionsDeleted
    | PartitionsPlaced
    | PartitionLeaderChanged
    | GroupCreated
    | GroupDeleted
    | MembershipChanged
    | UserCreated
    | UserUpdated
    | UserDeleted
    | PatCreated
    | PatDeleted
    | NodeRegistered
    | StateRestored
)
