"""PartitionLog: the append-only message log of one partition.

Single writer: every method except :meth:`PartitionLog.sync` must be called from
one thread (the server's event loop). ``sync`` may run concurrently in a worker
thread (``storage.flusher``); it only fsyncs, and two locks keep that safe: a
short ``_state_lock`` guards the list of segments awaiting fsync, and ``_fd_lock``
is held while write descriptors are fsynced or closed, so a descriptor is never
closed (and its number reused) under a running fsync.

An append stamps the whole batch with numpy (offsets, one timestamp, random ids
for id 0, checksums), then writes the .log and then the .index with one
``pwrite`` each. That order is what recovery (``storage.recovery``) relies on.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from whippet.storage import layout
from whippet.storage.dedup import DedupWindow, id_keys
from whippet.storage.model import AppendResult, LogConfig, ReadResult, SegmentInfo, Staged
from whippet.storage.record import (
    HEADER_SIZE,
    check_stamped,
    checksums,
    fill_random_ids,
    gather_headers,
    record_starts,
    scatter_checksums,
    scatter_headers,
)
from whippet.storage.segment import Segment

__all__ = ["AppendResult", "LogConfig", "PartitionLog", "ReadResult", "SegmentInfo", "Staged", "StagedBatchDiscarded"]


class StagedBatchDiscarded(RuntimeError):
    """A staged batch cannot be committed: the log was truncated, purged or closed meanwhile."""

_log = logging.getLogger(__name__)
_MAX_SEGMENT_BYTES = 0xFFFF_FFFF  # index positions are u32
_OPEN_READERS = 8  # sealed segments kept open for reads, per partition


class PartitionLog:
    __slots__ = (
        "_active",
        "_closed",
        "_config",
        "_dedup",
        "_dir",
        "_fd_lock",
        "_last_ts",
        "_next",
        "_pending",
        "_readers",
        "_segments",
        "_staged",
        "_starts",
        "_state_lock",
        "_synced_gen",
        "_write_gen",
    )

    def __init__(self, directory: Path, config: LogConfig, segments: list[Segment]) -> None:
        self._dir = directory
        self._config = config
        self._segments = segments
        self._starts = [s.start_offset for s in segments]
        self._active = segments[-1]
        self._next = self._active.start_offset + self._active.count
        self._last_ts = max((s.end_ts for s in segments), default=0)
        self._dedup = (
            DedupWindow(config.dedup_window, config.dedup_ttl_us) if config.dedup_window else None
        )
        self._pending: list[Segment] = []
        self._state_lock = threading.Lock()
        self._fd_lock = threading.Lock()
        self._readers: OrderedDict[int, Segment] = OrderedDict()
        self._write_gen = 0
        self._synced_gen = 0
        self._closed = False
        self._staged: Staged | None = None

    # ------------------------------------------------------------------ open
    @classmethod
    def open(cls, directory: Path, config: LogConfig) -> PartitionLog:
        """Open (creating if missing) and recover the partition in ``directory``.

        Segments must be contiguous: after the first one that ends short of the
        next one's start (a repaired tail), every later segment is deleted, since
        serving them would leave a hole in the offsets.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        starts = layout.list_segment_starts(directory)
        segments: list[Segment] = []
        for i, start in enumerate(starts):
            if segments and start != segments[-1].start_offset + segments[-1].count:
                _log.warning("%s: offsets end at %d but the next segment starts at %d; "
                             "deleting %d later segment(s)", directory,
                             segments[-1].start_offset + segments[-1].count, start,
                             len(starts) - i)
                for orphan in starts[i:]:
                    Segment(directory, orphan).delete_files()
                break
            seg, repaired = Segment.recover(directory, start, config.checksum,
                                            i >= len(starts) - 2)
            if repaired:
                _log.warning("%s: segment %d repaired on open, %d record(s) kept",
                             directory, start, seg.count)
            segments.append(seg)
        if not segments:
            segments.append(Segment.create(directory, 0))
        for seg in segments[:-1]:
            seg.seal()
        segments[-1].activate()
        log = cls(directory, config, segments)
        if log._active.count and log._active.size >= config.segment_size:
            log._roll()
        log._rebuild_dedup()
        return log

    def _rebuild_dedup(self) -> None:
        """Refill the dedup window from the newest records (their ids and offsets), so a
        retry after a restart is still recognised. Records older than the TTL (by their
        stored timestamps, against the newest) are left out."""
        if self._dedup is None or self._next == self.first_offset:
            return
        first = max(self.first_offset, self._next - self._dedup.max_entries)
        parts: list[np.ndarray] = []
        for seg in self._segments:
            lo, hi = max(first, seg.start_offset), seg.start_offset + seg.count
            if hi > lo:
                parts.append(seg.record_headers(lo - seg.start_offset, hi - lo))
        headers = np.concatenate(parts) if len(parts) > 1 else parts[0]
        newest = int(headers["timestamp"][-1])
        fresh = headers["timestamp"].astype(np.int64) >= newest - self._dedup.ttl_us
        headers = headers[fresh]
        self._dedup.remember(id_keys(headers["id_lo"], headers["id_hi"]),
                             headers["offset"].astype(np.int64), newest)

    # ------------------------------------------------------------------ properties
    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def config(self) -> LogConfig:
        return self._config

    @property
    def next_offset(self) -> int:
        return self._next

    @property
    def first_offset(self) -> int:
        return self._segments[0].start_offset

    @property
    def is_empty(self) -> bool:
        """True when nothing was ever appended (or since the last purge/full truncate).

        Retention can delete every record while ``next_offset`` stays > 0; that log
        is not "empty" in this sense but has ``messages_count == 0``.
        """
        return self._next == 0

    @property
    def messages_count(self) -> int:
        return self._next - self.first_offset

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def segments_count(self) -> int:
        return len(self._segments)

    @property
    def needs_sync(self) -> bool:
        """Whether anything was written since the last sync started."""
        return self._write_gen != self._synced_gen

    def segments(self) -> list[SegmentInfo]:
        return [
            SegmentInfo(s.start_offset, s.end_offset, s.size, s.start_ts, s.end_ts,
                        s is not self._active, s.count)
            for s in self._segments
        ]

    # ------------------------------------------------------------------ append
    def append(self, records: memoryview | bytes | bytearray, ends: np.ndarray, now_us: int) -> AppendResult:
        """Stamp and append a client batch (validated by wire/): :meth:`stage` + :meth:`commit`."""
        staged = self.stage(records, ends, now_us)
        return self._nothing_appended() if staged is None else self.commit(staged)

    def stage(self, records: memoryview | bytes | bytearray, ends: np.ndarray, now_us: int) -> Staged | None:
        """The in-memory half of an append: random ids for id 0, dedup, then stamp
        offsets, one timestamp and checksums. Returns None for an empty batch; a batch
        of duplicates only stages with ``count == 0`` (see ``Staged.duplicate_end``).

        A partition leader ships the staged bytes to its followers while it writes
        them itself (:meth:`commit`), instead of one after the other. At most one
        batch is staged at a time; truncate, purge and close discard it. The stored
        timestamp is ``now_us`` clamped to the last stored one, so the time index
        stays sorted if the clock steps back.
        """
        if self._staged is not None:
            raise RuntimeError("a staged batch is not committed yet")
        n = len(ends)
        if n == 0:
            return None
        ends64 = np.asarray(ends, dtype=np.int64)
        u8 = np.frombuffer(records, dtype=np.uint8, count=int(ends64[-1])).copy()
        starts = record_starts(ends64)
        headers, hidx = gather_headers(u8, starts)
        fill_random_ids(headers, (headers["id_lo"] == 0) & (headers["id_hi"] == 0))
        keys: list[bytes] | None = None
        duplicate_end = 0
        if self._dedup is not None:
            keys = id_keys(headers["id_lo"], headers["id_hi"])
            found = self._dedup.lookup(keys, now_us)
            duplicate_end = found.duplicate_end
            if bool(found.dup.any()):
                keep = ~found.dup
                lengths = ends64 - starts
                u8 = u8[np.repeat(keep, lengths)]
                ends64 = np.cumsum(lengths[keep])
                headers = headers[keep]
                keys = [k for k, kept in zip(keys, keep.tolist(), strict=True) if kept]
                n = len(ends64)
                starts = record_starts(ends64)
                hidx = starts[:, None] + np.arange(HEADER_SIZE, dtype=np.int64)
        first = self._next
        ts = max(int(now_us), self._last_ts)
        if n:
            headers["offset"] = np.arange(first, first + n, dtype=np.uint64)
            headers["timestamp"] = ts
            headers["checksum"] = 0
            scatter_headers(u8, hidx, headers)
            if self._config.checksum:
                scatter_checksums(u8, starts, checksums(u8.data, starts, ends64))
            if self._dedup is not None and keys is not None:
                # Remembered now, so a retry racing the write is seen; forgotten if the write fails.
                self._dedup.remember(keys, np.arange(first, first + n), now_us)
        staged = Staged(first, u8, ends64, ts, keys, duplicate_end)
        if n:
            self._staged = staged  # a batch of duplicates only has nothing to write
        return staged

    def commit(self, staged: Staged) -> AppendResult:
        """Write a batch from :meth:`stage`. Raises ``StagedBatchDiscarded`` if the log
        changed in between (truncate, purge, close), since its offsets are no longer next."""
        if not staged.count:
            return AppendResult(staged.first_offset, staged.first_offset - 1, 0, 0)
        try:
            if self._staged is not staged or self._closed or staged.first_offset != self._next:
                raise StagedBatchDiscarded("the partition changed while the batch was being appended")
            self._staged = None
            self._write(staged.records, staged.ends, staged.timestamp)
        except BaseException:
            if self._staged is staged:
                self._staged = None
            if self._dedup is not None and staged.keys:
                self._dedup.forget(staged.keys)
            raise
        n = staged.count
        return AppendResult(staged.first_offset, staged.first_offset + n - 1, n, len(staged.records))

    def append_stamped(self, records: memoryview | bytes, ends: np.ndarray) -> AppendResult:
        """Append records that already carry offsets, timestamps, ids and checksums.

        The follower path: bytes are written as they are. Raises ``ValueError`` if
        the first offset is not ``next_offset``, offsets are not contiguous, lengths
        disagree with ``ends`` or timestamps go backwards.
        """
        n = len(ends)
        if n == 0:
            return self._nothing_appended()
        ends64 = np.asarray(ends, dtype=np.int64)
        u8 = np.frombuffer(records, dtype=np.uint8, count=int(ends64[-1]))
        first = self._next
        headers = check_stamped(u8, ends64, first, self._last_ts)
        stamps = headers["timestamp"]
        self._write(u8, ends64, stamps)
        if self._dedup is not None:
            self._dedup.remember(id_keys(headers["id_lo"], headers["id_hi"]), np.arange(first, first + n),
                                 int(stamps[-1]))
        return AppendResult(first, first + n - 1, n, len(u8))

    def _write(self, u8: np.ndarray, ends64: np.ndarray, stamps: int | np.ndarray) -> None:
        total = len(u8)
        if total > _MAX_SEGMENT_BYTES:
            raise ValueError(f"batch of {total} bytes cannot fit one segment")
        if self._active.count and self._active.size + total > _MAX_SEGMENT_BYTES:
            self._roll()
        seg = self._active
        assert seg.index is not None
        n = len(ends64)
        entries = seg.index.reserve(n)
        rel = self._next - seg.start_offset
        entries["rel"] = np.arange(rel, rel + n, dtype=np.uint32)
        entries["pos"] = seg.size + ends64
        entries["ts"] = stamps
        seg.write(u8, entries)
        self._next += n
        self._last_ts = seg.end_ts
        self._write_gen += 1
        if seg.size >= self._config.segment_size:
            self._roll()

    def _nothing_appended(self) -> AppendResult:
        return AppendResult(self._next, self._next - 1, 0, 0)

    def _roll(self) -> None:
        new = Segment.create(self._dir, self._next)
        old = self._active
        with self._state_lock:
            old.seal()
            self._pending.append(old)
            self._active = new
        self._segments.append(new)
        self._starts.append(new.start_offset)

    # ------------------------------------------------------------------ reads
    def read(self, offset: int, count: int) -> ReadResult:
        """Up to ``count`` records from ``offset`` (raised to ``first_offset``).

        One ``pread`` per segment touched; records of several segments are joined.
        """
        offset = max(offset, self.first_offset)
        end = min(self._next, offset + count)
        if count <= 0 or offset >= end:
            return ReadResult(offset, 0, b"")
        i = bisect.bisect_right(self._starts, offset) - 1
        chunks: list[bytes] = []
        cursor = offset
        while cursor < end:
            seg = self._segments[i]
            rel = cursor - seg.start_offset
            take = min(end - cursor, seg.count - rel)
            if take > 0:
                if seg is not self._active:
                    self._track_reader(seg)
                chunks.append(seg.read(rel, take))
                cursor += take
            i += 1
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return ReadResult(offset, end - offset, data)

    def read_with_ends(self, offset: int, count: int) -> tuple[ReadResult, np.ndarray]:
        """:meth:`read` plus each record's end position in the returned bytes (uint32)."""
        result = self.read(offset, count)
        if result.count == 0:
            return result, np.zeros(0, dtype=np.uint32)
        parts: list[np.ndarray] = []
        base = 0
        cursor, end = result.first_offset, result.first_offset + result.count
        i = bisect.bisect_right(self._starts, cursor) - 1
        while cursor < end:
            seg = self._segments[i]
            rel = cursor - seg.start_offset
            take = min(end - cursor, seg.count - rel)
            if take > 0:
                ends = seg.record_ends(rel, take)
                parts.append(ends + np.uint32(base))
                base += int(ends[-1])
                cursor += take
            i += 1
        return result, (parts[0] if len(parts) == 1 else np.concatenate(parts))

    def offset_for_timestamp(self, ts_us: int) -> int | None:
        """First retained offset whose timestamp is >= ``ts_us``, or None."""
        for seg in self._segments:
            if seg.count and seg.end_ts >= ts_us:
                if seg is not self._active:
                    self._track_reader(seg)
                rel = seg.first_at_or_after(ts_us)
                if rel is not None:
                    return seg.start_offset + rel
        return None

    def _track_reader(self, seg: Segment) -> None:
        readers = self._readers
        readers[seg.start_offset] = seg
        readers.move_to_end(seg.start_offset)
        while len(readers) > _OPEN_READERS:
            _, old = readers.popitem(last=False)
            old.close_read()

    # ------------------------------------------------------------------ durability
    def sync(self, index: bool = False) -> None:
        """fsync every segment written since the last sync (blocking; raises on error).

        Covers the active segment's .log (and its .index when ``index``), segments
        sealed since the last sync (both files), and the directory entries of new
        segments. Safe to call from a worker thread. The acknowledgement path syncs
        the .log only: recovery rebuilds index entries the .index lacks.
        """
        with self._state_lock:
            if self._closed:
                return
            pending, self._pending = self._pending, []
            active = self._active
            self._synced_gen = self._write_gen
        try:
            with self._fd_lock:
                if any(not s.name_durable for s in (*pending, active)):
                    layout.fsync_dir(self._dir)
                    for s in (*pending, active):
                        s.name_durable = True
                for seg in pending:
                    seg.fsync()
                    seg.close_write()
                active.fsync(index=index)
        except BaseException as exc:
            if isinstance(exc, OSError) and self._closed:
                # Closed (a topic deleted) while this sync waited for its worker: its
                # files may be gone, and nothing of a deleted log needs to be durable.
                return
            with self._state_lock:
                self._pending[:0] = [s for s in pending if s.log_fd >= 0]
                self._synced_gen = -1
            raise

    # ------------------------------------------------------------------ removal
    def truncate(self, offset: int) -> None:
        """Drop ``offset`` and every later record; the next append gets ``offset``.

        For a follower whose log diverged from its new leader. The dedup window is
        cleared, since it may remember ids of the dropped records.
        """
        self._staged = None
        if offset >= self._next:
            return
        if offset <= self.first_offset:
            self._replace_all(max(offset, 0))
            return
        i = bisect.bisect_right(self._starts, offset) - 1
        for seg in self._segments[i + 1 :]:
            self._discard(seg)
        del self._segments[i + 1 :]
        del self._starts[i + 1 :]
        seg = self._segments[i]
        if seg is not self._active:
            self._readers.pop(seg.start_offset, None)
            seg.close_read()
            seg.activate()
            with self._state_lock:
                if seg in self._pending:
                    self._pending.remove(seg)
                self._active = seg
        seg.truncate(offset - seg.start_offset)
        self._next = offset
        self._last_ts = max((s.end_ts for s in self._segments), default=0)
        self._write_gen += 1
        if self._dedup is not None:
            self._dedup.drop_from(offset)

    def purge(self) -> None:
        """Delete every segment and consumer-visible record; offsets restart at 0."""
        self._replace_all(0)
        self._last_ts = 0

    def delete_oldest_segments(self, count: int, barrier: int | None) -> int:
        """Delete up to ``count`` oldest sealed segments.

        Stops at a segment whose ``end_offset`` is above ``barrier`` (the lowest
        stored consumer offset; None means no consumer holds one). Returns how
        many were deleted.
        """
        deleted = 0
        while deleted < count and len(self._segments) > 1:
            if barrier is not None and self._segments[0].end_offset > barrier:
                break
            self._drop_oldest()
            deleted += 1
        return deleted

    def expire(self, now_us: int, expiry_us: int, barrier: int | None) -> int:
        """Delete sealed segments whose end timestamp + ``expiry_us`` <= ``now_us``."""
        deleted = 0
        while len(self._segments) > 1:
            seg = self._segments[0]
            if seg.end_ts + expiry_us > now_us:
                break
            if barrier is not None and seg.end_offset > barrier:
                break
            self._drop_oldest()
            deleted += 1
        return deleted

    def close(self) -> None:
        """Close every descriptor. Does not fsync: call ``sync`` first if needed."""
        if self._closed:
            return
        self._closed = True
        self._staged = None
        with self._fd_lock:
            for seg in self._segments:
                seg.close_write()
                seg.close_read()
            for seg in self._pending:
                seg.close_write()
        self._readers.clear()

    def _drop_oldest(self) -> None:
        seg = self._segments.pop(0)
        self._starts.pop(0)
        self._discard(seg)

    def _discard(self, seg: Segment) -> None:
        self._readers.pop(seg.start_offset, None)
        with self._state_lock:
            if seg in self._pending:
                self._pending.remove(seg)
        if seg.log_fd >= 0:
            with self._fd_lock:
                seg.close_write()
        seg.delete_files()

    def _replace_all(self, start: int) -> None:
        self._staged = None
        for seg in self._segments:
            self._discard(seg)
        new = Segment.create(self._dir, start)
        with self._state_lock:
            self._active = new
        self._segments = [new]
        self._starts = [start]
        self._next = start
        self._write_gen += 1
        if self._dedup is not None:
            self._dedup.clear()
