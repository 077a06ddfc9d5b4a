"""Whole-batch operations on message records (the §4.1 layout, same on disk and wire).

A record is a 64-byte header, then the payload, then the user headers:

    0  checksum u64          XXH3-64 (seed 0) of bytes 8..end
    8  id u128               never 0 once stored
   24  offset u64
   32  timestamp u64         server append time, µs
   40  origin_timestamp u64
   48  user_headers_length u32
   52  payload_length u32
   56  reserved u64          always 0

Batches are numpy byte arrays plus an array of record END positions. Headers are
gathered into a structured array with one fancy index, edited field by field and
scattered back, so no Python code runs per message except the one C call per record
that hashes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import xxhash

from whippet.wire.batch import RECORD_DTYPE

__all__ = [
    "HEADER_DTYPE",
    "HEADER_SIZE",
    "assign_missing_ids",
    "check_stamped",
    "checksums",
    "count_valid",
    "fill_random_ids",
    "gather_headers",
    "record_starts",
    "scatter_checksums",
    "scatter_headers",
    "walk",
]

HEADER_SIZE = 64
HEADER_DTYPE = RECORD_DTYPE  # the protocol's layout, owned by wire.batch

_HEADER_RANGE = np.arange(HEADER_SIZE, dtype=np.int64)
_CHECKSUM_RANGE = np.arange(8, dtype=np.int64)
_hash = xxhash.xxh3_64_intdigest

# UUIDv4 stored as the 16 uuid bytes in order (a u128 read little-endian): the
# version nibble is the high half of byte 6 (bits 48..55 of id_lo), the variant the
# top two bits of byte 8 (the low byte of id_hi).
_V4_LO_CLEAR = np.uint64(~(0xF0 << 48) & 0xFFFF_FFFF_FFFF_FFFF)
_V4_LO_SET = np.uint64(0x40 << 48)
_V4_HI_CLEAR = np.uint64(~0xC0 & 0xFFFF_FFFF_FFFF_FFFF)
_V4_HI_SET = np.uint64(0x80)


def record_starts(ends: np.ndarray) -> np.ndarray:
    """Start of each record given the END positions (int64, first start 0)."""
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1]
    return starts


def gather_headers(u8: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copy every record's header out of ``u8``: (structured headers, byte index)."""
    idx = starts[:, None] + _HEADER_RANGE
    return u8[idx].view(HEADER_DTYPE).reshape(len(starts)), idx


def scatter_headers(u8: np.ndarray, idx: np.ndarray, headers: np.ndarray) -> None:
    u8[idx] = headers.view(np.uint8).reshape(len(headers), HEADER_SIZE)


def scatter_checksums(u8: np.ndarray, starts: np.ndarray, sums: np.ndarray) -> None:
    u8[starts[:, None] + _CHECKSUM_RANGE] = sums.astype("<u8").view(np.uint8).reshape(-1, 8)


