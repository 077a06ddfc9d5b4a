"""0.9 reply bodies (protocol 0.9 §1.4, §2.3, §4, §5.5, §8).

Replies that kept their 0.8 layout are passed through as the handlers encode
them. The ones that changed are re-encoded here from the 0.8 response objects
(:mod:`whippet.wire.responses`): streams and users gain an (empty) options
block, the topic header drops ``replication_factor`` and gains the explicit and
derived option blocks, GetTopics gains a count. Plus the new layouts: the result
section, the login reply, send confirmations, SyncConsumerGroup and the poll
routing answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from whippet.wire._codec import U64_MAX, Reader, Writer
from whippet.wire.primitives import encode_permissions
from whippet.wire.responses import (
    ClusterNode,
    StreamDetails,
    StreamInfo,
    TopicDetails,
    TopicInfo,
    UserDetails,
    UserInfo,
)
from whippet.wire.v09.header import PROTOCOL_VERSION
from whippet.wire.v09.options import OptionEntry, write_prefixed

__all__ = [
    "SERVER_VERSION",
    "TopicOptionsView",
    "confirmation",
    "login_reply",
    "result_error",
    "result_ok",
    "routing_reply",
    "stream_details",
    "stream_response",
    "streams_list",
    "sync_reply",
    "topic_details",
    "topic_ids",
    "no_limit",
    "topics_list",
    "user_details",
    "users_list",
]

#: what the login reply calls the server: the Iggy release whose protocol this is
SERVER_VERSION = "0.9.0"

#: a topic's (explicit, derived) options and its resolved expiry and max size
TopicOptionsView = tuple[Sequence[OptionEntry], Sequence[OptionEntry], int, int]


def result_ok(payload: bytes = b"") -> bytes:
    """A result section saying success (``count = 0``), then the typed payload."""
    return b"\0\0\0\0" + payload


def result_error(code: int) -> bytes:
    """A result section carrying a committed rejection: one entry, index 0, the error code."""
    return Writer().u32(1).u32(0).u32(code).getvalue()


def login_reply(user_id: int, session: int) -> bytes:
    """Register's payload (behind the result section): user, session, server protocol and version."""
    return Writer().u32(user_id).u64(session).u32(PROTOCOL_VERSION).name8(SERVER_VERSION).getvalue()


def _stream(w: Writer, info: StreamInfo) -> None:
    info.write(w)
    write_prefixed(w, ())


def _topic(w: Writer, info: TopicInfo, view: TopicOptionsView) -> None:
    explicit, derived, expiry, max_size = view
    w.u32(info.id).u64(info.created_at).u32(info.partitions_count)
    w.u64(expiry).u8(info.compression).u64(max_size)
    w.u64(info.size_bytes).u64(info.messages_count).name8(info.name)
    write_prefixed(w, explicit)
    write_prefixed(w, derived)


def stream_details(payload: bytes | memoryview, views: Sequence[TopicOptionsView]) -> bytes:
    """GetStream / CreateStream: StreamResponse + each topic's header (0.8 StreamDetails in)."""
    if not len(payload):
        return b""
    details = StreamDetails.decode(payload)
    w = Writer()
    _stream(w, details.stream)
    for info, view in zip(details.topics, views, strict=True):
        _topic(w, info, view)
    return w.getvalue()


def stream_response(payload: bytes | memoryview) -> bytes:
    """A lone 0.8 StreamInfo (the CreateStream reply) as a 0.9 StreamResponse with no topics."""
    w = Writer()
    _stream(w, StreamInfo.decode(payload))
    return w.getvalue()


def streams_list(payload: bytes | memoryview) -> bytes:
    r, w = Reader(payload), Writer()
    while r.remaining():
        _stream(w, StreamInfo.read(r))
    return w.getvalue()


def topic_details(payload: bytes | memoryview, view: TopicOptionsView) -> bytes:
    """GetTopic / CreateTopic: TopicHeader + partitions (0.8 TopicDetails in)."""
    if not len(payload):
        return b""
    details = TopicDetails.decode(payload)
    w = Writer()
    _topic(w, details.topic, view)
    for p in details.partitions:
        p.write(w)
    return w.getvalue()


def topics_list(payload: bytes | memoryview, views: Sequence[TopicOptionsView]) -> bytes:
    """GetTopics: now ``topics_count u32`` first."""
    r = Reader(payload)
    infos = []
    while r.remaining():
        infos.append(TopicInfo.read(r))
    w = Writer().u32(len(infos))
    for info, view in zip(infos, views, strict=True):
        _topic(w, info, view)
    return w.getvalue()


def topic_ids(payload: bytes | memoryview, *, details: bool) -> list[int]:
    """The topic ids a 0.8 GetStream (``details``) or GetTopics payload lists, in order."""
    if not len(payload):
        return []
    if details:
        return [t.id for t in StreamDetails.decode(payload).topics]
    r, out = Reader(payload), []
    while r.remaining():
        out.append(TopicInfo.read(r).id)
    return out


def _user(w: Writer, info: UserInfo) -> None:
    info.write(w)
    write_prefixed(w, ())


def user_details(payload: bytes | memoryview) -> bytes:
    if not len(payload):
        return b""
    details = UserDetails.decode(payload)
    w = Writer()
    _user(w, details.user)
    if details.permissions is None:
        w.u32(0)
    else:
        block = encode_permissions(details.permissions)
        w.u8(1).u32(len(block)).raw(block)
    return w.getvalue()


def users_list(payload: bytes | memoryview) -> bytes:
    r, w = Reader(payload), Writer()
    while r.remaining():
        _user(w, UserInfo.read(r))
    return w.getvalue()


def confirmation(stream_id: int, topic_id: int, partition_id: int, base_offset: int) -> bytes:
    """SendMessages reply: one confirmation (no result section)."""
    return Writer().u32(1).u32(stream_id).u32(topic_id).u32(partition_id).u64(base_offset).getvalue()


def sync_reply(generation: int, partitions: Sequence[int]) -> bytes:
    """SyncConsumerGroup: the calling member's generation and partitions."""
    w = Writer().u64(generation).u32(len(partitions))
    for p in partitions:
        w.u32(p)
    return w.getvalue()


def routing_reply(client_id: int, session: int, watermark: int, primary: ClusterNode) -> bytes:
    """GetPollRouting / GetConsumerOffsetRouting: the session to attach to and the primary."""
    w = Writer().u128(client_id).u64(session).u64(watermark)
    primary.write(w)
    return w.getvalue()


def no_limit(value: int, default: int) -> int:
    """A topic's expiry or max size as 0.9 reports it: 0 (the node's default) resolved, 0 = none."""
    resolved = value or default
    return resolved if resolved else U64_MAX
