"""Leader epochs of one partition replica: which epoch's leader wrote which offsets.

Records carry no epoch (Iggy's format has no room for one), so each replica keeps
a small file of ``(epoch, start_offset)`` pairs beside its log: the first offset
written under each leader epoch. Before a replica follows a new leader it asks the
leader where its own last epoch ends there and truncates everything past that
point, which removes a tail that only a dead leader ever had (Kafka's KIP-101).

File format (``epochs``): text lines ``<epoch> <start_offset>``, rewritten whole
through a temp file + fsync + rename; the file is tiny.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from pathlib import Path

__all__ = ["EpochCache"]


class EpochCache:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._entries: list[tuple[int, int]] = []
        if path.exists():
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                    self._entries.append((int(parts[0]), int(parts[1])))

    @property
    def entries(self) -> list[tuple[int, int]]:
        return list(self._entries)

    @property
    def last_epoch(self) -> int | None:
        return self._entries[-1][0] if self._entries else None

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` starts at ``start_offset`` (idempotent; older epochs ignored)."""
        if self._entries and epoch <= self._entries[-1][0]:
            return
        # An epoch that starts where the previous one did replaces it (it wrote nothing).
        while self._entries and self._entries[-1][1] >= start_offset:
            self._entries.pop()
        self._entries.append((epoch, start_offset))
        self._save()

    def end_offset(self, epoch: int, log_end: int) -> tuple[int, int] | None:
        """(largest known epoch <= ``epoch``, the offset where it ends) or None.

        The end of the latest epoch is the log end.
        """
        i = bisect_right(self._entries, (epoch, 1 << 64)) - 1
        if i < 0:
            return None
        found = self._entries[i][0]
        end = self._entries[i + 1][1] if i + 1 < len(self._entries) else log_end
        return found, end

    def truncate_from(self, offset: int) -> None:
        """Forget epochs that start at or after ``offset`` (the log was cut there)."""
        kept = [e for e in self._entries if e[1] < offset]
        if kept != self._entries:
            self._entries = kept
            self._save()

    def clear(self) -> None:
        self._entries = []
        self._save()

    def _save(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w") as f:
            f.write("".join(f"{e} {s}\n" for e, s in self._entries))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)
