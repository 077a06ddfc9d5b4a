"""Bring one segment's .log and .index back to a state where every indexed record is whole.

Run on open. The write order (log bytes first, then index entries, each with
``pwrite``) bounds what a crash can leave behind:

* kill -9: the index holds a prefix of the entries and the log a prefix of the
  bytes written; the log may run past the last entry (written, not yet indexed)
  and may end inside a record; the index may end inside an entry.
* power loss: pages reach the disk in any order, so the index can also name
  records whose log bytes are zeros (or stale), and either file can be short.

Rules, applied in order:

1. A torn index tail (size not a multiple of 16) is dropped.
2. The longest prefix of entries that is self-consistent (dense relative offsets,
   increasing end positions at least one header apart, within the log's size,
   non-decreasing timestamps) is kept.
3. The last kept records are verified against the log: at least the last batch
   (entries sharing the last timestamp) and at least the last ``TAIL_VERIFY_BYTES``.
   The first record whose header disagrees with the index, is not stamped (id 0,
   reserved != 0) or, with checksums on, fails its checksum ends the segment.
4. Records in the log past the last entry are walked one by one and re-indexed
   while they are whole and valid; the rest of the log is cut off.
5. A missing index is the empty index, so rule 4 rebuilds it from the log.

Older sealed segments that pass a cheap check (entry count, last entry names the
log's end, last record verifies) are trusted without reading their whole index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whippet.storage._io import pwrite_all
from whippet.storage.index import ENTRY_SIZE, INDEX_DTYPE, empty_entries, read_entries
from whippet.storage.record import HEADER_SIZE, count_valid, walk

__all__ = ["TAIL_VERIFY_BYTES", "Recovered", "recover_segment"]

TAIL_VERIFY_BYTES = 4 << 20
_MAX_POSITION = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class Recovered:
    """What survived in one segment. ``entries`` is set when the whole index was read."""

    count: int
    size: int
    start_ts: int
    end_ts: int
    entries: np.ndarray | None
    repaired: bool


def recover_segment(
    log_path: Path, index_path: Path, start_offset: int, verify_checksum: bool, thorough: bool
) -> Recovered:
    """Repair the segment in place and describe what it holds.

    ``thorough`` reads and checks the whole index (done for the newest segments,
    which are the ones a crash can damage); otherwise a cheap check is tried first.
    """
    log_fd = os.open(log_path, os.O_RDWR | os.O_CREAT, 0o644)
    index_fd = os.open(index_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        log_size = os.fstat(log_fd).st_size
        index_size = os.fstat(index_fd).st_size
        if not thorough:
            quick = _quick_check(log_fd, index_fd, log_size, index_size, start_offset,
                                 verify_checksum)
            if quick is not None:
                return quick
        return _full_recovery(log_fd, index_fd, log_size, index_size, start_offset,
                              verify_checksum)
    finally:
        os.close(log_fd)
        os.close(index_fd)


def _quick_check(
    log_fd: int, index_fd: int, log_size: int, index_size: int, start: int, verify: bool
) -> Recovered | None:
    n = index_size // ENTRY_SIZE
    if index_size % ENTRY_SIZE or n == 0:
        return None
    first = read_entries(index_fd, 0, 1)
    tail = read_entries(index_fd, max(n - 2, 0), min(n, 2))
    if len(first) != 1 or len(tail) != min(n, 2):
        return None
    last = tail[-1]
    if int(first[0]["rel"]) != 0 or int(last["rel"]) != n - 1 or int(last["pos"]) != log_size:
        return None
    prev_end = int(tail[0]["pos"]) if n >= 2 else 0
    length = log_size - prev_end
    if length < HEADER_SIZE:
        return None
    data = np.frombuffer(os.pread(log_fd, length, prev_end), dtype=np.uint8)
    if len(data) != length:
        return None
    ends = np.array([length], dtype=np.int64)
    stamps = np.array([last["ts"]], dtype=np.uint64)
    if count_valid(data, ends, start + n - 1, stamps, verify) != 1:
        return None
    return Recovered(n, log_size, int(first[0]["ts"]), int(last["ts"]), None, False)


def _consistent_prefix(entries: np.ndarray, log_size: int) -> int:
    n = len(entries)
    if n == 0:
        return 0
    pos = entries["pos"].astype(np.int64)
    prev = np.concatenate(([0], pos[:-1]))
    ok = entries["rel"] == np.arange(n, dtype=np.uint32)
    ok &= (pos - prev) >= HEADER_SIZE
    ok &= pos <= log_size
    ts = entries["ts"]
    ok[1:] &= ts[1:] >= ts[:-1]
    return n if bool(ok.all()) else int(np.argmin(ok))


def _verified_prefix(
    log_fd: int, entries: np.ndarray, k: int, start: int, verify: bool
) -> int:
    if k == 0:
        return 0
    pos = entries["pos"][:k].astype(np.int64)
    ts = entries["ts"][:k]
    last_end = int(pos[-1])
    by_bytes = int(np.searchsorted(pos, last_end - TAIL_VERIFY_BYTES, side="right"))
    by_batch = int(np.searchsorted(ts, ts[-1], side="left"))
    j0 = min(by_bytes, by_batch)
    base = int(pos[j0 - 1]) if j0 else 0
    data = np.frombuffer(os.pread(log_fd, last_end - base, base), dtype=np.uint8)
    if len(data) != last_end - base:
        return j0  # the log shrank under us; trust nothing past the window start
    good = count_valid(data, pos[j0:] - base, start + j0, ts[j0:], verify)
    return j0 + good


def _full_recovery(
    log_fd: int, index_fd: int, log_size: int, index_size: int, start: int, verify: bool
) -> Recovered:
    whole = index_size - index_size % ENTRY_SIZE
    raw = os.pread(index_fd, whole, 0) if whole else b""
    entries = np.frombuffer(raw, dtype=INDEX_DTYPE, count=len(raw) // ENTRY_SIZE).copy()
    k = _consistent_prefix(entries, log_size)
    k = _verified_prefix(log_fd, entries, k, start, verify)
    kept_end = int(entries["pos"][k - 1]) if k else 0
    kept_ts = int(entries["ts"][k - 1]) if k else 0
    limit = min(log_size, _MAX_POSITION)
    ends, stamps = walk(lambda p, s: os.pread(log_fd, s, p), kept_end, limit, start + k,
                        kept_ts, verify)
    if ends:
        walked = empty_entries(len(ends))
        walked["rel"] = np.arange(k, k + len(ends), dtype=np.uint32)
        walked["pos"] = ends
        walked["ts"] = stamps
        entries = np.concatenate((entries[:k], walked))
    else:
        entries = entries[:k]
    count = len(entries)
    size = int(entries["pos"][-1]) if count else 0
    repaired = size != log_size or count * ENTRY_SIZE != index_size or bool(ends)
    if size != log_size:
        os.ftruncate(log_fd, size)
    if count * ENTRY_SIZE != index_size or ends:
        os.ftruncate(index_fd, k * ENTRY_SIZE)
        if ends:
            pwrite_all(index_fd, entries[k:].tobytes(), k * ENTRY_SIZE)
    start_ts = int(entries["ts"][0]) if count else 0
    end_ts = int(entries["ts"][-1]) if count else 0
    return Recovered(count, size, start_ts, end_ts, entries, repaired)
