"""Send, poll, flush (100-102): the hot path.

A send is parsed and validated as a whole batch by ``wire.batch`` and appended as
one write by ``storage``; a poll answers with a 16-byte head plus the records read
straight from the segment files. Nothing here walks messages one by one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import xxhash

from whippet.metadata import commands as mc

from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import current_offset, key, permissions, require
from whippet.node.handlers.consumers import resolve_for_poll
from whippet.node.server import now_us
from whippet.wire import codes, requests as rq
from whippet.wire.batch import parse_send_messages
from whippet.wire.errors import PartitionNotFound
from whippet.wire.primitives import PollingKind
from whippet.wire.responses import PolledHead

if TYPE_CHECKING:
    from whippet.metadata.model import Topic
    from whippet.node.server import Node
    from whippet.node.session import Session
    from whippet.storage.log import PartitionLog


def _choose_partition(node: Node, topic: Topic, kind: int, value: bytes) -> int:
    n = len(topic.partitions)
    if n == 0:
        raise PartitionNotFound("the topic has no partitions")
    if kind == 2:
        pid = int.from_bytes(value, "little")
        if pid >= n:
            raise PartitionNotFound()
        return pid
    if kind == 3:
        return xxhash.xxh32_intdigest(value) % n
    counter_key = (topic.stream_id, topic.id)
    i = node.balanced_counters.get(counter_key, 0)
    node.balanced_counters[counter_key] = i + 1
    return i % n


@handler(codes.SEND_MESSAGES)
async def send_messages(node: Node, session: Session, payload: memoryview) -> Reply:
    batch = parse_send_messages(payload)
    with node.meta.lock:
        perms = permissions(node, session)
        topic = node.meta.machine.topic(key(batch.stream_id), key(batch.topic_id))
        require(perms.can_send(topic.stream_id, topic.id))
        pid = _choose_partition(node, topic, batch.partitioning.kind, batch.partitioning.value)
    handle = node.partitions.get(topic.stream_id, topic.id, pid)
    result = handle.log.append(batch.records, batch.ends, now_us())
    node.metrics.messages_in.inc(result.count)
    node.metrics.bytes_in.inc(result.size)
    await node.durability.appended(handle.log)
    return b""


def _start_offset(plog: PartitionLog, kind: int, value: int, count: int, stored: int | None) -> int | None:
    """Where a poll starts, or None when it returns nothing."""
    if plog.is_empty:
        return None
    current = plog.next_offset - 1
    if kind == PollingKind.OFFSET:
        return None if value > current else value
    if kind == PollingKind.TIMESTAMP:
        return plog.offset_for_timestamp(value)
    if kind == PollingKind.FIRST:
        return plog.first_offset
    if kind == PollingKind.LAST:
        return current + 1 - min(count, current + 1)
    if kind == PollingKind.NEXT:
        return plog.first_offset if stored is None else stored + 1
    raise AssertionError(kind)


@handler(codes.POLL_MESSAGES)
async def poll_messages(node: Node, session: Session, req: rq.PollMessages) -> Reply:
    with node.meta.lock:
        perms = permissions(node, session)
        topic = node.meta.machine.topic(key(req.stream_id), key(req.topic_id))
        require(perms.can_poll(topic.stream_id, topic.id))
        who = resolve_for_poll(node, session, req.consumer, topic, req.partition_id)
        if who.partition_id is None:
            return PolledHead(partition_id=0, current_offset=0, count=0).encode()
        stored = topic.partitions[who.partition_id].offsets.get((who.kind, who.consumer_id))
    handle = node.partitions.get(topic.stream_id, topic.id, who.partition_id)
    plog = handle.log
    start = None if req.count == 0 else _start_offset(plog, req.strategy.kind, req.strategy.value, req.count, stored)
    head = PolledHead(partition_id=who.partition_id, current_offset=current_offset(plog), count=0)
    if start is None:
        return head.encode()
    read = plog.read(start, req.count)
    if read.count == 0:
        return head.encode()
    if req.auto_commit:
        await node.meta.propose(
            mc.StoreConsumerOffset(
                stream_id=topic.stream_id, topic_id=topic.id, partition_id=who.partition_id,
                kind=who.kind, consumer_id=who.consumer_id, offset=read.first_offset + read.count - 1,
            )
        )
    node.metrics.messages_out.inc(read.count)
    node.metrics.bytes_out.inc(len(read.data))
    head = PolledHead(partition_id=who.partition_id, current_offset=head.current_offset, count=read.count)
    return [head.encode(), read.data]


@handler(codes.FLUSH_UNSAVED_BUFFER)
async def flush_unsaved_buffer(node: Node, session: Session, req: rq.FlushUnsavedBuffer) -> Reply:
    with node.meta.lock:
        perms = permissions(node, session)
        topic = node.meta.machine.topic(key(req.stream_id), key(req.topic_id))
        require(perms.can_send(topic.stream_id, topic.id))
    handle = node.partitions.get(topic.stream_id, topic.id, req.partition_id)
    if req.fsync:
        await node.durability.flush(handle.log)
    return b""
