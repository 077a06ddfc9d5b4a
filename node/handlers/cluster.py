"""Partition leadership for client routing (9001, whippet's own command).

The SDK asks once after connecting, again every few seconds and after a
not-leader answer, and then sends each partition's requests straight to the
node that leads it instead of paying a gRPC forward. The answer is read from
this node's metadata replica, which may lag the Raft leader by a few
milliseconds: a stale entry costs one forward or one not-leader retry, never a
wrong result, because every node still checks leadership itself.

Which topics are listed: those the caller may read, poll or send to. A producer
with only send rights needs the routes as much as a reader, and knowing where a
partition it may already write to lives tells it nothing new; topics it may not
touch at all are left out (asking for one by id is Unauthorized, as GetTopic is).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from whippet.metadata.permissions import can_poll, can_read_topic, can_send
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import allowed_topic, key, permissions
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.permissions import Permissions
from whippet.wire.responses import LeaderNode, PartitionLeader, PartitionLeaders, TopicLeaders

if TYPE_CHECKING:
    from whippet.metadata.model import Stream, Topic
    from whippet.node.server import Node
    from whippet.node.session import Session


def _may_route(perms: Permissions, stream_id: int, topic_id: int) -> bool:
    return (
        can_read_topic(perms, stream_id, topic_id)
        or can_poll(perms, stream_id, topic_id)
        or can_send(perms, stream_id, topic_id)
    )


def _topic_leaders(stream: Stream, topic: Topic) -> TopicLeaders:
    return TopicLeaders(
        stream_id=stream.id,
        topic_id=topic.id,
        stream_name=stream.name,
        topic_name=topic.name,
        partitions=[
            PartitionLeader(partition_id=p.id, leader_node_id=p.leader if p.leader >= 0 else None, epoch=p.epoch)
            for p in topic.partitions
        ],
    )


def _visible(node: Node, session: Session, req: rq.GetPartitionLeaders) -> Iterable[tuple[Stream, Topic]]:
    """The (stream, topic) pairs the request names and the caller may use (under the lock)."""
    machine = node.meta.machine
    if req.stream_id is not None and req.topic_id is not None:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, _may_route)
        return [(machine.stream(topic.stream_id), topic)]
    perms = permissions(node, session)
    streams = [machine.stream(key(req.stream_id))] if req.stream_id is not None else machine.streams()
    return [(s, t) for s in streams for t in s.topics.values() if _may_route(perms, s.id, t.id)]


@handler(codes.GET_PARTITION_LEADERS)
async def get_partition_leaders(node: Node, session: Session, req: rq.GetPartitionLeaders) -> Reply:
    with node.meta.lock:
        topics = [_topic_leaders(s, t) for s, t in _visible(node, session, req)]
        nodes = [LeaderNode(node_id=m.id, name=m.name) for m in node.meta.machine.nodes()]
    return PartitionLeaders(node_id=node.node_id, nodes=nodes, topics=topics).encode()
