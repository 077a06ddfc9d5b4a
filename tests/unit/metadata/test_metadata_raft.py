"""The Raft binding with a one-member group: proposals, events, restarts, durability."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from whippet.metadata import commands as c
from whippet.metadata import events as e
from whippet.metadata.journal import DurableJournal
from whippet.metadata.raft import MetadataStore, MetadataUnavailable
from whippet.procs import free_port
from whippet.wire.errors import StateFileCorrupted, StreamIdNotFound, StreamNameAlreadyExists

CHILD = Path(__file__).with_name("metadata_kill_child.py")


def free_address() -> str:
    return f"127.0.0.1:{free_port()}"


_ADDRESSES: dict[Path, str] = {}


async def start(data_dir: Path, **kwargs: object) -> MetadataStore:
    # The address is the Raft identity and is stored in snapshots: keep it per dir.
    address = _ADDRESSES.setdefault(data_dir, free_address())
    return await MetadataStore.start(
        self_address=address,
        partners=[],
        data_dir=data_dir,
        password=None,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_single_member_leads_at_once_and_applies(tmp_path: Path) -> None:
    t0 = time.monotonic()
    store = await start(tmp_path)
    try:
        assert time.monotonic() - t0 < 2.0
        assert store.is_leader
        st = store.status()
        assert st["role"] == "leader" and st["ready"] and st["leader"] == store.leader_address
        assert await store.propose(c.CreateStream("a", 1)) == 0
        assert await store.propose(c.CreateStream("b", 2)) == 1
        with store.lock:
            assert [s.name for s in store.machine.streams()] == ["a", "b"]
        with pytest.raises(StreamNameAlreadyExists) as info:
            await store.propose(c.CreateStream("a", 3))
        assert info.value.status == 1012
        with pytest.raises(StreamIdNotFound):
            await store.propose(c.DeleteStream(7))
        assert await store.propose(c.DeleteStream(0)) is None
        assert store.status()["commit_index"] == store.status()["last_applied"]
    finally:
        await store.close()
    with pytest.raises(MetadataUnavailable):
        await store.propose(c.CreateStream("late", 0))


async def test_events_on_the_loop_in_order_from_subscription_on(tmp_path: Path) -> None:
    store = await start(tmp_path)
    try:
        await store.propose(c.CreateStream("before", 0))
        seen: list[tuple[object, int]] = []
        with store.lock:
            assert len(store.machine.streams()) == 1  # initial state read ...
            unsubscribe = store.subscribe(lambda ev: seen.append((ev, threading.get_ident())))
        await store.propose(c.CreateStream("s", 0))  # ... then only later changes
        await store.propose(c.CreateTopic(1, "t", 2, 1, 0, 0, 1, 0))
        with pytest.raises(StreamNameAlreadyExists):  # a rejection produces no event
            await store.propose(c.CreateStream("s", 0))
        await store.propose(c.DeleteStream(1))
        loop_thread = threading.get_ident()
        assert [ev for ev, _ in seen] == [
            e.StreamCreated(1),
            e.TopicCreated(1, 0, tuple(e.PartitionPlacement(i, (), -1, 0) for i in range(2))),
            e.StreamDeleted(1, (0,)),
        ]
        assert {tid for _, tid in seen} == {loop_thread}
        unsubscribe()
        await store.propose(c.CreateStream("after", 0))
        assert len(seen) == 3
    finally:
        await store.close()


async def test_failing_subscriber_does_not_stop_delivery(tmp_path: Path) -> None:
    store = await start(tmp_path)
    got: list[object] = []

    def boom(ev: object) -> None:
        raise RuntimeError("subscriber bug")

    try:
        store.subscribe(boom)
        store.subscribe(got.append)
        await store.propose(c.CreateStream("s", 0))
        assert got == [e.StreamCreated(0)]
    finally:
        await store.close()


async def test_restart_keeps_state_and_ids(tmp_path: Path) -> None:
    store = await start(tmp_path)
    for i in range(5):
        await store.propose(c.CreateStream(f"s{i}", i))
    await store.propose(c.DeleteStream(2))
    await store.close()
    store = await start(tmp_path)
    try:
        with store.lock:
            assert [s.id for s in store.machine.streams()] == [0, 1, 3, 4]
        assert await store.propose(c.CreateStream("again", 0)) == 2
    finally:
        await store.close()


async def test_compaction_then_restart(tmp_path: Path) -> None:
    store = await start(tmp_path, compaction_entries=10)
    for i in range(25):
        await store.propose(c.CreateStream(f"s{i}", i))
    await _wait(lambda: (tmp_path / "metadata.dump").exists())
    await _wait(lambda: store.status()["log_len"] < 25)
    await store.propose(c.CreateStream("tail", 0))
    await store.close()
    store = await start(tmp_path)
    try:
        with store.lock:
            assert len(store.machine.streams()) == 26 and store.machine.stream("tail").id == 25
    finally:
        await store.close()


async def test_crash_between_dump_and_compaction_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pysyncobj writes the dump, then compacts the journal on a later tick; if the
    # process dies in between it would, on load, throw away the whole journal.
    monkeypatch.setattr(DurableJournal, "deleteEntriesTo", lambda self, n: None)
    store = await start(tmp_path)
    for i in range(10):
        await store.propose(c.CreateStream(f"s{i}", i))
    store.request_compaction()
    await _wait(lambda: (tmp_path / "metadata.dump").exists())
    for i in range(10, 15):
        await store.propose(c.CreateStream(f"s{i}", i))
    await store.close()
    monkeypatch.undo()
    store = await start(tmp_path)
    try:
        with store.lock:
            assert len(store.machine.streams()) == 15
    finally:
        await store.close()


async def test_damaged_files_fail_start_loudly(tmp_path: Path) -> None:
    store = await start(tmp_path)
    for i in range(5):
        await store.propose(c.CreateStream(f"s{i}", 0))
    store.request_compaction()
    await _wait(lambda: store.status()["log_len"] == 2)
    await store.close()
    dump = tmp_path / "metadata.dump"
    good = dump.read_bytes()
    dump.write_bytes(good[:-3] + b"xyz")
    with pytest.raises(StateFileCorrupted):
        await start(tmp_path)
    dump.unlink()  # the journal was compacted: without the dump it is useless
    with pytest.raises(StateFileCorrupted, match="missing"):
        await start(tmp_path)


async def test_no_quorum_gives_a_retriable_timeout(tmp_path: Path) -> None:
    store = await MetadataStore.start(
        self_address=free_address(), partners=[free_address()], data_dir=tmp_path, password=None
    )
    try:
        assert not store.is_leader
        with pytest.raises(MetadataUnavailable) as info:
            await store.propose(c.CreateStream("s", 0), timeout=0.3)
        assert info.value.retriable and info.value.outcome_unknown and info.value.status == 12001
        with pytest.raises(MetadataUnavailable):
            await store.wait_ready(0.2)
    finally:
        await store.close()


async def test_propose_latency_single_member(tmp_path: Path) -> None:
    store = await start(tmp_path)
    try:
        samples = []
        for i in range(100):
            t = time.perf_counter()
            await store.propose(c.CreateStream(f"s{i}", i))
            samples.append(time.perf_counter() - t)
        samples.sort()
        p50, p99 = samples[50] * 1e3, samples[98] * 1e3
        print(f"\none-member propose latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        assert p50 < 20, p50  # generous: the machine is shared; typically well under 1 ms
    finally:
        await store.close()


def test_acknowledged_changes_survive_kill_9(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            str(tmp_path),
            _ADDRESSES.setdefault(tmp_path, free_address()),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    acked: dict[int, str] = {}
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        while len(acked) < 60:
            line = child.stdout.readline()
            assert line, "child died early"
            _, sid, name = line.split()
            acked[int(sid)] = name
    finally:
        child.send_signal(signal.SIGKILL)  # mid-flight: it keeps proposing until now
        child.wait(10)

    async def check() -> None:
        store = await start(tmp_path)
        try:
            with store.lock:
                for sid, name in acked.items():
                    assert store.machine.stream(sid).name == name
                # nothing beyond what the child may have had in flight
                assert len(store.machine.streams()) <= len(acked) + 2
        finally:
            await store.close()

    asyncio.run(check())


async def _wait(cond: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
