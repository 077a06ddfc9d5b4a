"""Send, poll, flush (100-102): the hot path.

A send is parsed and validated as a whole batch by ``wire.batch`` and appended as
one write by ``storage``; a poll answers with a 16-byte head plus the records read
straight from the segment files. Nothing here walks messages one by one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import xxhash

from whippet.metadata import commands as mc
from whippet.metadata.permissions import can_poll, can_send
from whippet.node import encryption
from whippet.node.clock import now_us
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import allowed_topic
from whippet.node.handlers.consumers import resolve_for_poll
from whippet.node.routing import forward, on_leader
from whippet.storage.model import AppendResult
from whippet.storage.record import assign_missing_ids
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.batch import SendBatch, build_send_payload_from_records, parse_send_messages
from whippet.wire.errors import NotLeader, PartitionNotFound
from whippet.wire.primitives import Partitioning, PollingKind
from whippet.wire.responses import Appended, PolledHead

if TYPE_CHECKING:
    import numpy as np

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


def _leader(node: Node, key3: tuple[int, int, int]) -> int:
    """The node that leads a partition (call under the metadata lock)."""
    return node.meta.machine.partition(*key3).leader


@handler(codes.SEND_MESSAGES)
async def send_messages(node: Node, session: Session, payload: memoryview) -> Reply:
    await append_batch(node, session, parse_send_messages(payload))
    return b""


@handler(codes.SEND_MESSAGES_APPENDED)
async def send_messages_appended(node: Node, session: Session, payload: memoryview) -> Reply:
    return (await append_batch(node, session, parse_send_messages(payload))).encode()


async def append_batch(node: Node, session: Session, batch: SendBatch) -> Appended:
    """Append a validated batch to its partition, here or on the partition's leader.

    The one entry point of every send, whatever the protocol version or transport:
    it checks the send permission, picks the partition, gives every message without
    an id one (with deduplication on, so that a retry cannot store it twice), runs the
    append on the partition's leader (here, or forwarded), riding out a failover
    (``node.routing.on_leader``), and returns once the topic's ack level holds.
    """
    with node.meta.lock:
        topic = allowed_topic(node, session, batch.stream_id, batch.topic_id, can_send)
        pid = _choose_partition(node, topic, batch.partitioning.kind, batch.partitioning.value)
        pkey = (topic.stream_id, topic.id, pid)
        ack = topic.ack or node.config.cluster_ack  # the topic's level, else this leader's default
    records: memoryview | bytearray = batch.records
    ends: np.ndarray = batch.ends
    dedup = node.config.dedup_enabled
    if dedup and (with_ids := assign_missing_ids(records, ends)) is not None:
        records = with_ids.data

    async def attempt(leader: int) -> Appended:
        if leader != node.node_id:
            body = build_send_payload_from_records(
                batch.stream_id, batch.topic_id, Partitioning.partition_id(pid), records, ends
            )
            return Appended.decode(await forward(node, session, leader, codes.SEND_MESSAGES_APPENDED, body))
        return await _append_here(node, pkey, records, ends, ack)

    return await on_leader(node, pkey, attempt, repeatable=dedup)


async def _append_here(node: Node, pkey: tuple[int, int, int], records: memoryview | bytearray,
                       ends: np.ndarray, ack: str) -> Appended:  # fmt: skip
    part = node.replicas.partitions.get(pkey)
    if part is None:
        raise NotLeader("this node does not hold the partition (yet)", not_applied=True)
    count = len(ends)
    if (cipher := encryption.for_writing(node)) is not None:
        records, ends = cipher.encrypt_batch(records, ends)

    def written(result: AppendResult) -> None:
        node.metrics.messages_in.inc(result.count)
        node.metrics.bytes_in.inc(result.size)

    result = await part.append(records, ends, ack, now_us(), on_written=written)
    return Appended(partition_id=pkey[2], first_offset=result.first_offset if result.count else 0,
                    stored=result.count, duplicates=count - result.count)


def _start_offset(
    plog: PartitionLog, visible_end: int, kind: int, value: int, count: int, stored: int | None
) -> int | None:
    """Where a poll starts, or None when it returns nothing (only offsets below ``visible_end`` count)."""
    if visible_end == 0:
        return None
    current = visible_end - 1
    if kind == PollingKind.OFFSET:
        return None if value > current else value
    if kind == PollingKind.TIMESTAMP:
        found = plog.offset_for_timestamp(value)
        return None if found is None or found > current else found
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
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_poll)
        who = resolve_for_poll(node, session, req.consumer, topic, req.partition_id)
        if who.partition_id is None:
            return PolledHead(partition_id=0, current_offset=0, count=0).encode()
        stored = topic.partitions[who.partition_id].offsets.get((who.kind, who.consumer_id))
        pkey = (topic.stream_id, topic.id, who.partition_id)
    pid = who.partition_id

    async def attempt(leader: int) -> Reply:
        if leader != node.node_id:
            # The partition is resolved here (group round-robin is per connection), then pinned.
            pinned = replace(req, partition_id=pid)
            return await forward(node, session, leader, codes.POLL_MESSAGES, pinned.encode())
        return await _poll_here(node, req, pkey, stored, who.kind, who.consumer_id)

    return await on_leader(node, pkey, attempt, repeatable=True)


def poll_window(
    node: Node, req: rq.PollMessages, pkey: tuple[int, int, int], stored: int | None
) -> tuple[PartitionLog, PolledHead, int, int]:
    """Where a poll on this partition leader reads: the log, the head of an empty answer,
    the first offset and how many records (0 = nothing), below the high watermark.
    Shared by the 0.8 and the 0.9 poll."""
    part = node.replicas.partitions.get(pkey)
    if part is None or part.leader_state is None:
        raise NotLeader("this node does not lead the partition (now)", not_applied=True)
    plog = part.log
    visible_end = part.visible_end()
    start = None if req.count == 0 else _start_offset(
        plog, visible_end, req.strategy.kind, req.strategy.value, req.count, stored
    )
    head = PolledHead(partition_id=pkey[2], current_offset=max(visible_end - 1, 0), count=0)
    if start is None or start >= visible_end:
        return plog, head, 0, 0
    return plog, head, start, min(req.count, visible_end - start)


async def commit_polled(node: Node, pkey: tuple[int, int, int], kind: int, consumer_id: int, offset: int) -> None:
    """Auto-commit: store ``offset`` as the consumer's (or group's) offset on the partition."""
    await node.meta.propose(store_offset_command(node, pkey, kind, consumer_id, offset))


def store_offset_command(node: Node, pkey: tuple[int, int, int], kind: int, consumer_id: int,
                         offset: int) -> mc.StoreConsumerOffset:  # fmt: skip
    """A consumer-offset store as this partition leader proposes it: fenced by its epoch and
    its count of stores, so a delayed proposal can never overwrite a newer one."""
    part = node.replicas.partitions.get(pkey)
    if part is None:
        raise NotLeader("this node does not hold the partition (yet)", not_applied=True)
    epoch, seq = part.offset_fence()
    return mc.StoreConsumerOffset(stream_id=pkey[0], topic_id=pkey[1], partition_id=pkey[2], kind=kind,
                                  consumer_id=consumer_id, offset=offset, leader_epoch=epoch, seq=seq)


async def _poll_here(node: Node, req: rq.PollMessages, pkey: tuple[int, int, int], stored: int | None,
                     kind: int, consumer_id: int) -> Reply:  # fmt: skip
    """A poll on the partition's leader: only below the high watermark, straight from the files."""
    plog, head, start, count = poll_window(node, req, pkey, stored)
    if not count:
        return head.encode()
    read = plog.read(start, count)
    if read.count == 0:
        return head.encode()
    data: bytes | bytearray = read.data
    if (cipher := encryption.for_reading(node)) is not None:
        data = cipher.decrypt_records(data, read.count)
    if req.auto_commit:
        await commit_polled(node, pkey, kind, consumer_id, read.first_offset + read.count - 1)
    node.metrics.messages_out.inc(read.count)
    node.metrics.bytes_out.inc(len(read.data))
    head = PolledHead(partition_id=pkey[2], current_offset=head.current_offset, count=read.count)
    return [head.encode(), data]


@handler(codes.FLUSH_UNSAVED_BUFFER)
async def flush_unsaved_buffer(node: Node, session: Session, req: rq.FlushUnsavedBuffer) -> Reply:
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, can_send)
        leader = _leader(node, (topic.stream_id, topic.id, req.partition_id))
    if leader != node.node_id:
        return await forward(node, session, leader, codes.FLUSH_UNSAVED_BUFFER, req.encode())
    handle = node.partitions.get(topic.stream_id, topic.id, req.partition_id)
    if req.fsync:
        await node.durability.flush(handle.log)
    return b""
