"""Append in two halves: stage (stamp in memory) and commit (write), as a partition
leader does to ship a batch to its followers while it writes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.storage.storage_helpers import batch, parse, payloads
from whippet.storage.log import LogConfig, PartitionLog, StagedBatchDiscarded

T0 = 1_700_000_000_000_000


def test_staged_bytes_are_what_commit_writes(tmp_path: Path) -> None:
    log = PartitionLog.open(tmp_path, LogConfig())
    log.append(*batch(payloads(2)), T0)
    staged = log.stage(*batch(payloads(3, 2)), T0 + 5)
    assert staged is not None and (staged.first_offset, staged.count) == (2, 3)
    assert log.next_offset == 2  # nothing written or visible yet
    assert log.read(0, 10).count == 2
    result = log.commit(staged)
    assert (result.first_offset, result.count) == (2, 3)
    stored = log.read(2, 3).data
    assert stored == staged.records.tobytes()
    assert result.size == len(stored)
    assert [r.offset for r in parse(stored)] == [2, 3, 4]
    assert [r.timestamp for r in parse(stored)] == [T0 + 5] * 3
    ends = [sum(len(r.raw) for r in parse(stored)[: i + 1]) for i in range(3)]
    assert staged.ends.tolist() == ends


def test_one_batch_staged_at_a_time(tmp_path: Path) -> None:
    log = PartitionLog.open(tmp_path, LogConfig())
    staged = log.stage(*batch(payloads(1)), T0)
    with pytest.raises(RuntimeError):
        log.stage(*batch(payloads(1, 1)), T0)
    log.commit(staged)
    assert log.stage(*batch(payloads(1, 1)), T0) is not None


@pytest.mark.parametrize("change", ["truncate", "purge", "close"])
def test_a_change_between_stage_and_commit_discards_the_batch(tmp_path: Path, change: str) -> None:
    log = PartitionLog.open(tmp_path, LogConfig(dedup_window=100))
    log.append(*batch(payloads(3), ids=[1, 2, 3]), T0)
    staged = log.stage(*batch(payloads(2, 3), ids=[4, 5]), T0 + 1)
    assert staged is not None
    if change == "truncate":
        log.truncate(1)
    elif change == "purge":
        log.purge()
    else:
        log.close()
    with pytest.raises(StagedBatchDiscarded):
        log.commit(staged)
    if change == "close":
        return
    # nothing of the batch was written, and its ids may be sent again
    retry = log.append(*batch(payloads(2, 3), ids=[4, 5]), T0 + 2)
    assert retry.count == 2
    assert [r.payload for r in parse(log.read(0, 10).data)][-2:] == payloads(2, 3)


def test_a_batch_of_duplicates_stages_nothing(tmp_path: Path) -> None:
    log = PartitionLog.open(tmp_path, LogConfig(dedup_window=100))
    log.append(*batch(payloads(2), ids=[7, 8]), T0)
    dups = log.stage(*batch(payloads(2), ids=[7, 8]), T0 + 1)
    assert dups is not None and dups.count == 0 and dups.duplicate_end == 2
    assert log.stage(*batch(payloads(1, 2), ids=[9]), T0 + 1) is not None  # and nothing is left staged
