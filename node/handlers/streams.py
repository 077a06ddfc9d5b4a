"""Stream commands (200-205)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from whippet.metadata import commands as mc
from whippet.metadata.permissions import (
    can_create_stream,
    can_list_streams,
    can_manage_stream,
    can_read_stream,
)
from whippet.node.clock import now_us
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import (
    key,
    permissions,
    real_replication_factor,
    require,
    stream_stats,
    topic_stats,
)
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import StreamIdNotFound
from whippet.wire.responses import StreamDetails, StreamInfo, TopicInfo, encode_many

if TYPE_CHECKING:
    from whippet.metadata.model import Stream, Topic
    from whippet.node.server import Node
    from whippet.node.session import Session


def stream_info(node: Node, stream: Stream) -> StreamInfo:
    size, count = stream_stats(node, stream)
    return StreamInfo(
        id=stream.id,
        created_at=stream.created_at,
        topics_count=len(stream.topics),
        size_bytes=size,
        messages_count=count,
        name=stream.name,
    )


def topic_info(node: Node, stream_id: int, topic: Topic) -> TopicInfo:
    size, count = topic_stats(node, stream_id, topic)
    return TopicInfo(
        id=topic.id,
        created_at=topic.created_at,
        partitions_count=len(topic.partitions),
        message_expiry=topic.message_expiry,
        compression=topic.compression,
        max_topic_size=topic.max_topic_size,
        replication_factor=real_replication_factor(node, topic),
        size_bytes=size,
        messages_count=count,
        name=topic.name,
    )


@handler(codes.GET_STREAM)
async def get_stream(node: Node, session: Session, req: rq.GetStream) -> Reply:
    with node.meta.lock:
        perms = permissions(node, session)
        try:
            stream = node.meta.machine.stream(key(req.stream_id))
        except StreamIdNotFound:
            return b""
        require(can_read_stream(perms, stream.id))
        topics = [topic_info(node, stream.id, t) for _, t in sorted(stream.topics.items())]
        return StreamDetails(stream=stream_info(node, stream), topics=topics).encode()


@handler(codes.GET_STREAMS)
async def get_streams(node: Node, session: Session, req: rq.GetStreams) -> Reply:
    with node.meta.lock:
        require(can_list_streams(permissions(node, session)))
        return encode_many(stream_info(node, s) for s in node.meta.machine.streams())


@handler(codes.CREATE_STREAM)
async def create_stream(node: Node, session: Session, req: rq.CreateStream) -> Reply:
    with node.meta.lock:
        require(can_create_stream(permissions(node, session)))
    stream_id = await node.meta.propose(mc.CreateStream(name=req.name, created_at=now_us()))
    with node.meta.lock:
        return stream_info(node, node.meta.machine.stream(stream_id)).encode()


def _resolve_managed(node: Node, session: Session, stream_key: int | str) -> int:
    with node.meta.lock:
        perms = permissions(node, session)
        stream = node.meta.machine.stream(stream_key)
        require(can_manage_stream(perms, stream.id))
        return stream.id


@handler(codes.DELETE_STREAM)
async def delete_stream(node: Node, session: Session, req: rq.DeleteStream) -> Reply:
    stream_id = _resolve_managed(node, session, key(req.stream_id))
    await node.meta.propose(mc.DeleteStream(stream_id=stream_id))
    return b""


@handler(codes.UPDATE_STREAM)
async def update_stream(node: Node, session: Session, req: rq.UpdateStream) -> Reply:
    stream_id = _resolve_managed(node, session, key(req.stream_id))
    await node.meta.propose(mc.UpdateStream(stream_id=stream_id, name=req.name))
    return b""


@handler(codes.PURGE_STREAM)
async def purge_stream(node: Node, session: Session, req: rq.PurgeStream) -> Reply:
    stream_id = _resolve_managed(node, session, key(req.stream_id))
    await node.meta.propose(mc.PurgeStream(stream_id=stream_id))
    return b""
