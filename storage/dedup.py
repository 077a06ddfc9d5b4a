"""Per-partition message-id deduplication window (off by default).

Iggy 0.8 keeps a TTL cache of recently seen u128 ids per partition and silently
drops a message whose id is in it. Here the window is an insertion-ordered map
id -> first-seen time, bounded by ``max_entries`` and ``ttl_us``; the oldest ids
leave first, so both bounds are enforced by popping from the front.

Ids are compared as their 16 stored bytes. The membership test is a Python loop
over the batch's ids; that is accepted because dedup is opt-in and the loop is a
dict lookup per id, while the common path (dedup off) never builds this object.
Ids that the server generated (the client sent 0) are unique by construction and
are neither checked nor remembered, so they do not push real ids out of the window.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

__all__ = ["DedupWindow"]


class DedupWindow:
    __slots__ = ("_seen", "max_entries", "ttl_us")

    def __init__(self, max_entries: int, ttl_us: int) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self.ttl_us = ttl_us
        self._seen: OrderedDict[bytes, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, key: bytes) -> bool:
        return key in self._seen

    def admit(
        self, id_lo: np.ndarray, id_hi: np.ndarray, now_us: int, check: np.ndarray | None = None
    ) -> np.ndarray:
        """Keep-mask for a batch, remembering the ids it keeps.

        A message is dropped when its id is in the window or appeared earlier in the
        same batch. ``check`` (bool per message) limits the test to those messages;
        the others are always kept and not remembered.
        """
        self._expire(now_us)
        n = len(id_lo)
        ids = np.empty((n, 2), dtype="<u8")
        ids[:, 0] = id_lo
        ids[:, 1] = id_hi
        raw = ids.tobytes()
        keep = np.ones(n, dtype=bool)
        seen = self._seen
        rows = range(n) if check is None else np.flatnonzero(check).tolist()
        for i in rows:
            key = raw[16 * i : 16 * i + 16]
            if key in seen:
                keep[i] = False
            else:
                seen[key] = now_us
        self._trim()
        return keep

    def remember(self, id_lo: np.ndarray, id_hi: np.ndarray, now_us: int) -> None:
        """Record ids without filtering (a follower copying its leader's log)."""
        self.admit(id_lo, id_hi, now_us)

    def forget(self, id_lo: np.ndarray, id_hi: np.ndarray, check: np.ndarray | None = None) -> None:
        """Undo ``admit`` for a batch that was not stored after all (a failed write),
        so the client's retry is not mistaken for a duplicate."""
        ids = np.empty((len(id_lo), 2), dtype="<u8")
        ids[:, 0] = id_lo
        ids[:, 1] = id_hi
        raw = ids.tobytes()
        rows = range(len(id_lo)) if check is None else np.flatnonzero(check).tolist()
        for i in rows:
            self._seen.pop(raw[16 * i : 16 * i + 16], None)

    def clear(self) -> None:
        self._seen.clear()

    def _expire(self, now_us: int) -> None:
        seen = self._seen
        horizon = now_us - self.ttl_us
        while seen:
            _, first = next(iter(seen.items()))
            if first > horizon:
                break
            seen.popitem(last=False)

    def _trim(self) -> None:
        seen = self._seen
        while len(seen) > self.max_entries:
            seen.popitem(last=False)