def checksums(buf: memoryview, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """XXH3-64 of bytes ``start+8 .. end`` of each record (one C call per record)."""
    sums = [_hash(buf[s:e]) for s, e in zip((starts + 8).tolist(), ends.tolist())]
    return np.array(sums, dtype=np.uint64)


def fill_random_ids(headers: np.ndarray, mask: np.ndarray) -> None:
    """Give the records selected by ``mask`` fresh random UUIDv4 ids."""
    k = int(np.count_nonzero(mask))
    if not k:
        return
    rnd = np.frombuffer(os.urandom(16 * k), dtype="<u8").reshape(k, 2)
    headers["id_lo"][mask] = (rnd[:, 0] & _V4_LO_CLEAR) | _V4_LO_SET
    headers["id_hi"][mask] = (rnd[:, 1] & _V4_HI_CLEAR) | _V4_HI_SET


def assign_missing_ids(records: memoryview | bytes | bytearray | np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """A copy of the batch where every record with id 0 got a random UUIDv4, or None
    when none has id 0 (the node that receives a send does this before forwarding it,
    so a retry after a failover carries the same ids and deduplication can see it)."""
    if not len(ends):
        return None
    ends64 = np.asarray(ends, dtype=np.int64)
    u8 = np.frombuffer(records, dtype=np.uint8, count=int(ends64[-1]))
    starts = record_starts(ends64)
    headers, idx = gather_headers(u8, starts)
    zero = (headers["id_lo"] == 0) & (headers["id_hi"] == 0)
    if not bool(zero.any()):
        return None
    fill_random_ids(headers, zero)
    out = u8.copy()
    scatter_headers(out, idx, headers)
    return out


def check_stamped(
    u8: np.ndarray, ends: np.ndarray, first_offset: int, min_timestamp: int
) -> np.ndarray:
    """Headers of an already stamped batch (replication), or ``ValueError``.

    The batch must continue the log: contiguous offsets from ``first_offset``,
    lengths that agree with ``ends`` and timestamps that never go backwards.
    """
    ends64 = ends.astype(np.int64)
    starts = record_starts(ends64)
    if bool((ends64 - starts < HEADER_SIZE).any()):
        raise ValueError("record shorter than its header")
    headers, _ = gather_headers(u8, starts)
    sizes = (
        HEADER_SIZE
        + headers["payload_length"].astype(np.int64)
        + headers["user_headers_length"].astype(np.int64)
    )
    if not np.array_equal(sizes, ends64 - starts):
        raise ValueError("record lengths disagree with their end positions")
    n = len(ends64)
    expected = np.arange(first_offset, first_offset + n, dtype=np.uint64)
    if not np.array_equal(headers["offset"], expected):
        raise ValueError(
            f"stamped batch starts at {int(headers['offset'][0])} (or has gaps), "
            f"expected contiguous offsets from {first_offset}"
        )
    stamps = headers["timestamp"]
    if int(stamps[0]) < min_timestamp or bool((stamps[1:] < stamps[:-1]).any()):
        raise ValueError("stamped batch timestamps go backwards")
    return headers


def count_valid(
    u8: np.ndarray,
    ends: np.ndarray,
    first_offset: int,
    timestamps: np.ndarray | None,
    verify_checksum: bool,
) -> int:
    """How many leading records of a stored batch are intact.

    ``u8`` holds records back to back from byte 0, ``ends`` their END positions as
    the index claims them. A record is intact when its header agrees with the index
    (length, offset, timestamp), its reserved field is 0, its id is non-zero (the
    server never stores id 0, so zeros left by a power loss fail here even without
    checksums) and, if asked, its checksum matches.
    """
    n = len(ends)
    if n == 0:
        return 0
    ends64 = ends.astype(np.int64)
    starts = record_starts(ends64)
    lengths = ends64 - starts
    ok = lengths >= HEADER_SIZE
    safe_starts = np.where(ok, starts, 0)
    if len(u8) < HEADER_SIZE or int(ends64[-1]) > len(u8):
        raise ValueError("buffer shorter than the records it should hold")
    headers, _ = gather_headers(u8, safe_starts)
    ok &= (
        HEADER_SIZE
        + headers["payload_length"].astype(np.int64)
        + headers["user_headers_length"].astype(np.int64)
    ) == lengths
    ok &= headers["offset"] == np.arange(first_offset, first_offset + n, dtype=np.uint64)
    ok &= headers["reserved"] == 0
    ok &= (headers["id_lo"] != 0) | (headers["id_hi"] != 0)
    if timestamps is not None:
        ok &= headers["timestamp"] == timestamps
    good = n if bool(ok.all()) else int(np.argmin(ok))
    if verify_checksum and good:
        sums = checksums(u8.data, starts[:good], ends64[:good])
        match = sums == headers["checksum"][:good]
        if not bool(match.all()):
            good = int(np.argmin(match))
    return good


def walk(
    read_at: Callable[[int, int], bytes],
    position: int,
    limit: int,
    first_offset: int,
    min_timestamp: int,
    verify_checksum: bool,
    chunk: int = 8 << 20,
) -> tuple[list[int], list[int]]:
    """Walk records not covered by the index, from ``position`` up to ``limit``.

    Recovery only (a Python loop is fine there). Stops at the first record that is
    torn, out of sequence or fails its checks. Returns the END position and the
    timestamp of every intact record found.
    """
    ends: list[int] = []
    stamps: list[int] = []
    base, data = position, b""
    expected, last_ts = first_offset, min_timestamp
    while position + HEADER_SIZE <= limit:
        rel = position - base
        if rel + HEADER_SIZE > len(data):
            base, data = position, read_at(position, max(chunk, HEADER_SIZE))
            rel = 0
        header = np.frombuffer(data, dtype=HEADER_DTYPE, count=1, offset=rel)[0]
        size = HEADER_SIZE + int(header["payload_length"]) + int(header["user_headers_length"])
        end = position + size
        if (
            end > limit
            or int(header["offset"]) != expected
            or int(header["reserved"]) != 0
            or (int(header["id_lo"]) == 0 and int(header["id_hi"]) == 0)
            or int(header["timestamp"]) < last_ts
        ):
            break
        if rel + size > len(data):
            base, data = position, read_at(position, max(chunk, size))
            rel = 0
            if size > len(data):
                break
        if verify_checksum and _hash(memoryview(data)[rel + 8 : rel + size]) != int(
            header["checksum"]
        ):
            break
        ends.append(end)
        stamps.append(int(header["timestamp"]))
        expected += 1
        last_ts = int(header["timestamp"])
        position = end
    return ends, stamps
