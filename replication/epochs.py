"""Leader epochs of one partition replica, and the epoch it promised not to go below.

Records carry no epoch (Iggy's format has no room for one), so each replica keeps a
small file of ``(epoch, start_offset)`` pairs beside its log: the first offset
written under each leader epoch. Before a replica follows a new leader it finds where
its log stops matching the leader's (:mod:`.divergence`) and truncates there.

The same file holds the replica's **promise** (see :mod:`.election`): the lowest epoch
it may still follow or lead. It is written (and fsynced) before the replica answers
a fence, so a restart cannot forget it.

File format (``epochs``): text lines ``<epoch> <start_offset>`` and at most one
``promised <epoch>``, rewritten whole through a temp file + fsync + rename; the file
is tiny. Without a path (the simulation) nothing is written.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from pathlib import Path

__all__ = ["EpochCache"]


class EpochCache:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._entries: list[tuple[int, int]] = []
        self._promised = 0
        if path is not None and path.exists():
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == "promised" and parts[1].isdigit():
                    self._promised = int(parts[1])
                elif len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                    self._entries.append((int(parts[0]), int(parts[1])))

    @property
    def entries(self) -> list[tuple[int, int]]:
        return list(self._entries)

    @property
    def last_epoch(self) -> int | None:
        return self._entries[-1][0] if self._entries else None

    @property
    def promised(self) -> int:
        """The lowest epoch this replica may still follow or lead."""
        return self._promised

    def promise(self, epoch: int) -> bool:
        """Promise never to follow or lead below ``epoch`` (durable before it returns).
        Returns whether the promise was raised."""
        if epoch <= self._promised:
            return False
        self._promised = epoch
        self._save()
        return True

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
        """The log was purged: no epoch covers any record any more (the promise stays)."""
        self._entries = []
        self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        tmp = self._path.with_suffix(".tmp")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(f"{e} {s}\n" for e, s in self._entries)
        if self._promised:
            lines += f"promised {self._promised}\n"
        with open(tmp, "w") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)
