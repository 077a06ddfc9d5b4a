"""Lookups every handler needs: names/ids to metadata objects, the caller's permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from whippet.wire.errors import InvalidReplicationFactor, Unauthorized
from whippet.wire.permissions import Permissions
from whippet.wire.primitives import Identifier

if TYPE_CHECKING:
    from whippet.metadata.model import Stream, Topic
    from whippet.node.server import Node
    from whippet.node.session import Session
    from whippet.storage.log import PartitionLog

__all__ = [
    "GroupRequest",
    "TopicRequest",
    "allowed_topic",
    "checked_replication_factor",
    "current_offset",
    "key",
    "lowest_stored_offset",
    "permissions",
    "real_replication_factor",
    "require",
    "stream_stats",
    "topic_stats",
]

_NONE = Permissions()


class TopicRequest(Protocol):
    """Any request that names a topic (the handlers' shared lookups take this)."""

    @property
    def stream_id(self) -> Identifier: ...

    @property
    def topic_id(self) -> Identifier: ...


class GroupRequest(TopicRequest, Protocol):
    """Any request that names a consumer group."""

    @property
    def group_id(self) -> Identifier: ...


def current_offset(plog: PartitionLog) -> int:
    """The protocol's ``current_offset``: the highest offset held, 0 when empty."""
    return plog.next_offset - 1 if plog.next_offset else 0


def lowest_stored_offset(node: Node, stream_id: int, topic_id: int, partition_id: int) -> int | None:
    """The consumer barrier of retention: the lowest offset any consumer or group stored."""
    with node.meta.lock:
        offsets = node.meta.machine.partition(stream_id, topic_id, partition_id).offsets
        return min(offsets.values()) if offsets else None


def key(identifier: Identifier) -> int | str:
    """The metadata lookup key of a wire identifier."""
    return identifier.value


def permissions(node: Node, session: Session) -> Permissions:
    """The session user's permissions (no flags at all when the user has none)."""
    user = node.meta.machine.user(session.require_user())
    return user.permissions or _NONE


def allowed_topic(
    node: Node,
    session: Session,
    stream_id: Identifier,
    topic_id: Identifier,
    check: Callable[[Permissions, int, int], bool],
) -> Topic:
    """The topic a command names, once ``check(permissions, stream, topic)`` allows it
    (call under ``node.meta.lock``). Raises the not-found or Unauthorized error."""
    perms = permissions(node, session)
    topic = node.meta.machine.topic(key(stream_id), key(topic_id))
    require(check(perms, topic.stream_id, topic.id))
    return topic


def require(allowed: bool) -> None:
    if not allowed:
        raise Unauthorized()


def topic_stats(node: Node, stream_id: int, topic: Topic) -> tuple[int, int]:
    """(size_bytes, messages_count) of a topic's partitions on this node."""
    size = count = 0
    for handle in node.partitions.of_topic(stream_id, topic.id):
        size += handle.log.size_bytes
        count += handle.log.messages_count
    return size, count


def stream_stats(node: Node, stream: Stream) -> tuple[int, int]:
    size = count = 0
    for topic in stream.topics.values():
        s, c = topic_stats(node, stream.id, topic)
        size += s
        count += c
    return size, count


def real_replication_factor(node: Node, topic: Topic) -> int:
    """The factor a topic really has (call under the metadata lock): its setting, capped at the
    nodes the metadata knows. New topics never ask for more (:func:`checked_replication_factor`);
    one created before that check may, and its partitions were placed on fewer nodes."""
    return min(topic.replication_factor, max(1, len(node.meta.machine.nodes())))


def checked_replication_factor(node: Node, requested: int) -> int:
    """The factor to create or update a topic with (call under the metadata lock).

    0 asks for the node's ``topic_replication_factor``, capped at the node count; an
    explicit factor above the nodes the metadata knows is refused, since there are
    not that many nodes to hold the replicas.

    Raises:
        InvalidReplicationFactor: ``requested`` is above the node count.
    """
    nodes = max(1, len(node.meta.machine.nodes()))
    if requested == 0:
        return min(node.config.topic_replication_factor, nodes)
    if requested > nodes:
        raise InvalidReplicationFactor(
            f"replication factor {requested} is above the {nodes} node{'s' if nodes > 1 else ''} of this cluster"
        )
    return requested
