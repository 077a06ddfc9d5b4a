"""Consumer groups (600-605). Membership lives in replicated metadata, keyed by
(node id, client id), so every node agrees on who owns which partition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from whippet.metadata import commands as mc
from whippet.metadata.permissions import can_read_topic
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import GroupRequest, TopicRequest, allowed_topic, key
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import ConsumerGroupIdNotFound, StreamIdNotFound, TopicIdNotFound
from whippet.wire.responses import (
    NO_MEMBER,
    ConsumerAssignment,
    ConsumerGroupDetails,
    ConsumerGroupInfo,
    ConsumerGroupMember,
    encode_many,
)

if TYPE_CHECKING:
    from whippet.metadata.model import ConsumerGroup, Topic
    from whippet.node.server import Node
    from whippet.node.session import Session

_MISSING = (StreamIdNotFound, TopicIdNotFound, ConsumerGroupIdNotFound)


def group_info(topic: Topic, group: ConsumerGroup) -> ConsumerGroupInfo:
    return ConsumerGroupInfo(
        id=group.id, partitions_count=len(topic.partitions), members_count=len(group.members), name=group.name
    )


def group_details(topic: Topic, group: ConsumerGroup) -> bytes:
    members = [
        ConsumerGroupMember(id=m.id, partitions=sorted(m.partitions))
        for _, m in sorted(group.members.items())
    ]
    return ConsumerGroupDetails(group=group_info(topic, group), members=members).encode()


def _topic(node: Node, session: Session, req: TopicRequest) -> Topic:
    return allowed_topic(node, session, req.stream_id, req.topic_id, can_read_topic)


@handler(codes.GET_CONSUMER_GROUP)
async def get_consumer_group(node: Node, session: Session, req: rq.GetConsumerGroup) -> Reply:
    with node.meta.lock:
        try:
            topic = _topic(node, session, req)
            group = node.meta.machine.group(topic.stream_id, topic.id, key(req.group_id))
        except _MISSING:
            return b""
        return group_details(topic, group)


@handler(codes.GET_CONSUMER_ASSIGNMENT)
async def get_consumer_assignment(node: Node, session: Session, req: rq.GetConsumerAssignment) -> Reply:
    """whippet's own (9006): this session's member id and partitions (the group must exist)."""
    with node.meta.lock:
        topic = _topic(node, session, req)
        member = node.meta.machine.member(
            topic.stream_id, topic.id, key(req.group_id), session.node_id, session.client_id
        )
        if member is None:
            return ConsumerAssignment(member_id=NO_MEMBER, partitions=[]).encode()
        return ConsumerAssignment(member_id=member.id, partitions=sorted(member.partitions)).encode()


@handler(codes.GET_CONSUMER_GROUPS)
async def get_consumer_groups(node: Node, session: Session, req: rq.GetConsumerGroups) -> Reply:
    with node.meta.lock:
        try:
            topic = _topic(node, session, req)
        except (StreamIdNotFound, TopicIdNotFound):
            return b""
        return encode_many(group_info(topic, g) for _, g in sorted(topic.consumer_groups.items()))


@handler(codes.CREATE_CONSUMER_GROUP)
async def create_consumer_group(node: Node, session: Session, req: rq.CreateConsumerGroup) -> Reply:
    with node.meta.lock:
        topic = _topic(node, session, req)
    group_id = await node.meta.propose(
        mc.CreateConsumerGroup(stream_id=topic.stream_id, topic_id=topic.id, name=req.name)
    )
    with node.meta.lock:
        topic = node.meta.machine.topic(topic.stream_id, topic.id)
        return group_details(topic, node.meta.machine.group(topic.stream_id, topic.id, group_id))


def _resolve(node: Node, session: Session, req: GroupRequest) -> tuple[int, int, int]:
    with node.meta.lock:
        topic = _topic(node, session, req)
        group = node.meta.machine.group(topic.stream_id, topic.id, key(req.group_id))
        return topic.stream_id, topic.id, group.id


@handler(codes.DELETE_CONSUMER_GROUP)
async def delete_consumer_group(node: Node, session: Session, req: rq.DeleteConsumerGroup) -> Reply:
    sid, tid, gid = _resolve(node, session, req)
    await node.meta.propose(mc.DeleteConsumerGroup(stream_id=sid, topic_id=tid, group_id=gid))
    return b""


@handler(codes.JOIN_CONSUMER_GROUP)
async def join_consumer_group(node: Node, session: Session, req: rq.JoinConsumerGroup) -> Reply:
    sid, tid, gid = _resolve(node, session, req)
    await node.meta.propose(
        mc.JoinConsumerGroup(stream_id=sid, topic_id=tid, group_id=gid, node_id=session.node_id, client_id=session.client_id)
    )
    return b""


@handler(codes.LEAVE_CONSUMER_GROUP)
async def leave_consumer_group(node: Node, session: Session, req: rq.LeaveConsumerGroup) -> Reply:
    sid, tid, gid = _resolve(node, session, req)
    await node.meta.propose(
        mc.LeaveConsumerGroup(stream_id=sid, topic_id=tid, group_id=gid, node_id=session.node_id, client_id=session.client_id)
    )
    session.group_cursor.pop((sid, tid, gid), None)
    session.group_current.pop((sid, tid, gid), None)
    return b""
