"""The shared handlers' (0.8-encoded) replies in the layouts 0.9 changed (protocol 0.9 §4).

Only streams, topics and users changed shape; every other reply is passed
through as it is. Topic headers carry the topic's options, read from the
metadata replica: the explicit ones as the client set them, the derived ones
resolved from the topic's settings and the catalog defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from whippet.node.dispatch import Reply
from whippet.wire import codes
from whippet.wire.responses import StreamDetails, TopicDetails
from whippet.wire.v09 import responses as r09
from whippet.wire.v09.options import derived_topic_options

if TYPE_CHECKING:
    from whippet.node.server import Node

__all__ = ["translate", "topic_view"]


def topic_view(node: Node, stream_id: int, topic_id: int) -> r09.TopicOptionsView:
    """(explicit, derived, expiry, max size) of a topic as 0.9 reports them."""
    with node.meta.lock:
        topic = node.meta.machine.topic(stream_id, topic_id)
        expiry = r09.no_limit(topic.message_expiry, node.config.topic_message_expiry_us)
        max_size = r09.no_limit(topic.max_topic_size, node.config.topic_max_size)
        derived = derived_topic_options(topic.options, topic.compression, expiry, max_size, topic.ack)
        return topic.options, derived, expiry, max_size


def _stream_id(node: Node, request: Any) -> int:
    with node.meta.lock:
        return node.meta.machine.stream(request.stream_id.value).id


def _joined(reply: Reply) -> bytes:
    return bytes(reply) if isinstance(reply, (bytes, bytearray, memoryview)) else b"".join(reply)


def translate(node: Node, code: int, request: Any, reply: Reply) -> Reply:
    """``reply`` of command ``code`` as a 0.9 client reads it."""
    if code not in _CHANGED:
        return reply
    payload = _joined(reply)
    if not payload:
        return b""
    return _CHANGED[code](node, request, payload)


def _get_stream(node: Node, request: Any, payload: bytes) -> bytes:
    details = StreamDetails.decode(payload)
    views = [topic_view(node, details.stream.id, t.id) for t in details.topics]
    return r09.stream_details(payload, views)


def _create_stream(node: Node, request: Any, payload: bytes) -> bytes:
    return r09.stream_response(payload)


def _get_topic(node: Node, request: Any, payload: bytes) -> bytes:
    topic_id = TopicDetails.decode(payload).topic.id
    return r09.topic_details(payload, topic_view(node, _stream_id(node, request), topic_id))


def _get_topics(node: Node, request: Any, payload: bytes) -> bytes:
    stream_id = _stream_id(node, request)
    ids = r09.topic_ids(payload, details=False)
    return r09.topics_list(payload, [topic_view(node, stream_id, t) for t in ids])


_CHANGED = {
    codes.GET_STREAM: _get_stream,
    codes.CREATE_STREAM: _create_stream,
    codes.GET_STREAMS: lambda node, request, payload: r09.streams_list(payload),
    codes.GET_TOPIC: _get_topic,
    codes.CREATE_TOPIC: _get_topic,
    codes.GET_TOPICS: _get_topics,
    codes.GET_USER: lambda node, request, payload: r09.user_details(payload),
    codes.CREATE_USER: lambda node, request, payload: r09.user_details(payload),
    codes.GET_USERS: lambda node, request, payload: r09.users_list(payload),
}
