"""Consumer offsets (120-122), stored beside the partition's log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import current_offset, key, permissions, require
from whippet.node.handlers.consumers import resolve_for_offsets
from whippet.wire import codes, requests as rq
from whippet.wire.errors import ConsumerOffsetNotFound, InvalidOffset, StreamIdNotFound, TopicIdNotFound
from whippet.wire.responses import ConsumerOffsetInfo

if TYPE_CHECKING:
    from whippet.metadata.model import Topic
    from whippet.node.server import Node
    from whippet.node.session import Session


def _topic(node: Node, session: Session, req: rq.GetConsumerOffset) -> Topic:
    perms = permissions(node, session)
    topic = node.meta.machine.topic(key(req.stream_id), key(req.topic_id))
    require(perms.can_poll(topic.stream_id, topic.id))
    return topic


@handler(codes.GET_CONSUMER_OFFSET)
async def get_consumer_offset(node: Node, session: Session, req: rq.GetConsumerOffset) -> Reply:
    with node.meta.lock:
        try:
            topic = _topic(node, session, req)
        except (StreamIdNotFound, TopicIdNotFound):
            return b""
        who = resolve_for_offsets(node, session, req.consumer, topic, req.partition_id, need_membership=False)
    assert who.partition_id is not None
    handle = node.partitions.get(topic.stream_id, topic.id, who.partition_id)
    stored = handle.offsets.get(who.kind, who.consumer_id)
    if stored is None:
        return b""
    return ConsumerOffsetInfo(
        partition_id=who.partition_id, current_offset=current_offset(handle.log), stored_offset=stored
    ).encode()


@handler(codes.STORE_CONSUMER_OFFSET)
async def store_consumer_offset(node: Node, session: Session, req: rq.StoreConsumerOffset) -> Reply:
    with node.meta.lock:
        topic = _topic(node, session, req)
        who = resolve_for_offsets(node, session, req.consumer, topic, req.partition_id, need_membership=True)
    assert who.partition_id is not None
    handle = node.partitions.get(topic.stream_id, topic.id, who.partition_id)
    if handle.log.next_offset == 0 or req.offset > current_offset(handle.log):
        raise InvalidOffset(f"offset {req.offset} is beyond the partition's current offset")
    handle.offsets.store(who.kind, who.consumer_id, req.offset)
    return b""


@handler(codes.DELETE_CONSUMER_OFFSET)
async def delete_consumer_offset(node: Node, session: Session, req: rq.DeleteConsumerOffset) -> Reply:
    with node.meta.lock:
        topic = _topic(node, session, req)
        who = resolve_for_offsets(node, session, req.consumer, topic, req.partition_id, need_membership=True)
    assert who.partition_id is not None
    handle = node.partitions.get(topic.stream_id, topic.id, who.partition_id)
    if not handle.offsets.delete(who.kind, who.consumer_id):
        raise ConsumerOffsetNotFound()
    return b""
