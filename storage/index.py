"""The 16-byte index entry, and the in-memory index of the active segment.

One entry per message, little-endian, entry ``n`` at byte ``16 * n``:

    rel_offset u32   offset - segment start (so entry n has rel_offset n)
    position   u32   END byte of the record in the .log (its start is the previous end)
    timestamp  u64   server timestamp of the record (non-decreasing)

Because relative offsets are dense, finding an offset is arithmetic, not a search;
the same file is the time index, searched by bisection on ``timestamp``. Storing
END positions means entry ``n`` alone proves that record ``n`` was fully written
before the entry was, which is the property recovery checks.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["ENTRY_SIZE", "INDEX_DTYPE", "IndexBuffer", "empty_entries", "read_entries"]

ENTRY_SIZE = 16
INDEX_DTYPE = np.dtype([("rel", "<u4"), ("pos", "<u4"), ("ts", "<u8")])
assert INDEX_DTYPE.itemsize == ENTRY_SIZE

_MIN_CAPACITY = 1024


def empty_entries(count: int = 0) -> np.ndarray:
    return np.zeros(count, dtype=INDEX_DTYPE)


def read_entries(fd: int, first: int, count: int) -> np.ndarray:
    """Entries ``first .. first+count-1`` of an index file, with one ``pread``.

    Returns fewer entries if the file is shorter (a torn tail is ignored).
    """
    if count <= 0:
        return empty_entries()
    raw = os.pread(fd, count * ENTRY_SIZE, first * ENTRY_SIZE)
    usable = len(raw) - len(raw) % ENTRY_SIZE
    return np.frombuffer(raw, dtype=INDEX_DTYPE, count=usable // ENTRY_SIZE)


class IndexBuffer:
    """A growable array of entries: the active segment's index kept in memory.

    New entries are filled in place at the tail (``reserve``) and the same memory
    is handed to ``os.pwrite``, so an append builds its index bytes exactly once.
    """

    __slots__ = ("_count", "_data")

    def __init__(self, entries: np.ndarray | None = None) -> None:
        count = 0 if entries is None else len(entries)
        self._data = np.empty(max(_MIN_CAPACITY, count), dtype=INDEX_DTYPE)
        if count:
            assert entries is not None
            self._data[:count] = entries
        self._count = count

    def __len__(self) -> int:
        return self._count

    @property
    def entries(self) -> np.ndarray:
        """A view of the live entries (invalidated by the next ``reserve``)."""
        return self._data[: self._count]

    def reserve(self, count: int) -> np.ndarray:
        """A writable view of ``count`` new entries past the end, not yet counted."""
        need = self._count + count
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)), dtype=INDEX_DTYPE)
            grown[: self._count] = self._data[: self._count]
            self._data = grown
        return self._data[self._count : need]

    def commit(self, count: int) -> None:
        """Count the ``count`` entries filled in by the last ``reserve``."""
        self._count += count

    def truncate(self, count: int) -> None:
        self._count = min(self._count, max(count, 0))

    def end_position(self, n: int) -> int:
        """End byte of the first ``n`` records (0 when ``n`` is 0)."""
        return int(self._data[n - 1]["pos"]) if n > 0 else 0
