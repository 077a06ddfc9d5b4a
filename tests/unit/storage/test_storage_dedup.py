"""Message-id deduplication: the window itself and its use by PartitionLog.append."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.unit.storage.storage_helpers import batch, parse, payloads
from whippet.storage.dedup import DedupWindow, id_keys
from whippet.storage.log import LogConfig, PartitionLog

T0 = 1_700_000_000_000_000


def ids(*values: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([v & (2**64 - 1) for v in values], dtype=np.uint64)
    hi = np.array([v >> 64 for v in values], dtype=np.uint64)
    return lo, hi


def keys(*values: int) -> list[bytes]:
    return id_keys(*ids(*values))


def admit(window: DedupWindow, *values: int, now_us: int, first_offset: int = 0) -> list[bool]:
    """What stage() does: look up, keep the new ones, remember them at their offsets."""
    k = keys(*values)
    found = window.lookup(k, now_us)
    kept = [key for key, dup in zip(k, found.dup.tolist()) if not dup]
    window.remember(kept, np.arange(first_offset, first_offset + len(kept)), now_us)
    return (~found.dup).tolist()


def test_keys_are_the_stored_16_bytes() -> None:
    assert keys(1, (1 << 64) | 2) == [(1).to_bytes(16, "little"), ((1 << 64) | 2).to_bytes(16, "little")]


def test_window_drops_repeats_within_and_across_batches() -> None:
    window = DedupWindow(max_entries=10, ttl_us=1000)
    assert admit(window, 1, 2, 1, 3, now_us=0) == [True, True, False, True]
    assert admit(window, 3, 4, 1 << 70, now_us=10) == [False, True, True]
    assert admit(window, 1 << 70, (1 << 70) + 1, now_us=20) == [False, True]


def test_a_duplicate_says_where_its_original_is() -> None:
    window = DedupWindow(max_entries=100, ttl_us=1000)
    window.remember(keys(7, 8, 9), np.array([40, 41, 42]), 0)
    found = window.lookup(keys(8, 100, 7), 1)
    assert found.dup.tolist() == [True, False, True] and found.duplicate_end == 42
    assert window.lookup(keys(100, 100), 1).duplicate_end == 0  # a repeat within the batch only


def test_window_remembers_at_least_max_entries_and_ttl_at_most_twice() -> None:
    window = DedupWindow(max_entries=3, ttl_us=100)
    admit(window, 1, now_us=0)
    assert admit(window, 1, now_us=99) == [False]
    assert admit(window, 1, now_us=150) == [False]  # retired generation, still within 2 x ttl
    assert admit(window, 1, now_us=200) == [True]  # gone after 2 x ttl, seen anew
    admit(window, 2, 3, 4, now_us=210)  # fills the current generation: 1 and 2..4 retire
    admit(window, 5, 6, 7, now_us=220)  # and once more: the generation holding 1 is dropped
    assert admit(window, 1, 7, now_us=230) == [True, False]


def test_drop_from_forgets_exactly_the_cut_records() -> None:
    window = DedupWindow(max_entries=100, ttl_us=1000)
    window.remember(keys(1, 2, 3, 4), np.arange(10, 14), 0)
    window.drop_from(12)
    assert window.lookup(keys(1, 2, 3, 4), 1).dup.tolist() == [True, True, False, False]


def test_forget_undoes_remember() -> None:
    window = DedupWindow(max_entries=100, ttl_us=1000)
    window.remember(keys(1, 2), np.arange(2), 0)
    window.forget(keys(2, 3))
    assert window.lookup(keys(1, 2), 1).dup.tolist() == [True, False]


def test_log_drops_duplicates_and_numbers_the_rest_contiguously(tmp_path: Path) -> None:
    log = PartitionLog.open(tmp_path, LogConfig(dedup_window=100))
    first = log.append(*batch(payloads(3), ids=[11, 12, 13]), T0)
    assert (first.first_offset, first.count) == (0, 3)
    res = log.append(*batch(payloads(5, 3), ids=[12, 14, 0, 14, 0]), T0 + 1)
    assert (res.first_offset, res.last_offset, res.count) == (3, 5, 3)
    recs = parse(log.read(0, 10).data)
    assert [r.offset for r in recs] == [0, 1, 2, 3, 4, 5]
    assert [r.payload for r in recs[3:]] == [payloads(5, 3)[i] for i in (1, 2, 4)]
    assert recs[3].id == 14 and recs[4].id not in (0, 14) and recs[5].id not in (0, 14)
    assert res.size == sum(len(r.raw) for r in recs[3:])
    dup = log.append(*batch(payloads(2), ids=[11, 13]), T0 + 2)
    assert (dup.count, dup.first_offset, dup.last_offset, dup.size) == (0, 6, 5, 0)
    assert log.next_offset == 6


def test_dedup_off_keeps_repeated_ids(tmp_path: Path) -> None:
    log = PartitionLog.open(tmp_path, LogConfig())
    log.append(*batch(payloads(2), ids=[9, 9]), T0)
    assert log.append(*batch(payloads(1), ids=[9]), T0).count == 1
    assert log.next_offset == 3


def test_a_failed_write_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC on the index write: files cut back, offsets reused, ids not remembered."""
    from whippet.storage import segment

    log = PartitionLog.open(tmp_path, LogConfig(dedup_window=100))
    log.append(*batch(payloads(2), ids=[1, 2]), T0)
    size = log.size_bytes
    real = segment.pwrite_all
    calls = []

    def failing(fd: int, data: memoryview, position: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the log write succeeded, the index write fails
            raise OSError(28, "No space left on device")
        real(fd, data, position)

    monkeypatch.setattr(segment, "pwrite_all", failing)
    with pytest.raises(OSError):
        log.append(*batch(payloads(2, 2), ids=[3, 4]), T0 + 1)
    monkeypatch.setattr(segment, "pwrite_all", real)
    assert log.next_offset == 2 and log.size_bytes == size
    assert (tmp_path / "00000000000000000000.log").stat().st_size == size
    retry = log.append(*batch(payloads(2, 2), ids=[3, 4]), T0 + 2)
    assert (retry.first_offset, retry.count) == (2, 2)
    log.close()
    assert PartitionLog.open(tmp_path, LogConfig()).read(0, 10).count == 4


def test_a_log_stages_a_batch_of_duplicates_with_the_originals_end(tmp_path: Path) -> None:
    log = PartitionLog.open(tmp_path, LogConfig(dedup_window=100))
    log.append(*batch(payloads(3), ids=[11, 12, 13]), T0)
    staged = log.stage(*batch(payloads(2), ids=[12, 11]), T0 + 1)
    assert staged is not None and staged.count == 0 and staged.duplicate_end == 2
    assert log.commit(staged).count == 0 and log.next_offset == 3


def test_the_window_survives_a_restart_and_follows_a_truncation(tmp_path: Path) -> None:
    config = LogConfig(dedup_window=100)
    log = PartitionLog.open(tmp_path, config)
    log.append(*batch(payloads(4), ids=[1, 2, 3, 4]), T0)
    log.close()
    log = PartitionLog.open(tmp_path, config)  # rebuilt from the segment's record headers
    assert log.append(*batch(payloads(2), ids=[2, 5]), T0 + 1).count == 1
    log.truncate(2)  # drops ids 3, 4 and 5: a retry of them is new again
    res = log.append(*batch(payloads(4), ids=[1, 3, 4, 5]), T0 + 2)
    assert (res.first_offset, res.count) == (2, 3)


def test_a_follower_remembers_what_it_copies(tmp_path: Path) -> None:
    leader = PartitionLog.open(tmp_path / "leader", LogConfig(dedup_window=100))
    follower = PartitionLog.open(tmp_path / "follower", LogConfig(dedup_window=100))
    leader.append(*batch(payloads(3), ids=[7, 8, 9]), T0)
    read, ends = leader.read_with_ends(0, 3)
    follower.append_stamped(read.data, ends)
    staged = follower.stage(*batch(payloads(2), ids=[9, 10]), T0 + 1)
    assert staged is not None and staged.count == 1 and staged.duplicate_end == 3
