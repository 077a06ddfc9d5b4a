"""Commands a 0.9 client sends that need more than the shared handler (protocol 0.9 §4-§8).

- **Send** (160): the 0.9 batch becomes a ``SendBatch`` of 0.8 records
  (``wire.v09.batch``) and goes through ``append_batch`` like every send; the
  reply confirms the partition and base offset.
- **Poll** (100, and 104 on a data connection): the shared poll building blocks
  pick the partition and the offsets; the records are read with their index
  ends and re-encoded as 0.9 batches. A partition led elsewhere is polled there
  through whippet's own ``POLL_MESSAGES_V09`` (9005), so the leader does the
  conversion.
- **Groups**: SyncConsumerGroup answers the member's generation and partitions;
  a group poll or offset write naming a partition the member does not own is
  fenced with 5009, so the SDK re-syncs.
- **Routing** (103, 123, 14): a partition's primary is its whippet leader; the
  routing answer hands out the member identity to attach to, tagged with a MAC
  only the same user can present.
- **DescribeOptions** (13): the option catalogs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from whippet.metadata.permissions import can_poll, can_send
from whippet.node import encryption
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import allowed_topic, key
from whippet.node.handlers.consumers import resolve_for_poll
from whippet.node.handlers.messages import append_batch, commit_polled, poll_window
from whippet.node.routing import forward, on_leader
from whippet.node.v09.session import attach_tag, counters
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.batch import RECORD_HEADER_SIZE
from whippet.wire.errors import ConsumerGroupMemberNotFound, IggyError, Unauthenticated
from whippet.wire.primitives import ConsumerKind, PartitioningKind
from whippet.wire.responses import ClusterNode, PolledHead
from whippet.wire.v09 import requests as r09
from whippet.wire.v09 import responses as out09
from whippet.wire.v09.batch import encode_poll_batches, parse_send_messages
from whippet.wire.v09.errors import ConsumerGroupPartitionNotOwned, TransientNotAccepted
from whippet.wire.v09.options import catalog, encode_describe

if TYPE_CHECKING:
    from whippet.metadata.model import Topic
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["COMMANDS", "poll", "send"]

_LENGTHS_AT = 48  # user_headers_length, payload_length in a 0.8 record header


async def send(node: Node, session: Session, body: memoryview) -> bytes:
    """SendMessages (160): append, then confirm where the batch went."""
    batch = parse_send_messages(body)
    if batch.partitioning.kind == PartitioningKind.PARTITION_ID:
        pid = int.from_bytes(batch.partitioning.value, "little")
        with node.meta.lock:
            topic = allowed_topic(node, session, batch.stream_id, batch.topic_id, can_send)
            if pid < len(topic.partitions) and topic.partitions[pid].leader < 0:
                raise TransientNotAccepted("the partition has no leader yet")
    appended = await append_batch(node, session, batch)
    if appended.stored == 0:
        return b""  # every message was a duplicate: no confirmation, as upstream
    with node.meta.lock:
        topic = node.meta.machine.topic(key(batch.stream_id), key(batch.topic_id))
        return out09.confirmation(topic.stream_id, topic.id, appended.partition_id, appended.first_offset)


def _fence(node: Node, session: Session, req: Any, topic: Topic) -> None:
    """A group request naming a partition the member does not own: 5009 (call under the lock)."""
    if req.consumer.kind != ConsumerKind.CONSUMER_GROUP or req.partition_id is None:
        return
    group = node.meta.machine.group(topic.stream_id, topic.id, req.consumer.id.value)
    member = node.meta.machine.member(topic.stream_id, topic.id, group.id, *session.member())
    if member is None:
        raise ConsumerGroupMemberNotFound()
    if req.partition_id not in member.partitions:
        raise ConsumerGroupPartitionNotOwned(f"partition {req.partition_id} is not assigned to this member")


async def _see_member(node: Node, session: Session, req: Any) -> None:
    """On a routed data connection, catch this replica up (barrier) when it does not know the
    coordinator's group membership yet: it was made through the leader a moment ago."""
    if session.member_of is None or req.consumer.kind != ConsumerKind.CONSUMER_GROUP or node.meta.is_leader:
        return
    with node.meta.lock:
        try:
            topic = node.meta.machine.topic(key(req.stream_id), key(req.topic_id))
            group = node.meta.machine.group(topic.stream_id, topic.id, req.consumer.id.value)
            known = node.meta.machine.member(topic.stream_id, topic.id, group.id, *session.member()) is not None
        except IggyError:
            known = False
    if not known:
        await node.meta.barrier()


def _record_ends(data: bytes | bytearray | memoryview, count: int) -> np.ndarray:
    """End of each record when no index says it (decrypted bodies changed lengths)."""
    view = memoryview(data)
    ends = np.empty(count, dtype=np.uint32)
    pos = 0
    for i in range(count):
        h = int.from_bytes(view[pos + _LENGTHS_AT : pos + _LENGTHS_AT + 4], "little")
        p = int.from_bytes(view[pos + _LENGTHS_AT + 4 : pos + _LENGTHS_AT + 8], "little")
        pos += RECORD_HEADER_SIZE + h + p
        ends[i] = pos
    return ends


