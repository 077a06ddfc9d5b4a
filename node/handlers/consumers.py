"""Who is consuming: resolve a wire ``Consumer`` to (kind, numeric id, partition).

Kind 1 (a plain consumer) is not registered anywhere: a numeric id is used as is,
a name becomes XXH32 of its bytes, as in Iggy 0.8. Kind 2 (a consumer group) must
have been joined by this session; the group's members own partitions, and a poll
without a partition id walks the member's partitions round-robin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import xxhash

from whippet.wire.errors import ConsumerGroupMemberNotFound, NotResolvedConsumer, PartitionNotFound
from whippet.wire.primitives import Consumer, ConsumerKind, Identifier

if TYPE_CHECKING:
    from whippet.metadata.model import Topic
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["Resolved", "consumer_id", "resolve_for_offsets", "resolve_for_poll"]


@dataclass(frozen=True, slots=True)
class Resolved:
    kind: int
    consumer_id: int
    partition_id: int | None  # None: nothing to read (a member owning no or other partitions)


def consumer_id(identifier: Identifier) -> int:
    value = identifier.value
    if isinstance(value, int):
        return value
    return xxhash.xxh32_intdigest(value.encode())


def _check_partition(topic: Topic, partition_id: int) -> None:
    if not 0 <= partition_id < len(topic.partitions):
        raise PartitionNotFound()


def resolve_for_poll(
    node: Node, session: Session, consumer: Consumer, topic: Topic, partition_id: int | None
) -> Resolved:
    """Call with ``node.meta.lock`` held."""
    if consumer.kind == ConsumerKind.CONSUMER:
        pid = 0 if partition_id is None else partition_id
        _check_partition(topic, pid)
        return Resolved(1, consumer_id(consumer.id), pid)
    group = node.meta.machine.group(topic.stream_id, topic.id, consumer.id.value)
    member = node.meta.machine.member(topic.stream_id, topic.id, group.id, *session.member())
    if member is None:
        raise ConsumerGroupMemberNotFound()
    owned = sorted(member.partitions)
    if partition_id is not None:
        return Resolved(2, group.id, partition_id if partition_id in owned else None)
    if not owned:
        return Resolved(2, group.id, None)
    cursor_key = (topic.stream_id, topic.id, group.id)
    i = session.group_cursor.get(cursor_key, 0)
    session.group_cursor[cursor_key] = i + 1
    pid = owned[i % len(owned)]
    session.group_current[cursor_key] = pid  # the member's current partition
    return Resolved(2, group.id, pid)


def resolve_for_offsets(
    node: Node,
    session: Session,
    consumer: Consumer,
    topic: Topic,
    partition_id: int | None,
    need_membership: bool,
) -> Resolved:
    """Consumer-offset commands; call with ``node.meta.lock`` held.

    Group store/delete need membership and an owned partition (3022 otherwise);
    group get needs neither (Iggy 0.8).
    """
    if consumer.kind == ConsumerKind.CONSUMER:
        pid = 0 if partition_id is None else partition_id
        _check_partition(topic, pid)
        return Resolved(1, consumer_id(consumer.id), pid)
    group = node.meta.machine.group(topic.stream_id, topic.id, consumer.id.value)
    if not need_membership:
        pid = 0 if partition_id is None else partition_id
        _check_partition(topic, pid)
        return Resolved(2, group.id, pid)
    member = node.meta.machine.member(topic.stream_id, topic.id, group.id, *session.member())
    if member is None:
        raise ConsumerGroupMemberNotFound()
    if partition_id is None:
        partition_id = session.group_current.get((topic.stream_id, topic.id, group.id))
        if partition_id is None and member.partitions:
            partition_id = min(member.partitions)
    if partition_id is None or partition_id not in member.partitions:
        raise NotResolvedConsumer()
    return Resolved(2, group.id, partition_id)
