"""Topic, partition and segment commands (300-305, 402-403, 503)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from whippet.metadata import commands as mc
from whippet.metadata.permissions import can_create_topic, can_manage_topic, can_read_topic
from whippet.node.clock import now_us
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import (
    TopicRequest,
    allowed_topic,
    checked_replication_factor,
    current_offset,
    key,
    lowest_stored_offset,
    permissions,
    require,
)
from whippet.node.handlers.streams import topic_info
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import InvalidTopicSize, StreamIdNotFound, TopicIdNotFound
from whippet.wire.responses import PartitionInfo, TopicDetails, encode_many

if TYPE_CHECKING:
    from whippet.metadata.model import Topic
    from whippet.node.server import Node
    from whippet.node.session import Session

_U64_MAX = (1 << 64) - 1


def partition_infos(node: Node, stream_id: int, topic: Topic) -> list[PartitionInfo]:
    out = []
    for p in topic.partitions:
        handle = node.partitions.find(stream_id, topic.id, p.id)
        segments = current = size = count = 0
        if handle is not None:
            plog = handle.log
            segments, current = plog.segments_count, current_offset(plog)
            size, count = plog.size_bytes, plog.messages_count
        out.append(
            PartitionInfo(
                id=p.id,
                created_at=p.created_at,
                segments_count=segments,
                current_offset=current,
                size_bytes=size,
                messages_count=count,
            )
        )
    return out


def topic_details(node: Node, stream_id: int, topic: Topic) -> bytes:
    return TopicDetails(
        topic=topic_info(node, stream_id, topic), partitions=partition_infos(node, stream_id, topic)
    ).encode()


def _check_max_size(node: Node, max_topic_size: int) -> None:
    if max_topic_size not in (0, _U64_MAX) and max_topic_size < node.config.storage_segment_size:
        raise InvalidTopicSize(
            f"max topic size {max_topic_size} is below the segment size {node.config.storage_segment_size}"
        )


@handler(codes.GET_TOPIC)
async def get_topic(node: Node, session: Session, req: rq.GetTopic) -> Reply:
    with node.meta.lock:
        perms = permissions(node, session)
        try:
            topic = node.meta.machine.topic(key(req.stream_id), key(req.topic_id))
        except (StreamIdNotFound, TopicIdNotFound):
            return b""
        require(can_read_topic(perms, topic.stream_id, topic.id))
        return topic_details(node, topic.stream_id, topic)


@handler(codes.GET_TOPICS)
async def get_topics(node: Node, session: Session, req: rq.GetTopics) -> Reply:
    with node.meta.lock:
        perms = permissions(node, session)
        try:
            stream = node.meta.machine.stream(key(req.stream_id))
        except StreamIdNotFound:
            return b""
        require(can_read_topic(perms, stream.id))
        return encode_many(topic_info(node, stream.id, t) for _, t in sorted(stream.topics.items()))


@handler(codes.CREATE_TOPIC)
async def create_topic(node: Node, session: Session, req: rq.CreateTopic) -> Reply:
    with node.meta.lock:
        perms = permissions(node, session)
        stream = node.meta.machine.stream(key(req.stream_id))
        require(can_create_topic(perms, stream.id))
        replication_factor = checked_replication_factor(node, req.replication_factor)
    _check_max_size(node, req.max_topic_size)
    topic_id = await node.meta.propose(
        mc.CreateTopic(
            stream_id=stream.id,
            name=req.name,
            partitions_count=req.partitions_count,
            compression=req.compression,
            message_expiry=req.message_expiry,
            max_topic_size=req.max_topic_size,
            replication_factor=replication_factor,
            created_at=now_us(),
            options=req.options,
            ack=req.ack,
        )
    )
    with node.meta.lock:
        return topic_details(node, stream.id, node.meta.machine.topic(stream.id, topic_id))


def _resolve_managed(node: Node, session: Session, req: TopicRequest) -> tuple[int, int]:
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_manage_topic)
        return topic.stream_id, topic.id


@handler(codes.DELETE_TOPIC)
async def delete_topic(node: Node, session: Session, req: rq.DeleteTopic) -> Reply:
    sid, tid = _resolve_managed(node, session, req)
    await node.meta.propose(mc.DeleteTopic(stream_id=sid, topic_id=tid))
    return b""


@handler(codes.UPDATE_TOPIC)
async def update_topic(node: Node, session: Session, req: rq.UpdateTopic) -> Reply:
    sid, tid = _resolve_managed(node, session, req)
    _check_max_size(node, req.max_topic_size)
    with node.meta.lock:
        replication_factor = checked_replication_factor(node, req.replication_factor)
    await node.meta.propose(
        mc.UpdateTopic(
            stream_id=sid,
            topic_id=tid,
            name=req.name,
            compression=req.compression,
            message_expiry=req.message_expiry,
            max_topic_size=req.max_topic_size,
            replication_factor=replication_factor,
            options=req.options,
        )
    )
    return b""


@handler(codes.PURGE_TOPIC)
async def purge_topic(node: Node, session: Session, req: rq.PurgeTopic) -> Reply:
    sid, tid = _resolve_managed(node, session, req)
    await node.meta.propose(mc.PurgeTopic(stream_id=sid, topic_id=tid))
    return b""


@handler(codes.CREATE_PARTITIONS)
async def create_partitions(node: Node, session: Session, req: rq.CreatePartitions) -> Reply:
    sid, tid = _resolve_managed(node, session, req)
    await node.meta.propose(
        mc.CreatePartitions(stream_id=sid, topic_id=tid, count=req.partitions_count, created_at=now_us())
    )
    return b""


@handler(codes.DELETE_PARTITIONS)
async def delete_partitions(node: Node, session: Session, req: rq.DeletePartitions) -> Reply:
    sid, tid = _resolve_managed(node, session, req)
    await node.meta.propose(mc.DeletePartitions(stream_id=sid, topic_id=tid, count=req.partitions_count))
    return b""


@handler(codes.DELETE_SEGMENTS)
async def delete_segments(node: Node, session: Session, req: rq.DeleteSegments) -> Reply:
    sid, tid = _resolve_managed(node, session, req)
    handle = node.partitions.get(sid, tid, req.partition_id)
    handle.log.delete_oldest_segments(req.segments_count, lowest_stored_offset(node, sid, tid, req.partition_id))
    return b""
