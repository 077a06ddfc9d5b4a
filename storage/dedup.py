"""Per-partition message-id deduplication window, remembering where each id went.

Iggy 0.8 keeps a TTL cache of recently seen u128 ids per partition and silently drops
a message whose id is in it. Here the window maps each id to the offset it was stored
at, so a retried send is acknowledged only once the original is (a duplicate is
answered when the original's offset holds at the send's ack level, never at once), and
so a log cut forgets exactly the ids it removed.

Every replica keeps the window (a follower remembers the ids it copies), and a log
rebuilds it from its tail when it opens, so a retry that reaches a new leader after a
failover or a restart is still recognised.

How a batch is checked without a Python loop per message: the ids are viewed as
16-byte keys and turned into a list of ``bytes`` by numpy (``tolist``), the duplicates
are the C-level intersection of that list with the window's dict keys, and a stored
batch enters the window with one ``dict.update(zip(keys, offsets))``. Python code runs
per *duplicate* only, to look up where its original is. (A numpy sorted-array window
was tried first: 3-20x slower, since numpy has no hash table.)

Bounds: two generations (dicts). The current one is retired once it holds
``max_entries`` ids or is ``ttl_us`` old, and the one before it is then dropped, so an
id is remembered for at least its ``max_entries`` successors and ``ttl_us``, and for at
most twice that.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DedupWindow", "Lookup", "id_keys"]


def id_keys(id_lo: np.ndarray, id_hi: np.ndarray) -> list[bytes]:
    """The 16-byte key of each id (the u128 little-endian, as stored)."""
    ids = np.empty((len(id_lo), 2), dtype="<u8")
    ids[:, 0] = id_lo
    ids[:, 1] = id_hi
    keys: list[bytes] = ids.view("V16").ravel().tolist()
    return keys


class Lookup:
    """Which messages of a batch are duplicates, and where the originals are.

    ``dup``: bool per message (already stored, or an earlier message of this batch has
    the same id). ``duplicate_end``: one past the highest stored original among them
    (0 if none), the offset a retry must see acknowledged.
    """

    __slots__ = ("dup", "duplicate_end")

    def __init__(self, dup: np.ndarray, duplicate_end: int) -> None:
        self.dup = dup
        self.duplicate_end = duplicate_end


class _Generation:
    __slots__ = ("seen", "started_us")

    def __init__(self, now_us: int) -> None:
        self.seen: dict[bytes, int] = {}
        self.started_us = now_us


class DedupWindow:
    __slots__ = ("_cur", "_prev", "max_entries", "ttl_us")

    def __init__(self, max_entries: int, ttl_us: int) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self.ttl_us = ttl_us
        self._cur = _Generation(0)
        self._prev: _Generation | None = None

    def __len__(self) -> int:
        return len(self._cur.seen) + (len(self._prev.seen) if self._prev is not None else 0)

    def __contains__(self, key: bytes) -> bool:
        return key in self._cur.seen or (self._prev is not None and key in self._prev.seen)

    def lookup(self, keys: list[bytes], now_us: int) -> Lookup:
        """Duplicates in a batch (against the window and within the batch); changes nothing."""
        self._expire(now_us)
        n = len(keys)
        dup = np.zeros(n, dtype=bool)
        stored = self._cur.seen.keys() & keys
        if self._prev is not None:
            stored |= self._prev.seen.keys() & keys
        repeated = len(set(keys)) != n
        if not stored and not repeated:
            return Lookup(dup, 0)
        # Rare path (a retry): Python per message of this batch only.
        end = 0
        first: set[bytes] = set()
        for i, key in enumerate(keys):
            if key in stored:
                dup[i] = True
                cur = self._cur.seen.get(key)
                off = cur if cur is not None else self._prev.seen[key]  # type: ignore[union-attr]
                end = max(end, off + 1)
            elif key in first:
                dup[i] = True
            else:
                first.add(key)
        return Lookup(dup, end)

    def remember(self, keys: list[bytes], offsets: np.ndarray, now_us: int) -> None:
        """Record stored ids with the offsets they got."""
        if not keys:
            return
        self._expire(now_us)
        self._cur.seen.update(zip(keys, np.asarray(offsets, dtype=np.int64).tolist(), strict=True))
        if len(self._cur.seen) >= self.max_entries:
            self._rotate(now_us)

    def forget(self, keys: list[bytes]) -> None:
        """Undo :meth:`remember` for a batch that was not stored after all."""
        for gen in (self._cur, self._prev):
            if gen is not None:
                for key in gen.seen.keys() & keys:
                    del gen.seen[key]

    def drop_from(self, offset: int) -> None:
        """Forget ids stored at ``offset`` or later (the log was cut there; rare)."""
        for gen in (self._cur, self._prev):
            if gen is not None:
                gen.seen = {k: v for k, v in gen.seen.items() if v < offset}

    def clear(self) -> None:
        self._cur = _Generation(self._cur.started_us)
        self._prev = None

    def _rotate(self, now_us: int) -> None:
        self._prev = self._cur
        self._cur = _Generation(now_us)

    def _expire(self, now_us: int) -> None:
        if not self._cur.seen:
            self._cur.started_us = now_us
        elif now_us - self._cur.started_us >= self.ttl_us:
            self._rotate(now_us)
        if self._prev is not None and now_us - self._prev.started_us >= 2 * self.ttl_us:
            self._prev = None
