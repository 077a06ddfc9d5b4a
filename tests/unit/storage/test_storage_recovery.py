"""Recovery on open: every cut point, garbage, zeros left by a power loss, lost segments."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.unit.storage.storage_helpers import batch, checksum_ok, parse, payloads
from whippet.storage import layout
from whippet.storage.log import LogConfig, PartitionLog

T0 = 1_700_000_000_000_000
LOG = layout.log_path(Path(), 0).name
INDEX = layout.index_path(Path(), 0).name
BATCHES = [(0, 4), (4, 3), (7, 5)]  # (first payload number, count): 12 records


def build(directory: Path, checksum: bool, segment_size: int = 1 << 20) -> bytes:
    log = PartitionLog.open(directory, LogConfig(segment_size=segment_size, checksum=checksum))
    for b, (first, count) in enumerate(BATCHES):
        hdrs = [b"" if i % 2 else b"\x02\x01\x00\x00\x00k\x02\x01\x00\x00\x00v" for i in range(count)]
        log.append(*batch(payloads(count, first), headers=hdrs), T0 + b)
    data = log.read(0, 100).data
    log.close()
    return data


def record_ends(data: bytes) -> list[int]:
    return np.cumsum([len(r.raw) for r in parse(data)]).tolist()


def write_files(directory: Path, files: dict[str, bytes]) -> None:
    for name in os.listdir(directory):
        os.unlink(directory / name)
    for name, content in files.items():
        (directory / name).write_bytes(content)


def check_reopen(directory: Path, checksum: bool, original: bytes, keep: int) -> None:
    """Exactly the first ``keep`` records are served and the next append gets offset ``keep``."""
    ends = record_ends(original)
    cfg = LogConfig(segment_size=1 << 20, checksum=checksum)
    log = PartitionLog.open(directory, cfg)
    assert log.next_offset == keep
    assert log.read(0, 100).data == original[: ends[keep - 1] if keep else 0]
    res = log.append(*batch([b"after-recovery"]), T0 + 50)
    assert res.first_offset == keep
    log.close()
    again = PartitionLog.open(directory, cfg)
    assert again.next_offset == keep + 1
    recs = parse(again.read(0, 100).data)
    assert [r.offset for r in recs] == list(range(keep + 1))
    assert recs[-1].payload == b"after-recovery"
    assert not checksum or all(checksum_ok(r) for r in recs)
    again.close()


@pytest.mark.parametrize("checksum", [True, False])
def test_log_cut_at_every_byte(tmp_path: Path, checksum: bool) -> None:
    original = build(tmp_path / "src", checksum)
    files = {n: (tmp_path / "src" / n).read_bytes() for n in (LOG, INDEX)}
    ends = record_ends(original)
    work = tmp_path / "work"
    work.mkdir()
    for cut in range(len(files[LOG]) + 1):
        write_files(work, {LOG: files[LOG][:cut], INDEX: files[INDEX]})
        keep = sum(1 for e in ends if e <= cut)
        check_reopen(work, checksum, original, keep)


def test_index_cut_at_every_byte_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    original = build(tmp_path / "src", True)
    files = {n: (tmp_path / "src" / n).read_bytes() for n in (LOG, INDEX)}
    work = tmp_path / "work"
    work.mkdir()
    for cut in range(len(files[INDEX]) + 1):
        write_files(work, {LOG: files[LOG], INDEX: files[INDEX][:cut]})
        log = PartitionLog.open(work, LogConfig())
        assert log.next_offset == 12 and log.read(0, 100).data == original
        log.close()
        assert (work / INDEX).read_bytes() == files[INDEX]  # rebuilt to the same bytes
    write_files(work, {LOG: files[LOG]})  # index missing altogether
    check_reopen(work, True, original, 12)


def test_both_files_cut_together(tmp_path: Path) -> None:
    """A crash between the two writes of a batch: log cut anywhere, index at an entry."""
    original = build(tmp_path / "src", True)
    files = {n: (tmp_path / "src" / n).read_bytes() for n in (LOG, INDEX)}
    ends = record_ends(original)
    work = tmp_path / "work"
    work.mkdir()
    for entries in range(0, 13, 3):
        for cut in range(ends[entries - 1] if entries else 0, len(files[LOG]) + 1, 7):
            write_files(work, {LOG: files[LOG][:cut], INDEX: files[INDEX][: 16 * entries]})
            check_reopen(work, True, original, sum(1 for e in ends if e <= cut))


@pytest.mark.parametrize(
    "tail",
    [b"\x00" * 10, b"\x00" * 64, b"\x00" * 300, os.urandom(300), b"\xff" * 64],
    ids=["zeros10", "zeros64", "zeros300", "random", "ones"],
)
def test_garbage_after_the_log_is_cut(tmp_path: Path, tail: bytes) -> None:
    original = build(tmp_path / "src", True)
    files = {n: (tmp_path / "src" / n).read_bytes() for n in (LOG, INDEX)}
    work = tmp_path / "work"
    work.mkdir()
    write_files(work, {LOG: files[LOG] + tail, INDEX: files[INDEX]})
    check_reopen(work, True, original, 12)
    # a copy of the last record (valid checksum, wrong offset) is not re-indexed either
    last = parse(original)[-1].raw
    write_files(work, {LOG: files[LOG] + last, INDEX: files[INDEX]})
    check_reopen(work, True, original, 12)


@pytest.mark.parametrize("tail", [b"\x00" * 48, os.urandom(40), b"\xff" * 16])
def test_garbage_after_the_index_is_dropped(tmp_path: Path, tail: bytes) -> None:
    original = build(tmp_path / "src", True)
    files = {n: (tmp_path / "src" / n).read_bytes() for n in (LOG, INDEX)}
    work = tmp_path / "work"
    work.mkdir()
    write_files(work, {LOG: files[LOG], INDEX: files[INDEX] + tail})
    check_reopen(work, True, original, 12)


@pytest.mark.parametrize("checksum", [True, False])
def test_power_loss_zeros_under_a_persisted_index(tmp_path: Path, checksum: bool) -> None:
    """The index reached the disk but the log pages of the last batch did not."""
    original = build(tmp_path / "src", checksum)
    files = {n: (tmp_path / "src" / n).read_bytes() for n in (LOG, INDEX)}
    ends = record_ends(original)
    work = tmp_path / "work"
    work.mkdir()
    last_batch_start = ends[6]
    zeroed = files[LOG][:last_batch_start] + bytes(len(files[LOG]) - last_batch_start)
    write_files(work, {LOG: zeroed, INDEX: files[INDEX]})
    check_reopen(work, checksum, original, 7)
    # only one record in the middle of the last batch lost
    mid = bytearray(files[LOG])
    mid[ends[8] : ends[9]] = bytes(ends[9] - ends[8])
    write_files(work, {LOG: bytes(mid), INDEX: files[INDEX]})
    check_reopen(work, checksum, original, 9)


def test_flipped_payload_byte_fails_the_checksum(tmp_path: Path) -> None:
    original = build(tmp_path / "src", True)
    files = {n: (tmp_path / "src" / n).read_bytes() for n in (LOG, INDEX)}
    ends = record_ends(original)
    work = tmp_path / "work"
    work.mkdir()
    bad = bytearray(files[LOG])
    bad[ends[10] + 70] ^= 0x01  # payload of record 11
    write_files(work, {LOG: bytes(bad), INDEX: files[INDEX]})
    check_reopen(work, True, original, 11)


def test_damaged_older_segment_drops_every_later_one(tmp_path: Path) -> None:
    """A segment that lost its tail leaves a hole: later segments must not be served."""
    src = tmp_path / "src"
    log = PartitionLog.open(src, LogConfig(segment_size=400))
    for b in range(10):
        log.append(*batch(payloads(5, 5 * b)), T0 + b)
    infos = log.segments()
    everything = log.read(0, 100).data
    log.close()
    assert len(infos) >= 5
    victim = infos[1]
    path = layout.log_path(src, victim.start_offset)
    ends = record_ends(everything)
    keep_in_victim = 2
    cut = ends[victim.start_offset + keep_in_victim - 1] - (
        ends[victim.start_offset - 1] if victim.start_offset else 0
    )
    os.truncate(path, cut + 5)  # mid-record
    log = PartitionLog.open(src, LogConfig(segment_size=400))
    keep = victim.start_offset + keep_in_victim
    assert log.next_offset == keep
    assert log.segments_count == 2
    assert log.read(0, 100).data == everything[: ends[keep - 1]]
    assert layout.list_segment_starts(src) == [infos[0].start_offset, victim.start_offset]
    assert log.append(*batch([b"x"]), T0 + 99).first_offset == keep


def test_older_sealed_segments_are_trusted_when_consistent(tmp_path: Path) -> None:
    src = tmp_path / "src"
    log = PartitionLog.open(src, LogConfig(segment_size=300))
    for b in range(12):
        log.append(*batch(payloads(4, 4 * b)), T0 + b)
    everything = log.read(0, 100).data
    infos = log.segments()
    log.close()
    log = PartitionLog.open(src, LogConfig(segment_size=300))
    assert log.segments() == infos and log.read(0, 100).data == everything
    # zeros over an old sealed segment's last record are caught by the cheap check
    old = infos[0]
    path = layout.log_path(src, old.start_offset)
    data = bytearray(path.read_bytes())
    ends = record_ends(bytes(data))
    data[ends[-2] :] = bytes(len(data) - ends[-2])
    path.write_bytes(bytes(data))
    log.close()
    log = PartitionLog.open(src, LogConfig(segment_size=300))
    assert log.next_offset == old.end_offset and log.segments_count == 1


def test_missing_log_with_an_index_means_empty(tmp_path: Path) -> None:
    original = build(tmp_path / "src", True)
    work = tmp_path / "work"
    work.mkdir()
    write_files(work, {INDEX: (tmp_path / "src" / INDEX).read_bytes()})
    check_reopen(work, True, original, 0)


def test_a_fresh_empty_segment_after_a_roll_is_kept(tmp_path: Path) -> None:
    src = tmp_path / "src"
    log = PartitionLog.open(src, LogConfig(segment_size=200))
    log.append(*batch(payloads(5)), T0)
    assert log.segments_count == 2  # rolled: an empty active segment at 5
    log.close()
    log = PartitionLog.open(src, LogConfig(segment_size=200))
    assert log.segments_count == 2 and log.next_offset == 5
    assert log.append(*batch([b"y"]), T0 + 1).first_offset == 5
