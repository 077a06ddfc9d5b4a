"""PartitionLog: stamping, reads, segments, retention, truncation (no crashes here)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import xxhash

from tests.unit.storage.storage_helpers import batch, checksum_ok, parse, payloads
from whippet.storage import layout
from whippet.storage.log import LogConfig, PartitionLog

T0 = 1_700_000_000_000_000


def open_log(path: Path, **kw: object) -> PartitionLog:
    return PartitionLog.open(path, LogConfig(**kw))  # type: ignore[arg-type]


def fill(log: PartitionLog, batches: int, per: int = 10, ts: int = T0) -> None:
    for b in range(batches):
        log.append(*batch(payloads(per, b * per)), ts + b)


def test_append_stamps_offsets_timestamps_ids_and_checksums(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    ids = [0, 42, 0, (1 << 127) + 5]
    data, ends = batch(payloads(4), ids=ids, headers=[b"", b"h1", b"", b"hdr"])
    res = log.append(memoryview(data), ends, T0)
    assert (res.first_offset, res.last_offset, res.count) == (0, 3, 4)
    assert res.size == len(data)
    recs = parse(log.read(0, 10).data)
    assert [r.offset for r in recs] == [0, 1, 2, 3]
    assert {r.timestamp for r in recs} == {T0}
    assert all(r.origin_timestamp == 7 and r.reserved == 0 for r in recs)
    assert all(checksum_ok(r) for r in recs)
    assert recs[1].id == 42 and recs[3].id == (1 << 127) + 5
    assert [r.payload for r in recs] == payloads(4)
    assert [r.headers for r in recs] == [b"", b"h1", b"", b"hdr"]
    for generated in (recs[0], recs[2]):
        raw = generated.id.to_bytes(16, "little")  # the uuid bytes, in order
        assert generated.id != 0
        assert raw[6] >> 4 == 4 and raw[8] >> 6 == 0b10  # version 4, RFC 4122 variant
    assert recs[0].id != recs[2].id
    # the second batch continues the numbering, with its own timestamp
    res = log.append(*batch(payloads(2)), T0 + 10)
    assert (res.first_offset, res.last_offset) == (4, 5)
    assert [r.timestamp for r in parse(log.read(4, 2).data)] == [T0 + 10] * 2


def test_checksum_off_stores_zero(tmp_path: Path) -> None:
    log = open_log(tmp_path, checksum=False)
    log.append(*batch(payloads(3)), T0)
    assert [r.checksum for r in parse(log.read(0, 3).data)] == [0, 0, 0]


def test_client_fields_do_not_leak_through(tmp_path: Path) -> None:
    """Offsets, timestamps and checksums a client puts in its records are overwritten."""
    log = open_log(tmp_path)
    data, ends = batch(payloads(2))
    dirty = bytearray(data)
    for start in (0, int(ends[0])):
        dirty[start : start + 8] = b"\xff" * 8
        dirty[start + 24 : start + 40] = b"\xee" * 16
    sent = bytes(dirty)
    log.append(dirty, ends, T0)
    recs = parse(log.read(0, 2).data)
    assert [r.offset for r in recs] == [0, 1] and all(checksum_ok(r) for r in recs)
    assert bytes(dirty) == sent  # the caller's buffer is copied, never stamped in place


def test_file_format_is_iggy_layout(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    data, ends = batch(payloads(3))
    log.append(data, ends, T0 + 5)
    log.close()
    raw_log = layout.log_path(tmp_path, 0).read_bytes()
    raw_idx = layout.index_path(tmp_path, 0).read_bytes()
    assert len(raw_log) == len(data) and len(raw_idx) == 48
    idx = np.frombuffer(raw_idx, dtype=[("rel", "<u4"), ("pos", "<u4"), ("ts", "<u8")])
    assert idx["rel"].tolist() == [0, 1, 2]
    assert idx["pos"].tolist() == ends.tolist()
    assert idx["ts"].tolist() == [T0 + 5] * 3
    first = parse(raw_log)[0]
    assert first.checksum == xxhash.xxh3_64_intdigest(raw_log[8 : int(ends[0])])


def test_roundtrip_across_segment_rolls_and_reopen(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_size=600)
    fill(log, 12, per=5)
    assert log.segments_count > 3
    infos = log.segments()
    assert all(s.sealed for s in infos[:-1]) and not infos[-1].sealed
    assert [s.start_offset for s in infos] == sorted(s.start_offset for s in infos)
    for a, b in itertools.pairwise(infos):
        assert b.start_offset == a.end_offset + 1
    everything = log.read(0, 1000)
    assert everything.count == 60 == log.messages_count
    recs = parse(everything.data)
    assert [r.offset for r in recs] == list(range(60))
    assert [r.payload for r in recs] == payloads(60)
    assert log.size_bytes == len(everything.data)
    # every window, including ones that span segment boundaries
    for start in range(0, 60, 7):
        for count in (1, 6, 13):
            got = log.read(start, count)
            want = [r.raw for r in recs[start : start + count]]
            assert got.first_offset == start and got.data == b"".join(want)
    log.close()
    again = open_log(tmp_path, segment_size=600)
    assert again.next_offset == 60 and again.segments_count == len(infos)
    assert again.read(0, 1000).data == everything.data
    assert again.append(*batch(payloads(1)), T0 + 100).first_offset == 60


def test_read_clamps_and_empty_results(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_size=400)
    assert log.is_empty and log.read(0, 10).count == 0
    fill(log, 6)
    assert log.read(60, 10).count == 0 and log.read(1000, 1).data == b""
    assert log.read(0, 0).count == 0
    tail = log.read(55, 100)
    assert (tail.first_offset, tail.count) == (55, 5)
    log.delete_oldest_segments(2, None)
    first = log.first_offset
    assert first > 0
    clamped = log.read(0, 3)
    assert clamped.first_offset == first and clamped.count == 3
    assert [r.offset for r in parse(clamped.data)] == [first, first + 1, first + 2]


def test_offset_for_timestamp(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_size=300)
    for b in range(8):
        log.append(*batch(payloads(3, b * 3)), T0 + 100 * b)
    assert log.offset_for_timestamp(0) == 0
    assert log.offset_for_timestamp(T0) == 0
    assert log.offset_for_timestamp(T0 + 1) == 3
    assert log.offset_for_timestamp(T0 + 450) == 15
    assert log.offset_for_timestamp(T0 + 700) == 21
    assert log.offset_for_timestamp(T0 + 701) is None
    log.close()
    reopened = open_log(tmp_path, segment_size=300)  # sealed segments searched from disk
    assert reopened.offset_for_timestamp(T0 + 250) == 9


def test_timestamps_never_go_backwards(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.append(*batch(payloads(2)), T0 + 50)
    log.append(*batch(payloads(2)), T0)  # clock stepped back
    assert [r.timestamp for r in parse(log.read(0, 4).data)] == [T0 + 50] * 4


def test_truncate(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_size=500)
    fill(log, 10)
    before = parse(log.read(0, 100).data)
    log.truncate(37)
    assert log.next_offset == 37
    assert [r.raw for r in parse(log.read(0, 100).data)] == [r.raw for r in before[:37]]
    assert log.append(*batch(payloads(2)), T0 + 99).first_offset == 37
    seg_starts = [s.start_offset for s in log.segments()]
    log.truncate(seg_starts[1])  # exactly at a segment start
    assert log.next_offset == seg_starts[1] and log.read(0, 100).count == seg_starts[1]
    log.truncate(500)  # beyond the end: nothing happens
    assert log.next_offset == seg_starts[1]
    log.close()
    again = open_log(tmp_path, segment_size=500)
    assert again.next_offset == seg_starts[1]
    assert [r.raw for r in parse(again.read(0, 100).data)] == [r.raw for r in before[: seg_starts[1]]]
    again.truncate(0)
    assert again.next_offset == 0 and again.is_empty and again.segments_count == 1


def test_purge(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_size=300)
    fill(log, 5)
    log.purge()
    assert (log.next_offset, log.first_offset, log.messages_count) == (0, 0, 0)
    assert log.is_empty and log.segments_count == 1 and log.size_bytes == 0
    assert log.append(*batch(payloads(1)), T0).first_offset == 0
    log.close()
    assert open_log(tmp_path).next_offset == 1
    assert layout.list_segment_starts(tmp_path) == [0]


def test_delete_oldest_segments_respects_barrier(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_size=400)
    fill(log, 10)
    infos = log.segments()
    assert len(infos) >= 4
    # a consumer at an offset inside segment 1 blocks segment 1 and later ones
    barrier = infos[1].end_offset - 1
    assert log.delete_oldest_segments(10, barrier) == 1
    assert log.first_offset == infos[1].start_offset
    assert log.delete_oldest_segments(1, infos[1].end_offset) == 1
    # never the active segment, even with no barrier
    deleted = log.delete_oldest_segments(100, None)
    assert deleted == len(infos) - 3 and log.segments_count == 1
    assert log.next_offset == 100 and log.messages_count == 100 - log.first_offset
    assert not log.is_empty
    assert not layout.log_path(tmp_path, 0).exists()


def test_expire(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_size=400)
    for b in range(10):
        log.append(*batch(payloads(10, b * 10)), T0 + 1000 * b)
    infos = log.segments()
    expiry = 500
    # at this time only segments ending before T0 + 2600 are expired
    now = T0 + 2600 + expiry
    want = sum(1 for s in infos[:-1] if s.end_ts + expiry <= now)
    assert 0 < want < len(infos) - 1
    assert log.expire(now, expiry, None) == want
    assert log.expire(now, expiry, None) == 0
    assert log.expire(T0 + 10**12, expiry, barrier=log.first_offset) == 0  # barrier holds
    sealed = log.segments_count - 1
    assert log.expire(T0 + 10**12, expiry, None) == sealed
    assert log.segments_count == 1


def test_append_stamped_follower_path(tmp_path: Path) -> None:
    leader = open_log(tmp_path / "leader", segment_size=500)
    follower = open_log(tmp_path / "follower", segment_size=500)
    fill(leader, 6)
    shipped = 0
    while shipped < leader.next_offset:
        got = leader.read(shipped, 7)
        recs = parse(got.data)
        ends = np.cumsum([len(r.raw) for r in recs]).astype(np.uint32)
        res = follower.append_stamped(got.data, ends)
        assert res.first_offset == shipped and res.count == got.count
        shipped += got.count
    assert follower.read(0, 100).data == leader.read(0, 100).data
    assert follower.offset_for_timestamp(T0 + 3) == leader.offset_for_timestamp(T0 + 3)
    got = leader.read(10, 2)
    ends = np.cumsum([len(r.raw) for r in parse(got.data)]).astype(np.uint32)
    with pytest.raises(ValueError):
        follower.append_stamped(got.data, ends)  # offsets 10.. but follower is at 60
    with pytest.raises(ValueError):
        follower.append_stamped(got.data, ends + 1)
    assert follower.next_offset == 60


def test_needs_sync_and_sync(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_size=300)
    assert not log.needs_sync
    fill(log, 4)
    assert log.needs_sync
    log.sync()
    assert not log.needs_sync
    log.close()


def test_a_sync_after_the_log_was_closed_and_deleted_is_a_no_op(tmp_path: Path) -> None:
    """A topic deleted while the flusher's fsync waited for its worker: the node stopped on
    "fatal storage error" (FileNotFoundError on the deleted directory) in the 0.9 suite."""
    import shutil

    log = PartitionLog.open(tmp_path / "p", LogConfig())
    log.append(*batch(payloads(3)), T0)
    log.close()
    shutil.rmtree(tmp_path / "p")
    log.sync()  # nothing left to make durable, and no error
