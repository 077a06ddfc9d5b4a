"""The node pool: which node to try next, and how long to wait first.

Pure data and arithmetic (no I/O, randomness and clock are passed in), so the
reconnect policy is unit-tested without sockets. The pool starts with the seed
nodes in a shuffled order (so many clients started together do not all hit the
first seed), grows with the nodes cluster metadata reports, and rotates: each
attempt takes the node at the front and moves it to the back. A full pass over
the pool with no success counts as one failed *round*; the wait before the
next attempt grows with the number of consecutive failures (``Backoff``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from whippet.sdk.options import Backoff, NodeAddress

__all__ = ["NodePool", "PoolEntry"]


@dataclass(slots=True)
class PoolEntry:
    address: NodeAddress
    discovered: bool = False  # learned from cluster metadata rather than given as a seed
    failures: int = 0  # consecutive failed attempts on this node
    last_attempt: float = 0.0


class NodePool:
    def __init__(self, seeds: Iterable[NodeAddress], backoff: Backoff, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        entries = [PoolEntry(a) for a in dict.fromkeys(seeds)]
        if not entries:
            raise ValueError("a node pool needs at least one node")
        self._rng.shuffle(entries)
        self._entries = entries
        self.backoff = backoff
        self.failed_attempts = 0  # consecutive, over the whole pool

    @property
    def addresses(self) -> list[NodeAddress]:
        return [e.address for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def next(self, now: float) -> PoolEntry:
        """The node to try now; it moves to the back of the rotation."""
        entry = self._entries.pop(0)
        self._entries.append(entry)
        entry.last_attempt = now
        return entry

    def delay(self) -> float:
        """Seconds to wait before the next attempt: none until every node failed once."""
        if self.failed_attempts < len(self._entries):
            return 0.0
        rounds = self.failed_attempts // len(self._entries)
        return self.backoff.delay(rounds - 1, self._rng.random())

    def exhausted(self) -> bool:
        """True when the bounded retry budget (attempts per node x retries) is used up."""
        retries = self.backoff.retries
        return retries is not None and self.failed_attempts >= max(1, retries) * len(self._entries)

    def failed(self, entry: PoolEntry) -> None:
        entry.failures += 1
        self.failed_attempts += 1

    def succeeded(self, entry: PoolEntry) -> None:
        entry.failures = 0
        self.failed_attempts = 0

    def prefer(self, address: NodeAddress) -> None:
        """Move ``address`` to the front (e.g. the node a redirect names)."""
        for i, entry in enumerate(self._entries):
            if entry.address == address:
                self._entries.insert(0, self._entries.pop(i))
                return
        self._entries.insert(0, PoolEntry(address, discovered=True))

    def merge(self, addresses: Iterable[NodeAddress]) -> list[NodeAddress]:
        """Add the nodes cluster metadata reports; returns the ones that were new.

        Seeds are never dropped (a seed that is down now may be the only way back
        after a full cluster restart); discovered nodes no longer reported are.
        """
        reported = list(dict.fromkeys(addresses))
        known = {e.address for e in self._entries}
        keep = set(reported)
        self._entries = [e for e in self._entries if not e.discovered or e.address in keep]
        new = [a for a in reported if a not in known]
        for address in new:
            self._entries.insert(self._rng.randrange(len(self._entries) + 1), PoolEntry(address, discovered=True))
        return new
