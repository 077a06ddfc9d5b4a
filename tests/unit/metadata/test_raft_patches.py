"""What we changed in pysyncobj (metadata.raft_patches), each on its own and on real stores."""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
import time
import zlib
from pathlib import Path

import pytest

from tests.unit.metadata.test_metadata_raft_cluster import _converged, _start, _until
from whippet.metadata import commands as c
from whippet.metadata import raft_patches, raft_wire
from whippet.metadata.journal import DurableJournal
from whippet.metadata.raft import MetadataStore
from whippet.procs import free_port

LOG = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3}  # idx -> term of "our" log


def term(idx: object) -> int | None:
    return LOG.get(idx) if isinstance(idx, int) else None


def ae(prev: int, prev_term: int, entries: list[tuple[int, int]], commit: int = 5) -> dict[str, object]:
    return {"type": "append_entries", "term": 3, "commit_index": commit, "prevLogIdx": prev,
            "prevLogTerm": prev_term, "entries": [(b"c", i, t) for i, t in entries]}


def test_a_heartbeat_behind_our_log_truncates_nothing() -> None:
    msg, verified = raft_patches.trim_append_entries(ae(2, 1, [], commit=5), term)
    assert verified == 2  # success up to the verified prefix, answered by the caller
    assert msg is not None and "prevLogIdx" not in msg and msg["commit_index"] == 2


def test_resent_matching_entries_are_kept() -> None:
    msg, verified = raft_patches.trim_append_entries(ae(2, 1, [(3, 2), (4, 2)]), term)
    assert verified == 4 and msg is not None and msg["commit_index"] == 4


def test_matching_prefix_is_dropped_and_the_conflict_handed_on() -> None:
    msg, verified = raft_patches.trim_append_entries(ae(2, 1, [(3, 2), (4, 3), (5, 3)]), term)
    assert verified is None and msg is not None
    assert (msg["prevLogIdx"], msg["prevLogTerm"]) == (3, 2)
    assert [e[1] for e in msg["entries"]] == [4, 5]  # type: ignore[union-attr]


def test_a_resent_tail_is_not_deleted_and_re_added() -> None:
    """pysyncobj deleted and re-appended entries it already had (the journal briefly lost
    committed entries, logged as "truncating already-applied log entries")."""
    msg, verified = raft_patches.trim_append_entries(ae(3, 2, [(4, 2), (5, 3)]), term)
    assert verified == 5 and msg is not None and "entries" not in msg


def test_new_entries_past_our_end_and_rejections_pass_unchanged() -> None:
    for message in (ae(5, 3, [(6, 3)]), ae(5, 2, [(6, 3)]), ae(9, 3, []), ae(3, 2, [(4, 3)])):
        out, verified = raft_patches.trim_append_entries(message, term)
        assert out is message and verified is None


def test_a_memberless_store_binds_no_port(tmp_path: Path) -> None:
    async def run() -> None:
        port = free_port()
        store = await MetadataStore.start(self_address=f"127.0.0.1:{port}", partners=[],
                                          data_dir=tmp_path, password=None, open_port=False)
        try:
            assert store.is_leader
            assert await store.propose(c.CreateStream("s", 0)) == 0
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))  # nobody listens there
        finally:
            await store.close()

    asyncio.run(run())


def _frame(payload: bytes) -> bytes:
    return struct.pack("i", len(payload)) + payload


async def _poke(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(100), 2)
    except asyncio.TimeoutError:
        return b"(open)"
    finally:
        writer.close()


async def test_bad_frames_on_a_members_port_execute_nothing_and_change_nothing(tmp_path: Path) -> None:
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    stores = [await _start(addresses, i, tmp_path) for i in range(3)]
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (open, (str(marker), "w"))

    try:
        await _until(lambda: any(s.is_leader for s in stores))
        await stores[0].propose(c.CreateStream("s", 0))
        await _converged(stores)
        before = {s.machine.snapshot() for s in stores}
        port = int(addresses[1].rsplit(":", 1)[1])
        evil = pickle.dumps(Evil())
        probes = [
            _frame(evil), _frame(zlib.compress(evil)), _frame(zlib.compress(raft_wire.dumps("127.0.0.1:1"))),
            _frame(b"\x00" * 64), struct.pack("i", -5), struct.pack("i", 2**31 - 1) + b"x" * 100,
            _frame(zlib.compress(b"\x00" * (raft_patches.MAX_FRAME + 10))),
        ]
        rejected = sum(raft_patches.rejected_frames.values())
        for probe in probes:
            assert await _poke(port, probe) == b""  # the node hangs up
        assert sum(raft_patches.rejected_frames.values()) >= rejected + len(probes)
        assert not marker.exists()
        await stores[2].propose(c.CreateStream("t", 0))
        await _converged(stores)
        assert {s.machine.snapshot() for s in stores} != before  # still working, one change only
        with stores[0].lock:
            assert [st.name for st in stores[0].machine.streams()] == ["s", "t"]
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_barrier_waits_for_everything_committed_before(tmp_path: Path) -> None:
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    stores = [await _start(addresses, i, tmp_path) for i in range(3)]
    try:
        await _until(lambda: any(s.is_leader for s in stores))
        follower = next(s for s in stores if not s.is_leader)
        leader = next(s for s in stores if s.is_leader)
        for i in range(20):
            await leader.propose(c.CreateStream(f"s{i}", 0))
            await follower.barrier()
            with follower.lock:
                assert follower.machine.stream(f"s{i}") is not None
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_an_isolated_leader_steps_down_within_the_fallback(tmp_path: Path) -> None:
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    stores = [await _start(addresses, i, tmp_path) for i in range(3)]
    try:
        await _until(lambda: any(s.is_leader for s in stores))
        leader = next(s for s in stores if s.is_leader)
        others = [s for s in stores if s is not leader]
        await asyncio.gather(*(s.close() for s in others))
        t0 = time.monotonic()
        await _until(lambda: not leader.is_leader, timeout=5)
        assert time.monotonic() - t0 < 2.5
    finally:
        await asyncio.gather(*(s.close() for s in stores))


def test_a_pickled_journal_is_rewritten_in_the_current_format(tmp_path: Path) -> None:
    async def method_id() -> int:  # what an older version pickled as the command's function
        store = await MetadataStore.start(self_address=f"127.0.0.1:{free_port()}", partners=[],
                                          data_dir=tmp_path / "probe", password=None, open_port=False)
        try:
            return int(store._replica._methodToID["_apply_command_v1"])  # type: ignore[union-attr]
        finally:
            await store.close()

    func_id = asyncio.run(method_id())
    journal = DurableJournal(tmp_path / "metadata.journal")
    journal.add(b"\x01", 1, 0)
    cmd = c.CreateStream("legacy", 0).encode()
    journal.add(b"\x00" + pickle.dumps((func_id, (cmd,), {})), 2, 1)
    journal.sync()
    journal._destroy()

    async def run() -> None:
        store = await MetadataStore.start(self_address=f"127.0.0.1:{free_port()}", partners=[],
                                          data_dir=tmp_path, password=None, open_port=False)
        try:
            with store.lock:
                assert store.machine.stream("legacy") is not None
        finally:
            await store.close()

    asyncio.run(run())
    entries = list(DurableJournal(tmp_path / "metadata.journal"))
    assert all(e[0][1:2] != b"\x80" for e in entries)


pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
