"""Three in-process replicas on loopback: agreement, follower proposals, events
everywhere, leader failover, and a lagging replica catching up from a snapshot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from whippet.metadata import commands as c
from whippet.metadata import events as e
from whippet.metadata.raft import MetadataStore
from whippet.procs import free_port
from whippet.wire.errors import StreamNameAlreadyExists

PASSWORD = "test-cluster-secret"


def _addresses(n: int) -> list[str]:
    return [f"127.0.0.1:{free_port()}" for _ in range(n)]


async def _start(addresses: list[str], i: int, root: Path, **kw: object) -> MetadataStore:
    return await MetadataStore.start(
        self_address=addresses[i],
        partners=[a for a in addresses if a != addresses[i]],
        data_dir=root / f"n{i}",
        password=PASSWORD,
        **kw,  # type: ignore[arg-type]
    )


async def _until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def _leader(stores: list[MetadataStore]) -> MetadataStore:
    leaders = [s for s in stores if s.is_leader]
    assert len(leaders) == 1
    return leaders[0]


def _snapshots(stores: list[MetadataStore]) -> set[bytes]:
    out = set()
    for s in stores:
        with s.lock:
            out.add(s.machine.snapshot())
    return out


async def _converged(stores: list[MetadataStore]) -> None:
    await _until(lambda: len(_snapshots(stores)) == 1)


@pytest.fixture
async def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    addresses = _addresses(3)
    stores = list(await asyncio.gather(*(_start(addresses, i, tmp_path) for i in range(3))))
    try:
        await _until(lambda: sum(s.is_leader for s in stores) == 1)
        await asyncio.gather(*(s.wait_ready(10) for s in stores))
        yield stores
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_agreement_follower_proposals_and_events_everywhere(cluster) -> None:  # type: ignore[no-untyped-def]
    stores = cluster
    leader = _leader(stores)
    followers = [s for s in stores if s is not leader]
    assert all(f.leader_address == leader.leader_address for f in followers)
    seen: list[list[object]] = [[] for _ in stores]
    for store, got in zip(stores, seen):
        store.subscribe(got.append)

    assert await followers[0].propose(c.CreateStream("from-follower", 1)) == 0
    assert await leader.propose(c.CreateStream("from-leader", 2)) == 1
    assert await followers[1].propose(c.CreateTopic(0, "t", 2, 1, 0, 0, 1, 3)) == 0
    with pytest.raises(StreamNameAlreadyExists):  # rejections reach a follower's caller too
        await followers[1].propose(c.CreateStream("from-leader", 4))

    expected = [
        e.StreamCreated(0),
        e.StreamCreated(1),
        e.TopicCreated(0, 0, tuple(e.PartitionPlacement(i, (), -1, 0) for i in range(2))),
    ]
    await _until(lambda: all(got == expected for got in seen), timeout=5)
    await _converged(stores)
    with followers[0].lock:
        assert followers[0].machine.stream("from-leader").id == 1
    statuses = [s.status() for s in stores]
    assert {st["term"] for st in statuses} == {statuses[0]["term"]}
    assert sorted(st["role"] for st in statuses) == ["follower", "follower", "leader"]


async def test_leader_failover(cluster) -> None:  # type: ignore[no-untyped-def]
    stores = cluster
    old = _leader(stores)
    await old.propose(c.CreateStream("before", 0))
    rest = [s for s in stores if s is not old]
    await _until(
        lambda: all(s.status()["last_applied"] == old.status()["last_applied"] for s in rest)
    )
    await old.close()
    await _until(lambda: sum(s.is_leader for s in rest) == 1, timeout=10)
    follower = next(s for s in rest if not s.is_leader)
    assert await follower.propose(c.CreateStream("after", 0), timeout=5) == 1
    await _converged(rest)
    with follower.lock:
        assert [s.name for s in follower.machine.streams()] == ["before", "after"]


async def test_lagging_replica_catches_up_from_snapshot(tmp_path: Path) -> None:
    addresses = _addresses(3)
    stores = list(
        await asyncio.gather(
            *(_start(addresses, i, tmp_path, compaction_entries=10) for i in range(3))
        )
    )
    try:
        await _until(lambda: sum(s.is_leader for s in stores) == 1)
        leader = _leader(stores)
        lagging = next(s for s in stores if s is not leader)
        idx = stores.index(lagging)
        await lagging.close()
        live = [s for s in stores if s is not lagging]
        for i in range(30):
            await leader.propose(c.CreateStream(f"s{i}", i))
        await _until(lambda: all(s.status()["log_len"] < 30 for s in live))  # compacted everywhere
        stores[idx] = lagging = await _start(addresses, idx, tmp_path, compaction_entries=10)
        restored: list[object] = []
        lagging.subscribe(restored.append)
        await _converged(stores)
        assert e.StateRestored() in restored  # it got the leader's snapshot, not the log
        assert await lagging.propose(c.CreateStream("late", 0)) == 30
        await _converged(stores)
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_dynamic_membership_add_member(tmp_path: Path) -> None:
    a_addr, b_addr = _addresses(2)
    a = await MetadataStore.start(
        self_address=a_addr, partners=[], data_dir=tmp_path / "a", password=PASSWORD
    )
    b = None
    try:
        await a.propose(c.CreateStream("before", 0))
        b = await MetadataStore.start(
            self_address=b_addr, partners=[a_addr], data_dir=tmp_path / "b", password=PASSWORD
        )
        await a.add_member(b_addr)
        await b.wait_ready(10)
        assert a.status()["partners"] == [b_addr] and b.leader_address == a_addr
        assert await b.propose(c.CreateStream("via-new-member", 0)) == 1
        await _converged([a, b])
    finally:
        await asyncio.gather(*(s.close() for s in (a, b) if s is not None))
