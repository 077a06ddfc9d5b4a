"""Producer batching/partitioning/back-pressure and consumer commit rules, against a scripted fake client."""

from __future__ import annotations

import asyncio
from typing import Any

import xxhash

from whippet.sdk.consumer import AutoCommit, Consumer, ConsumerConfig
from whippet.sdk.messages import PolledMessage, PolledMessages, SendResult
from whippet.sdk.producer import Producer, ProducerConfig
from whippet.wire.batch import parse_send_messages
from whippet.wire.primitives import Partitioning, PollingKind
from whippet.wire.responses import PartitionInfo, TopicDetails, TopicInfo


class FakeClient:
    def __init__(self, partitions: int = 4) -> None:
        self.partitions = partitions
        self.frames: list[tuple[int, int, list[int]]] = []  # partition, count, ids
        self.gate = asyncio.Event()
        self.gate.set()
        self.polls: list[Any] = []
        self.script: list[PolledMessages] = []
        self.stored: list[tuple[int, int]] = []
        self.ends: dict[int, int] = {}

    async def connect(self) -> None:
        pass

    async def get_topic(self, stream: Any, topic: Any) -> TopicDetails:
        info = TopicInfo(0, 0, self.partitions, 0, 1, 0, 1, 0, 0, "t")
        return TopicDetails(info, [PartitionInfo(i, 0, 1, 0, 0, 0) for i in range(self.partitions)])

    async def send_batch(self, encoded: Any, stream: Any, topic: Any, partitioning: Partitioning) -> SendResult:
        await self.gate.wait()
        batch = parse_send_messages(memoryview(encoded.frame(stream, topic, partitioning))[8:])
        area = bytes(batch.records)
        ids = [int.from_bytes(area[s + 8 : s + 24], "little") for s in batch.starts()]
        partition = batch.partitioning.partition
        first = self.ends.get(partition, 0)
        self.ends[partition] = first + batch.count
        self.frames.append((partition, batch.count, ids))
        return SendResult(partition, first, batch.count, 0)

    async def poll_messages(self, stream: Any, topic: Any, partition: Any, consumer: Any, strategy: Any,
                            count: int, auto_commit: bool) -> PolledMessages:
        self.polls.append((partition, strategy, auto_commit))
        return self.script.pop(0) if self.script else PolledMessages(0, 0, [])

    async def store_consumer_offset(self, consumer: Any, stream: Any, topic: Any, partition: int, offset: int) -> None:
        self.stored.append((partition, offset))


async def test_producer_batches_by_length_and_linger_with_unique_ids() -> None:
    client = FakeClient()
    producer = await Producer(client, ProducerConfig("s", "t", batch_length=10, linger=0.01,  # type: ignore[arg-type]
                                                     partitioning=Partitioning.partition_id(2))).init()
    await producer.send([b"x"] * 25)
    await asyncio.sleep(0.05)  # the 5 left over go after the linger time
    await producer.close()
    assert [(p, n) for p, n, _ in client.frames] == [(2, 10), (2, 10), (2, 5)]
    ids = [i for _, _, batch in client.frames for i in batch]
    assert len(set(ids)) == 25 and all(i >> 64 for i in ids)


async def test_producer_keys_follow_the_nodes_rule_and_balanced_rotates() -> None:
    client = FakeClient(partitions=4)
    producer = await Producer(client, ProducerConfig("s", "t", batch_length=1, linger=0)).init()  # type: ignore[arg-type]
    await producer.send(b"a", key="user-7")
    for _ in range(4):
        await producer.send(b"b")
    await producer.flush()
    assert client.frames[0][0] == xxhash.xxh32_intdigest(b"user-7") % 4
    assert sorted(p for p, _, _ in client.frames[1:]) == [0, 1, 2, 3]


async def test_producer_back_pressure_blocks_send_until_acknowledged() -> None:
    client = FakeClient()
    client.gate.clear()  # the node does not answer
    producer = await Producer(client, ProducerConfig("s", "t", batch_length=5, max_buffered=10, linger=0,  # type: ignore[arg-type]
                                                     max_in_flight=8)).init()
    await producer.send([b"x"] * 10)
    blocked = asyncio.ensure_future(producer.send([b"y"] * 5))
    await asyncio.sleep(0.02)
    assert not blocked.done()
    client.gate.set()
    await asyncio.wait_for(blocked, 1)
    await producer.close()
    assert sum(n for _, n, _ in client.frames) == 15


def _polled(partition: int, offsets: range) -> PolledMessages:
    return PolledMessages(partition, max(offsets), [PolledMessage(0, o + 100, o, 0, 0, b"p", b"") for o in offsets])


async def test_after_each_commits_a_message_once_the_next_is_asked_for() -> None:
    client = FakeClient()
    client.script = [_polled(0, range(3))]
    consumer = await Consumer(client, ConsumerConfig("c", "s", "t", group=False, partition=0,  # type: ignore[arg-type]
                                                     auto_commit=AutoCommit.after_each())).init()
    first = await consumer.__anext__()
    assert first.offset == 0 and client.stored == []  # not processed yet
    await consumer.__anext__()
    assert client.stored == [(0, 0)]
    await consumer.__anext__()
    await consumer.close()
    assert client.stored == [(0, 0), (0, 1), (0, 2)]


async def test_repeated_messages_are_skipped_and_reading_continues_by_offset() -> None:
    client = FakeClient()
    client.script = [_polled(0, range(3)), _polled(0, range(3)), _polled(0, range(3, 5))]
    consumer = await Consumer(client, ConsumerConfig("c", "s", "t", group=False, partition=0,  # type: ignore[arg-type]
                                                     auto_commit=AutoCommit.disabled())).init()
    assert [m.offset for m in await consumer.poll()] == [0, 1, 2]
    # the node sends 0..2 again: they are dropped and an offset poll reads on from 3
    assert [m.offset for m in await consumer.poll()] == [3, 4]
    kinds = [(s.kind, s.value) for _, s, _ in client.polls]
    assert kinds[1:] == [(PollingKind.OFFSET, 3), (PollingKind.OFFSET, 3)]
    await consumer.close()
    assert client.stored == []  # disabled: nothing committed on close


async def test_a_commit_refused_after_a_rebalance_is_a_rebalance_not_an_error() -> None:
    from whippet.wire.errors import NotResolvedConsumer

    client = FakeClient()

    async def refuse(*args: Any) -> None:
        raise NotResolvedConsumer()

    client.store_consumer_offset = refuse  # type: ignore[method-assign]
    calls: list[int] = []
    config = ConsumerConfig("g", "s", "t", group=True, auto_commit=AutoCommit.disabled())
    consumer = Consumer(client, config, on_rebalance=lambda: calls.append(1))  # type: ignore[arg-type]
    consumer._delivered[1] = 5
    await consumer.store_offset(1, 5)
    assert consumer.rebalances == 1 and calls == [1] and 1 not in consumer._delivered
    free = Consumer(client, ConsumerConfig("c", "s", "t", group=False))  # type: ignore[arg-type]
    try:
        await free.store_offset(0, 1)
    except NotResolvedConsumer:
        pass
    else:
        raise AssertionError("a free consumer's refused commit must raise")
