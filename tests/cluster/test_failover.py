"""Failures with real processes: kill -9 of a leader, a follower restart, a cut-off minority,
metadata with a node down, a whole-cluster restart. Every acknowledged message survives."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.cluster.producer import BATCH, Producer, message_id, payload
from tests.support.client import TestClient
from whippet.storage import layout
from whippet.storage.log import LogConfig, PartitionLog
from whippet.wire.errors import IggyError

pytestmark = pytest.mark.asyncio


async def _setup(cluster, partitions: int = 1) -> None:
    c = await TestClient.connect(cluster[1].address)
    await c.create_stream("s")
    await c.create_topic("s", "t", partitions=partitions)
    await c.close()


def _replica_messages(node, partition: int = 0) -> list[tuple[int, bytes]]:
    plog = PartitionLog.open(layout.partition_dir(node.data_dir / "partitions", 0, 0, partition), LogConfig())
    try:
        from whippet.wire.batch import parse_polled
        from whippet.wire.responses import PolledHead

        read = plog.read(0, 1_000_000)
        head = PolledHead(partition_id=partition, current_offset=0, count=read.count).encode()
        _, msgs = parse_polled(head + read.data)
        return [(m.id, m.payload) for m in msgs]
    finally:
        plog.close()


def _assert_exactly_once(messages: list[tuple[int, bytes]], acked: list[int]) -> None:
    ids = [mid for mid, _ in messages]
    assert len(ids) == len(set(ids)), "a message is stored twice"
    by_id = dict(messages)
    for b in acked:
        for i in range(BATCH):
            assert by_id.get(message_id(b, i)) == payload(b, i), f"acknowledged message {b}:{i} lost"
    order = [ids.index(message_id(b, 0)) for b in acked]
    assert order == sorted(order), "acknowledged batches out of order"


async def _poll_all(node, partition: int = 0) -> list[tuple[int, bytes]]:
    c = await TestClient.connect(node.address)
    out: list[tuple[int, bytes]] = []
    offset = 0
    while True:
        _, msgs = await c.poll("s", "t", partition, offset=offset, count=1000)
        if not msgs:
            break
        out += [(m.id, m.payload) for m in msgs]
        offset = msgs[-1].offset + 1
    await c.close()
    return out


async def test_kill_leader_during_quorum_writes(cluster) -> None:
    await _setup(cluster)
    producer = Producer(cluster)
    deadline = time.monotonic() + 90
    await producer.run(range(0, 40), deadline)
    killed_at = time.monotonic()
    cluster[1].kill()  # node 1 is partition 0's preferred (first) replica and so its leader
    await producer.run(range(40, 80), deadline)
    first_ack_after = next(t for t in producer.ack_times if t > killed_at)
    print(f"failover: writes accepted again {first_ack_after - killed_at:.2f}s after kill -9")
    await producer.close()
    # A consumer on a survivor sees every acknowledged message exactly once, in order.
    _assert_exactly_once(await _poll_all(cluster[2]), producer.acked)
    c = await TestClient.connect(cluster[3].address)
    from whippet.wire.primitives import PollingKind

    _, first = await c.poll("s", "t", 0, kind=PollingKind.NEXT, count=5, auto_commit=True)
    _, second = await c.poll("s", "t", 0, kind=PollingKind.NEXT, count=5, auto_commit=True)
    assert second[0].offset == first[-1].offset + 1
    await c.close()
    cluster.stop()
    for i in (2, 3):
        _assert_exactly_once(_replica_messages(cluster[i]), producer.acked)


async def test_follower_restart_catches_up(cluster) -> None:
    await _setup(cluster)
    producer = Producer(cluster)
    deadline = time.monotonic() + 60
    await producer.run(range(0, 10), deadline)
    cluster[3].kill()
    await producer.run(range(10, 30), deadline)
    cluster[3].start()
    await producer.run(range(30, 35), deadline)
    await producer.close()
    for _ in range(100):
        await asyncio.sleep(0.1)
        cluster[3].pause()
        try:
            n = len(_replica_messages(cluster[3]))
        finally:
            cluster[3].resume()
        if n >= 35 * BATCH:
            break
    cluster.stop()
    _assert_exactly_once(_replica_messages(cluster[3]), producer.acked)
    assert _replica_messages(cluster[3]) == _replica_messages(cluster[1])


async def test_cut_off_minority_cannot_ack_and_heals(cluster) -> None:
    await _setup(cluster)
    producer = Producer(cluster)
    await producer.run(range(0, 5), time.monotonic() + 30)
    await producer.close()
    leader = cluster[1]
    client = await TestClient.connect(leader.address)
    cluster[2].pause()
    cluster[3].pause()
    try:
        with pytest.raises(IggyError) as info:
            await client.send("s", "t", 0, [b"must-not-be-acked"], ids=[999_999])
        assert info.value.status in (12010, 12011), info.value
    finally:
        cluster[2].resume()
        cluster[3].resume()
        await client.close()
    # The majority (2, 3) elects a new leader; the old leader's unacknowledged tail is cut.
    producer = Producer(cluster)
    await producer.run(range(5, 15), time.monotonic() + 60)
    await producer.close()
    await asyncio.sleep(2.0)
    cluster.stop()
    logs = [_replica_messages(cluster[i]) for i in (1, 2, 3)]
    for msgs in logs:
        _assert_exactly_once(msgs, list(range(15)))
    assert logs[0] == logs[1] == logs[2], "replicas converge after the heal"


async def _retrying(make_call, seconds: float = 20.0):
    """Retry a retriable error (no metadata leader while one is elected) until a deadline."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await make_call()
        except IggyError as exc:
            if not exc.retriable or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("down", [1, 2, 3])
async def test_metadata_works_with_one_node_down(cluster, down: int) -> None:
    await _setup(cluster)
    cluster[down].kill()
    up = next(i for i in (1, 2, 3) if i != down)
    c = await TestClient.connect(cluster[up].address)
    await _retrying(lambda: c.create_stream("while-down"))
    await _retrying(lambda: c.create_topic("while-down", "t", partitions=2))
    await c.close()
    cluster[down].start()
    c = await TestClient.connect(cluster[down].address)
    from whippet.wire import requests as rq
    from whippet.wire.primitives import Identifier
    from whippet.wire.responses import StreamDetails

    details = StreamDetails.decode(await c.call(rq.GetStream(stream_id=Identifier("while-down"))))
    assert [t.name for t in details.topics] == ["t"]
    await c.close()


async def test_whole_cluster_restart_keeps_everything(cluster) -> None:
    await _setup(cluster, partitions=3)
    acked: dict[int, list[int]] = {}
    for p in range(3):
        producer = Producer(cluster, partition=p)
        await producer.run(range(0, 10), time.monotonic() + 30)
        await producer.close()
        acked[p] = producer.acked
    cluster.stop()
    cluster.start()
    for p in range(3):
        _assert_exactly_once(await _poll_all(cluster[1], p), acked[p])
