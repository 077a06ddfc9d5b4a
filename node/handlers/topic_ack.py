"""A topic's producer ack level (9002 set, 9003 get; whippet's own commands).

The setting is replicated metadata (``Topic.ack``; "" = the node's default), so the
partition leader that answers a send, whichever node received it, reads the same
value. Setting it needs the right to manage the topic (as UpdateTopic does);
reading it, the right to read the topic (as GetTopic does). Unlike GetTopic, a
missing stream or topic is the not-found error, not an empty answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from whippet.metadata import commands as mc
from whippet.metadata.permissions import can_manage_topic, can_read_topic
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import allowed_topic
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.responses import TopicAck

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session


@handler(codes.SET_TOPIC_ACK)
async def set_topic_ack(node: Node, session: Session, req: rq.SetTopicAck) -> Reply:
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_manage_topic)
        sid, tid = topic.stream_id, topic.id
    await node.meta.propose(mc.SetTopicAck(stream_id=sid, topic_id=tid, ack=req.ack))
    return b""


@handler(codes.GET_TOPIC_ACK)
async def get_topic_ack(node: Node, session: Session, req: rq.GetTopicAck) -> Reply:
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_read_topic)
        ack = topic.ack
    return TopicAck(ack=ack, effective=ack or node.config.cluster_ack).encode()
