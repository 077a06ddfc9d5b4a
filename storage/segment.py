"""One segment: a .log of records and its .index, plus what the log needs to know of it.

The active (newest) segment keeps its whole index in memory (``IndexBuffer``) and
holds read-write descriptors. Sealed segments keep only their bounds; reads look
up the two index entries they need with ``pread`` (relative offsets are dense, so
entry ``n`` is at ``16 * n``), which keeps memory flat however many segments a
partition retains.

Descriptor ownership: ``log_fd``/``index_fd`` are the write descriptors, fsynced by
``PartitionLog.sync`` possibly from another thread, so only the log (holding its
fd lock) closes them. Read descriptors of sealed segments are separate and only
touched by the owning thread.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from whippet.storage import layout
from whippet.storage._io import pwrite_all
from whippet.storage.index import ENTRY_SIZE, INDEX_DTYPE, IndexBuffer, read_entries
from whippet.storage.record import HEADER_DTYPE, HEADER_SIZE
from whippet.storage.recovery import recover_segment

__all__ = ["Segment"]

_SMALL_RANGE = 256


class Segment:
    __slots__ = (
        "_read_index_fd",
        "_read_log_fd",
        "count",
        "directory",
        "end_ts",
        "index",
        "index_fd",
        "log_fd",
        "name_durable",
        "sealed",
        "size",
        "start_offset",
        "start_ts",
    )

    def __init__(self, directory: Path, start_offset: int) -> None:
        self.directory = directory
        self.start_offset = start_offset
        self.count = 0
        self.size = 0
        self.start_ts = 0
        self.end_ts = 0
        self.sealed = True
        self.index: IndexBuffer | None = None
        self.log_fd = -1
        self.index_fd = -1
        self._read_log_fd = -1
        self._read_index_fd = -1
        #: False until the directory entry of a newly created segment is fsynced.
        self.name_durable = True

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, directory: Path, start_offset: int) -> Segment:
        """A new, empty, active segment (files truncated if a stale pair exists)."""
        seg = cls(directory, start_offset)
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
        seg.log_fd = os.open(layout.log_path(directory, start_offset), flags, 0o644)
        seg.index_fd = os.open(layout.index_path(directory, start_offset), flags, 0o644)
        seg.index = IndexBuffer()
        seg.sealed = False
        seg.name_durable = False
        return seg

    @classmethod
    def recover(
        cls, directory: Path, start_offset: int, verify_checksum: bool, thorough: bool
    ) -> tuple[Segment, bool]:
        """Open an existing segment after repairing it; returns (segment, repaired)."""
        got = recover_segment(
            layout.log_path(directory, start_offset),
            layout.index_path(directory, start_offset),
            start_offset,
            verify_checksum,
            thorough,
        )
        seg = cls(directory, start_offset)
        seg.count, seg.size = got.count, got.size
        seg.start_ts, seg.end_ts = got.start_ts, got.end_ts
        if got.entries is not None and thorough:
            seg.index = IndexBuffer(got.entries)
        return seg, got.repaired

    def activate(self) -> None:
        """Make this segment the one appends go to (after open or a truncate)."""
        if self.index is None:
            self.index = IndexBuffer(self._load_entries())
        if self.log_fd < 0:
            self.log_fd = os.open(layout.log_path(self.directory, self.start_offset), os.O_RDWR)
            self.index_fd = os.open(
                layout.index_path(self.directory, self.start_offset), os.O_RDWR
            )
        self.sealed = False

    def seal(self) -> None:
        """Stop taking appends; the write descriptors stay open until synced."""
        self.sealed = True
        self.index = None

    def fsync(self, index: bool = True) -> None:
        """fsync the .log, and the .index unless ``index`` is false.

        The .log alone is what makes an acknowledged record durable: recovery
        re-indexes records the .index does not cover, so the index can be synced
        lazily (on roll, close and full syncs) without risking a record.
        """
        if self.log_fd >= 0:
            os.fdatasync(self.log_fd)
        if index and self.index_fd >= 0:
            os.fdatasync(self.index_fd)

    def close_write(self) -> None:
        for fd in (self.log_fd, self.index_fd):
            if fd >= 0:
                os.close(fd)
        self.log_fd = self.index_fd = -1

    def close_read(self) -> None:
        for fd in (self._read_log_fd, self._read_index_fd):
            if fd >= 0:
                os.close(fd)
        self._read_log_fd = self._read_index_fd = -1

    @property
    def has_read_fds(self) -> bool:
        return self._read_log_fd >= 0

    def delete_files(self) -> None:
        """Unlink both files (descriptors must already be closed)."""
        self.close_read()
        for path in (
            layout.log_path(self.directory, self.start_offset),
            layout.index_path(self.directory, self.start_offset),
        ):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    # ------------------------------------------------------------------ writes
    def write(self, data: np.ndarray, entries: np.ndarray) -> None:
        """Append ``data`` (uint8) to the log, then ``entries`` (reserved) to the index.

        On failure both files are cut back to their previous length, so the segment
        on disk and in memory still agree, and the error propagates.
        """
        assert self.index is not None and not self.sealed
        n = len(entries)
        try:
            pwrite_all(self.log_fd, data.data, self.size)
            pwrite_all(self.index_fd, entries.view(np.uint8).data, self.count * ENTRY_SIZE)
        except OSError:
            self._cut_files(self.size, self.count)
            raise
        self.index.commit(n)
        if self.count == 0:
            self.start_ts = int(entries["ts"][0])
        self.end_ts = int(entries["ts"][-1])
        self.count += n
        self.size += len(data)

    def truncate(self, keep: int) -> None:
        """Keep only the first ``keep`` records (the segment must be active)."""
        assert self.index is not None
        keep = max(0, min(keep, self.count))
        size = self.index.end_position(keep)
        # Errors propagate: stale index entries left past a failed cut could be
        # mistaken for records later written over the same bytes.
        os.ftruncate(self.log_fd, size)
        os.ftruncate(self.index_fd, keep * ENTRY_SIZE)
        self.index.truncate(keep)
        self.count, self.size = keep, size
        entries = self.index.entries
        self.start_ts = int(entries["ts"][0]) if keep else 0
        self.end_ts = int(entries["ts"][-1]) if keep else 0

    def _cut_files(self, size: int, count: int) -> None:
        """Undo a failed append's partial writes."""
        try:
            os.ftruncate(self.log_fd, size)
            os.ftruncate(self.index_fd, count * ENTRY_SIZE)
        except OSError:
            pass  # best effort; recovery drops whatever the index does not cover

    # ------------------------------------------------------------------ reads
    @property
    def end_offset(self) -> int:
        """Offset of the last record (the start offset when empty, as Iggy reports)."""
        return self.start_offset + self.count - 1 if self.count else self.start_offset

    def bounds(self, rel: int, count: int) -> tuple[int, int]:
        """Byte range in the log of records ``rel .. rel+count-1``."""
        last = rel + count - 1
        if self.index is not None:
            entries = self.index.entries
            start = int(entries[rel - 1]["pos"]) if rel else 0
            return start, int(entries[last]["pos"])
        _, index_fd = self._read_fds()
        if count <= _SMALL_RANGE:
            first = max(rel - 1, 0)
            got = read_entries(index_fd, first, last - first + 1)
            end = int(got[-1]["pos"])
            return (int(got[0]["pos"]) if rel else 0), end
        end = int(read_entries(index_fd, last, 1)[0]["pos"])
        start = int(read_entries(index_fd, rel - 1, 1)[0]["pos"]) if rel else 0
        return start, end

    def read(self, rel: int, count: int) -> bytes:
        """The bytes of records ``rel .. rel+count-1`` with one ``pread``."""
        start, end = self.bounds(rel, count)
        fd = self.log_fd if self.index is not None else self._read_fds()[0]
        data = os.pread(fd, end - start, start)
        if len(data) != end - start:
            raise OSError(f"short read in segment {self.start_offset}: {len(data)} < {end - start}")
        return data

    def record_ends(self, rel: int, count: int) -> np.ndarray:
        """End positions of records ``rel .. rel+count-1``, relative to the first one's start.

        Straight from the index, so a replication fetch can hand records to a
        follower's ``append_stamped`` without walking them.
        """
        if self.index is not None:
            window = self.index.entries["pos"][max(rel - 1, 0) : rel + count]
        else:
            window = read_entries(self._read_fds()[1], max(rel - 1, 0), count + (1 if rel else 0))["pos"]
        start = int(window[0]) if rel else 0
        ends = window[1:] if rel else window
        return (ends.astype(np.int64) - start).astype(np.uint32)

    def record_headers(self, rel: int, count: int) -> np.ndarray:
        """The 64-byte headers of records ``rel .. rel+count-1`` (structured), read in place
        through a read-only memory map: only the header pages are touched."""
        if count <= 0:
            return np.zeros(0, dtype=HEADER_DTYPE)
        base, _ = self.bounds(rel, count)
        ends = self.record_ends(rel, count).astype(np.int64) + base
        starts = np.concatenate(([base], ends[:-1]))
        data = np.memmap(layout.log_path(self.directory, self.start_offset), dtype=np.uint8, mode="r",
                         shape=(int(ends[-1]),))
        try:
            return np.ascontiguousarray(data[starts[:, None] + np.arange(HEADER_SIZE)]).view(HEADER_DTYPE).ravel()
        finally:
            del data

    def first_at_or_after(self, ts_us: int) -> int | None:
        """Relative offset of the first record with timestamp >= ``ts_us``."""
        if not self.count or self.end_ts < ts_us:
            return None
        if self.start_ts >= ts_us:
            return 0
        stamps = (self.index.entries if self.index is not None else self._load_entries())["ts"]
        rel = int(np.searchsorted(stamps, np.uint64(ts_us), side="left"))
        return rel if rel < self.count else None

    def _load_entries(self) -> np.ndarray:
        path = layout.index_path(self.directory, self.start_offset)
        with open(path, "rb") as f:
            raw = f.read(self.count * ENTRY_SIZE)
        return np.frombuffer(raw, dtype=INDEX_DTYPE, count=len(raw) // ENTRY_SIZE)

    def _read_fds(self) -> tuple[int, int]:
        if self._read_log_fd < 0:
            self._read_log_fd = os.open(
                layout.log_path(self.directory, self.start_offset), os.O_RDONLY
            )
            try:
                self._read_index_fd = os.open(
                    layout.index_path(self.directory, self.start_offset), os.O_RDONLY
                )
            except OSError:
                os.close(self._read_log_fd)
                self._read_log_fd = -1
                raise
        return self._read_log_fd, self._read_index_fd
