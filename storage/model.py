"""Value types of the partition log API: its configuration and what its calls return."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AppendResult", "LogConfig", "ReadResult", "SegmentInfo", "Staged"]


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Per-partition settings.

    ``segment_size``: a segment is sealed and a new one started once its .log
    reaches this many bytes (a batch is never split, so a segment can exceed it by
    up to one batch). ``checksum``: stamp XXH3-64 on append and verify on recovery;
    when off, records are stored with checksum 0. ``dedup_window``: 0 disables
    deduplication, otherwise the most ids remembered, each for ``dedup_ttl_us``.
    """

    segment_size: int = 1 << 30
    checksum: bool = True
    dedup_window: int = 0
    dedup_ttl_us: int = 60_000_000

    def __post_init__(self) -> None:
        if self.segment_size <= 0:
            raise ValueError("segment_size must be positive")
        if self.dedup_window < 0 or self.dedup_ttl_us < 0:
            raise ValueError("dedup settings must not be negative")


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Offsets given to an appended batch.

    ``count`` is 0 when every message was a duplicate (or the batch was empty);
    then ``first_offset`` is the next offset and ``last_offset`` one less.
    ``size`` is the number of bytes written to the log.
    """

    first_offset: int
    last_offset: int
    count: int
    size: int


@dataclass(frozen=True, slots=True)
class ReadResult:
    """``count`` records from ``first_offset``, back to back in Iggy's wire/disk format."""

    first_offset: int
    count: int
    data: bytes

    @property
    def last_offset(self) -> int:
        return self.first_offset + self.count - 1


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One segment as reported to clients and used by retention.

    ``end_offset`` is the offset of the last record, or ``start_offset`` for an
    empty segment (as Iggy reports it); ``messages_count`` tells the two apart.
    """

    start_offset: int
    end_offset: int
    size: int
    start_ts: int
    end_ts: int
    sealed: bool
    messages_count: int


@dataclass(frozen=True, slots=True)
class Staged:
    """A batch stamped in memory by ``PartitionLog.stage`` and not yet written.

    ``records`` are the bytes as they will be stored and ``ends`` each record's
    end in them; ``keys`` let a failed write take the batch's ids back out of the
    dedup window. ``duplicate_end`` is one past the highest offset of an already
    stored original among the messages dedup dropped (0 if none): a send carrying
    duplicates holds only once that offset does. ``count`` is 0 when every message
    was a duplicate.
    """

    first_offset: int
    records: np.ndarray  # uint8
    ends: np.ndarray  # int64
    timestamp: int
    keys: list[bytes] | None = None
    duplicate_end: int = 0

    @property
    def count(self) -> int:
        return len(self.ends)
