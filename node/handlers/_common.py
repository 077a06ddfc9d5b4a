"""Lookups every handler needs: names/ids to metadata objects, the caller's permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from whippet.wire.errors import Unauthorized
from whippet.wire.permissions import Permissions
from whippet.wire.primitives import Identifier

if TYPE_CHECKING:
    from whippet.metadata.model import Stream, Topic
    from whippet.node.server import Node
    from whippet.node.session import Session
    from whippet.storage.log import PartitionLog

__all__ = ["GroupRequest", "TopicRequest", "allowed_topic", "current_offset", "key", "lowest_stored_offset", "permissions", "require", "stream_stats", "topic_stats"]

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
