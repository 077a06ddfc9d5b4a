"""Message-id deduplication: the window itself and its use by PartitionLog.append."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.unit.storage.storage_helpers import batch, parse, payloads
from whippet.storage.dedup import DedupWindow
from whippet.storage.log import LogConfig, PartitionLog

T0 = 1_700_000_000_000_000


def ids(*values: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([v & (2**64 - 1) for v in values], dtype=np.uint64)
    hi = np.array([v >> 64 for v in values], dtype=np.uint64)
    return lo, hi


def test_window_drops_repeats_within_and_across_batches() -> None:
    window = DedupWindow(max_entries=10, ttl_us=1000)
    assert window.admit(*ids(1, 2, 1, 3), now_us=0).tolist() == [True, True, False, True]
    assert window.admit(*ids(3, 4, 1 << 70), now_us=10).tolist() == [False, True, True]
    assert window.admit(*ids(1 << 70, (1 << 70) + 1), now_us=20).tolist() == [False, True]


def test_window_forgets_after_ttl_and_capacity() -> None:
    window = DedupWindow(max_entries=3, ttl_us=100)
    window.admit(*ids(1), now_us=0)
    assert window.admit(*ids(1), now_us=99).tolist() == [False]
    assert window.admit(*ids(1), now_us=100).tolist() == [True]  # expired, seen anew
    window.admit(*ids(2, 3, 4), now_us=150)  # pushes id 1 out by capacity
    assert len(window) == 3
    assert window.admit(*ids(1, 4), now_us=160).tolist() == [True, False]


def test_unchecked_ids_are_kept_and_not_remembered() -> None:
    window = DedupWindow(max_entries=10, ttl_us=1000)
    check = np.array([False, True])
    assert window.admit(*ids(5, 6), now_us=0, check=check).tolist() == [True, True]
    assert window.admit(*ids(5, 6), now_us=1).tolist() == [True, False]


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