async def poll(node: Node, session: Session, req: rq.PollMessages) -> Reply:
    """PollMessages for a 0.9 client: the 16-byte head, then 0.9 batch records."""
    await _see_member(node, session, req)
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_poll)
        _fence(node, session, req, topic)
        who = resolve_for_poll(node, session, req.consumer, topic, req.partition_id)
        if who.partition_id is None:
            return PolledHead(partition_id=0, current_offset=0, count=0).encode()
        stored = topic.partitions[who.partition_id].offsets.get((who.kind, who.consumer_id))
        pkey = (topic.stream_id, topic.id, who.partition_id)
        leader = topic.partitions[who.partition_id].leader
    if leader < 0:
        raise TransientNotAccepted("the partition has no leader yet")

    async def attempt(leader: int) -> Reply:
        if leader != node.node_id:  # the leader converts: it has the record ends at hand
            pinned = replace(req, partition_id=pkey[2])
            return await forward(node, session, leader, codes.POLL_MESSAGES_V09, pinned.encode())
        return await _poll_here(node, req, pkey, stored, who.kind, who.consumer_id)

    return await on_leader(node, pkey, attempt, repeatable=True)


async def _poll_here(node: Node, req: rq.PollMessages, pkey: tuple[int, int, int], stored: int | None,
                     kind: int, consumer_id: int) -> Reply:  # fmt: skip
    plog, head, start, count = poll_window(node, req, pkey, stored)
    if not count:
        return head.encode()
    read, ends = plog.read_with_ends(start, count)
    if read.count == 0:
        return head.encode()
    data = memoryview(read.data)
    if (cipher := encryption.for_reading(node)) is not None:
        data = memoryview(cipher.decrypt_records(data, read.count))
        ends = _record_ends(data, read.count)
    batches = encode_poll_batches(data, ends, pkey[2])
    if req.auto_commit:
        await commit_polled(node, pkey, kind, consumer_id, read.first_offset + read.count - 1)
    node.metrics.messages_out.inc(read.count)
    node.metrics.bytes_out.inc(len(read.data))
    head = replace(head, count=read.count)
    return [head.encode(), *batches.parts]


@handler(codes.POLL_MESSAGES_V09)
async def poll_messages_v09(node: Node, session: Session, req: rq.PollMessages) -> Reply:
    """whippet's 9005: a 0.9 poll forwarded to the partition leader (its reply is the 0.9 body)."""
    return await poll(node, session, req)


async def offset_write(node: Node, session: Session, code: int, req: Any) -> Reply:
    """Store/DeleteConsumerOffset (161/162): fenced like a poll, then the shared handler."""
    from whippet.node.dispatch import dispatch

    await _see_member(node, session, req)
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_poll)
        _fence(node, session, req, topic)
    return await dispatch(node, session, code, memoryview(b""), request=req)


async def sync_group(node: Node, session: Session, req: r09.SyncConsumerGroup) -> bytes:
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_poll)
        group = node.meta.machine.group(topic.stream_id, topic.id, req.group_id.value)
        member = node.meta.machine.member(topic.stream_id, topic.id, group.id, *session.member())
        if member is None:
            return b""  # not a member: the SDK reports 5006
        return out09.sync_reply(group.generation, sorted(member.partitions))


def _primary(node: Node, leader: int) -> ClusterNode:
    """The partition leader as a node record of GetClusterMetadata (call under the lock)."""
    m = node.meta.machine.node(leader)
    if m is None:
        raise TransientNotAccepted("the partition's leader is not known yet")
    return ClusterNode(name=m.name, ip=m.host, tcp_port=m.tcp_port, quic_port=m.quic_port,
                       http_port=m.http_port, websocket_port=m.ws_port, role=0, status=0)


async def routing(node: Node, session: Session, req: Any) -> bytes:
    """GetPollRouting (103) / GetConsumerOffsetRouting (123): the session to attach and the primary."""
    user_id = session.require_user()
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_poll)
        if req.consumer.kind == ConsumerKind.CONSUMER_GROUP:
            who = resolve_for_poll(node, session, req.consumer, topic, req.partition_id)
            pid = who.partition_id
        else:
            pid = 0 if req.partition_id is None else req.partition_id
        if pid is None or not 0 <= pid < len(topic.partitions):
            pid = 0
        leader = topic.partitions[pid].leader if topic.partitions else -1
        if leader < 0:
            raise TransientNotAccepted("the partition has no leader yet")
        primary = _primary(node, leader)
    member = session.member()
    client_id = (member[0] << 64) | member[1]
    return out09.routing_reply(client_id, attach_tag(node, member, user_id), counters(node).watermark, primary)


async def attach(node: Node, session: Session, req: r09.AttachConsumerSession) -> bytes:
    """AttachConsumerSession (14): act for the coordinator's group member on this connection."""
    user_id = session.require_user()
    member = (req.client_id >> 64, req.client_id & ((1 << 64) - 1))
    if attach_tag(node, member, user_id) != req.session:
        raise Unauthenticated("not a session this user may attach to")
    if not node.meta.is_leader:
        # The coordinator may have joined the group through the leader a moment ago:
        # see at least what it saw (upstream's metadata watermark) before acting for it.
        await node.meta.barrier()
    session.member_of = member
    return b""


async def describe_options(node: Node, session: Session, req: Any) -> bytes:
    return encode_describe(catalog(req.scope))


#: 0.9-only NonReplicated commands (and the ones whose reply changed beyond re-encoding)
COMMANDS: dict[int, Any] = {
    r09.DESCRIBE_OPTIONS: describe_options,
    r09.ATTACH_CONSUMER_SESSION: attach,
    r09.GET_POLL_ROUTING: routing,
    r09.GET_CONSUMER_OFFSET_ROUTING: routing,
    r09.SYNC_CONSUMER_GROUP: sync_group,
    r09.POLL_MESSAGES_ON_PRIMARY: poll,
    codes.POLL_MESSAGES: poll,
}
