"""Lookups by id or name that raise Iggy's not-found errors (shared by the machine
and its command handlers)."""

from __future__ import annotations

from whippet.metadata.model import ConsumerGroup, MetadataState, Partition, Stream, Topic, User
from whippet.wire.errors import (
    ConsumerGroupIdNotFound,
    PartitionNotFound,
    ResourceNotFound,
    StreamIdNotFound,
    TopicIdNotFound,
)

Key = int | str


def stream(state: MetadataState, key: Key) -> Stream:
    """Raises StreamIdNotFound (1009) for an unknown id or name."""
    sid = state.stream_by_name.get(key) if isinstance(key, str) else key
    found = state.streams.get(sid) if sid is not None else None
    if found is None:
        raise StreamIdNotFound(f"stream {key!r} not found")
    return found


def topic(state: MetadataState, stream_key: Key, topic_key: Key) -> Topic:
    """Raises StreamIdNotFound or TopicIdNotFound (2010)."""
    s = stream(state, stream_key)
    tid = s.topic_by_name.get(topic_key) if isinstance(topic_key, str) else topic_key
    found = s.topics.get(tid) if tid is not None else None
    if found is None:
        raise TopicIdNotFound(f"topic {topic_key!r} not found in stream {s.id}")
    return found


def group(state: MetadataState, stream_key: Key, topic_key: Key, group_key: Key) -> ConsumerGroup:
    """Raises StreamIdNotFound, TopicIdNotFound or ConsumerGroupIdNotFound (5000)."""
    t = topic(state, stream_key, topic_key)
    gid = t.group_by_name.get(group_key) if isinstance(group_key, str) else group_key
    found = t.consumer_groups.get(gid) if gid is not None else None
    if found is None:
        raise ConsumerGroupIdNotFound(f"consumer group {group_key!r} not found in topic {t.id}")
    return found


def user(state: MetadataState, key: Key) -> User:
    """Raises ResourceNotFound (20), as Iggy does for users."""
    uid = state.user_by_name.get(key) if isinstance(key, str) else key
    found = state.users.get(uid) if uid is not None else None
    if found is None:
        raise ResourceNotFound(f"user {key!r} not found")
    return found


def partition(state: MetadataState, stream_key: Key, topic_key: Key, partition_id: int) -> Partition:
    """Raises StreamIdNotFound, TopicIdNotFound or PartitionNotFound (3007)."""
    t = topic(state, stream_key, topic_key)
    if not 0 <= partition_id < len(t.partitions):
        raise PartitionNotFound(f"partition {partition_id} not found in topic {t.id}")
    return t.partitions[partition_id]
