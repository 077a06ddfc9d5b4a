"""Consumer offsets (120-122), kept in the replicated metadata so a failover keeps them."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from whippet.metadata import commands as mc
from whippet.metadata.permissions import can_poll
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import TopicRequest, allowed_topic, current_offset
from whippet.node.handlers.consumers import resolve_for_offsets
from whippet.node.handlers.messages import store_offset_command
from whippet.node.routing import forward
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import InvalidOffset, StreamIdNotFound, TopicIdNotFound
from whippet.wire.responses import ConsumerOffsetInfo

if TYPE_CHECKING:
    from whippet.metadata.model import Topic
    from whippet.node.server import Node
    from whippet.node.session import Session


def _topic(node: Node, session: Session, req: TopicRequest) -> Topic:
    return allowed_topic(node, session, req.stream_id, req.topic_id, can_poll)


@handler(codes.GET_CONSUMER_OFFSET)
async def get_consumer_offset(node: Node, session: Session, req: rq.GetConsumerOffset) -> Reply:
    # The permission first: the barrier below is a Raft entry, which a refused read must not
    # cost (a user without permissions could otherwise grow the metadata log at will).
    with node.meta.lock:
        try:
            _topic(node, session, req)
        except (StreamIdNotFound, TopicIdNotFound):
            return b""
    # Linearizable: an offset stored through any node before this read is visible here
    # (the store may have been applied on the partition leader's node only so far).
    await node.meta.barrier()
    with node.meta.lock:
        try:
            topic = _topic(node, session, req)
        except (StreamIdNotFound, TopicIdNotFound):
            return b""
        who = resolve_for_offsets(node, session, req.consumer, topic, req.partition_id, need_membership=False)
        assert who.partition_id is not None
        stored = topic.partitions[who.partition_id].offsets.get((who.kind, who.consumer_id))
    if stored is None:
        return b""
    plog = node.partitions.local_log(topic.stream_id, topic.id, who.partition_id)
    return ConsumerOffsetInfo(
        partition_id=who.partition_id,
        current_offset=current_offset(plog) if plog is not None else stored,
        stored_offset=stored,
    ).encode()


@handler(codes.STORE_CONSUMER_OFFSET)
async def store_consumer_offset(node: Node, session: Session, req: rq.StoreConsumerOffset) -> Reply:
    with node.meta.lock:
        topic = _topic(node, session, req)
        who = resolve_for_offsets(node, session, req.consumer, topic, req.partition_id, need_membership=True)
        assert who.partition_id is not None
        leader = topic.partitions[who.partition_id].leader
    if leader != node.node_id:  # the log to check the offset against lives on the leader
        pinned = replace(req, partition_id=who.partition_id)
        return await forward(node, session, leader, codes.STORE_CONSUMER_OFFSET, pinned.encode())
    plog = node.partitions.get(topic.stream_id, topic.id, who.partition_id).log
    if plog.next_offset == 0 or req.offset > current_offset(plog):
        raise InvalidOffset(f"offset {req.offset} is beyond the partition's current offset")
    pkey = (topic.stream_id, topic.id, who.partition_id)
    await node.meta.propose(store_offset_command(node, pkey, who.kind, who.consumer_id, req.offset))
    return b""


@handler(codes.DELETE_CONSUMER_OFFSET)
async def delete_consumer_offset(node: Node, session: Session, req: rq.DeleteConsumerOffset) -> Reply:
    with node.meta.lock:
        topic = _topic(node, session, req)
        who = resolve_for_offsets(node, session, req.consumer, topic, req.partition_id, need_membership=True)
    assert who.partition_id is not None
    await node.meta.propose(
        mc.DeleteConsumerOffset(
            stream_id=topic.stream_id, topic_id=topic.id, partition_id=who.partition_id,
            kind=who.kind, consumer_id=who.consumer_id,
        )
    )
    return b""
