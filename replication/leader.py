"""What the leader of one partition knows about its followers.

Followers pull (``Fetch``); each fetch says "I hold everything below N", which is
all the leader needs to track their progress. From that it derives:

- the **high watermark**: the offset below which a quorum (majority of the
  partition's replicas, leader included) holds every record. Consumers read only
  below it, so they never see a record a failover could take back;
- **acknowledgements**: a producer's append waits until enough replicas hold it
  (ack level ``leader``, ``quorum`` or ``all`` = every in-sync replica, at least a
  quorum);
- the **in-sync set**: followers that reached the log end within ``lag_ms``.

Appends and fetches wake each other: a fetch that finds nothing new waits on an
event the next append sets (long poll), so replication latency is one round trip.
The last batch is kept in memory (``tail``): a follower that is caught up gets it
without the leader reading back what it has just written. The leader publishes a
batch as soon as it is stamped, before writing it (:meth:`LeaderState.publish`):
its own write and the followers' transfer and writes then run side by side rather
than one after the other, which is most of a quorum round on a loaded machine.
Followers may so hold records the leader has not written yet; that is safe,
because the high watermark never passes the leader's own written end, and a
leader whose write fails gives up the partition (see node/handlers/messages.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from whippet.wire.ack import ACK_LEVELS
from whippet.wire.errors import NotLeader, ReplicationTimeout

__all__ = ["LeaderState", "Tail", "ACK_LEVELS"]


@dataclass
class _Waiter:
    end: int  # the append is durable on a replica once its log end >= end
    ack: str
    future: asyncio.Future[None]


@dataclass(frozen=True)
class Tail:
    """The batch appended last: records ``first .. first + len(ends) - 1`` as stored."""

    first: int
    records: memoryview
    ends: np.ndarray  # end of each record in ``records``
    #: the fetch answer carrying this batch, encoded once per (epoch, high watermark, log end)
    encoded: dict[tuple[int, int, int], bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def end(self) -> int:
        return self.first + len(self.ends)


@dataclass
class LeaderState:
    epoch: int
    replicas: tuple[int, ...]  # every replica, leader included
    self_id: int
    log_end: int
    lag_ms: int = 10_000
    follower_end: dict[int, int] = field(default_factory=dict)
    caught_up_at: dict[int, float] = field(default_factory=dict)
    high_watermark: int = 0
    #: set while leadership is being handed over: no new appends are accepted
    fenced: bool = False
    #: liveness of a node as the node's pings see it; a silent follower leaves the in-sync
    #: set at once instead of after ``lag_ms``
    alive: Callable[[int], bool] = field(default=lambda _node: True)
    tail: Tail | None = None
    resigned: bool = False
    #: fetches waiting for data (long poll), woken in arrival order
    _parked: list[asyncio.Future[None]] = field(default_factory=list)
    _served: asyncio.Future[None] | None = None
    _waiters: list[_Waiter] = field(default_factory=list)

    def __post_init__(self) -> None:
        now = time.monotonic()
        for r in self.followers:
            self.follower_end.setdefault(r, 0)
            # A new leader gives every follower a grace period before it counts as lagging.
            self.caught_up_at.setdefault(r, now)
        self._recompute()

    @property
    def followers(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r != self.self_id)

    @property
    def quorum(self) -> int:
        return len(self.replicas) // 2 + 1

    def in_sync(self, now: float | None = None) -> list[int]:
        now = time.monotonic() if now is None else now
        limit = self.lag_ms / 1000
        return [self.self_id] + [
            r for r in self.followers if now - self.caught_up_at.get(r, 0) <= limit and self.alive(r)
        ]

    @property
    def available_end(self) -> int:
        """End of what followers can fetch: the written log plus a published batch."""
        return self.log_end if self.tail is None else max(self.log_end, self.tail.end)

    # --- events -------------------------------------------------------------------------
    async def publish(self, tail: Tail, wait: float) -> None:
        """Offer a stamped, not yet written batch to the followers.

        Wakes one parked fetch and waits (at most ``wait`` s) until it has handed
        the batch to gRPC: the caller's blocking write that follows then overlaps
        the transfer, and one follower is all a quorum of three needs. The other
        parked fetches are woken by :meth:`appended`, after the write, since each
        send takes the event loop for a while. Nothing is waited for when no fetch
        is parked.
        """
        if not self.followers or tail.first != self.log_end:
            return
        self.tail = tail
        if not self._parked:
            return
        self._served = asyncio.get_running_loop().create_future()
        self._wake(first_only=True)
        try:
            await asyncio.wait_for(asyncio.shield(self._served), wait)
        except asyncio.TimeoutError:
            pass
        finally:
            self._served = None

    def served(self) -> None:
        """A fetch answered with the published batch (see :meth:`publish`)."""
        if self._served is not None and not self._served.done():
            self._served.set_result(None)

    def appended(self, log_end: int, tail: Tail | None = None) -> None:
        self.log_end = log_end
        # Only worth holding while some follower still has to fetch it.
        self.tail = tail if tail is not None and tail.end == log_end and self.followers else None
        self._wake()
        self._recompute()

    def unpublish(self) -> None:
        """A published batch was not written after all."""
        self.tail = None

    def _wake(self, first_only: bool = False) -> None:
        woken = self._parked[:1] if first_only else self._parked
        self._parked = self._parked[len(woken):]
        for f in woken:
            if not f.done():
                f.set_result(None)

    def fetched(self, follower: int, fetch_offset: int) -> None:
        """A follower holds every record below ``fetch_offset``.

        Counted up to the available end, published batch included: a follower may
        acknowledge a batch before the leader has written it, and the high
        watermark moves as soon as the leader's own write completes.
        """
        if follower not in self.follower_end:
            return
        self.follower_end[follower] = max(self.follower_end[follower], min(fetch_offset, self.available_end))
        if fetch_offset >= self.log_end:
            self.caught_up_at[follower] = time.monotonic()
        if self.tail is not None and all(v >= self.tail.end for v in self.follower_end.values()):
            self.tail = None  # every follower has it: free the memory
        self._recompute()

    def purged(self) -> None:
        """The log was emptied (purge): everything restarts at offset 0."""
        self.log_end = 0
        self.high_watermark = 0
        self.tail = None
        for r in self.follower_end:
            self.follower_end[r] = 0

    def truncated(self, log_end: int) -> None:
        self.log_end = log_end
        self.tail = None
        for r in self.follower_end:
            self.follower_end[r] = min(self.follower_end[r], log_end)
        self._recompute()

    async def wait_for_data(self, timeout: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        self._parked.append(woken)
        try:
            await asyncio.wait_for(woken, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            if woken in self._parked:
                self._parked.remove(woken)

    async def acknowledged(self, end: int, ack: str, timeout: float) -> None:
        """Wait until an append ending at ``end`` is held as ``ack`` demands."""
        if self._satisfied(end, ack):
            return
        if self.resigned:  # leadership moved while the append was in flight
            raise NotLeader("the partition leader changed; retry")
        waiter = _Waiter(end, ack, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
        except asyncio.TimeoutError:
            raise ReplicationTimeout(
                f"not enough replicas acknowledged offsets below {end} within {timeout:.1f}s (ack={ack})"
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def resign(self) -> None:
        """This node no longer leads: fail everyone still waiting."""
        self.resigned = True
        for w in self._waiters:
            if not w.future.done():
                w.future.set_exception(NotLeader("the partition leader changed; retry"))
        self._waiters.clear()
        self._wake()

    # --- derived state ----------------------------------------------------------------------
    def _holders(self, end: int) -> int:
        return (self.log_end >= end) + sum(1 for v in self.follower_end.values() if v >= end)

    def _satisfied(self, end: int, ack: str) -> bool:
        if ack == "leader" or len(self.replicas) == 1:
            return self.log_end >= end
        if ack == "quorum":
            return self._holders(end) >= self.quorum
        isr = self.in_sync()
        held = [r for r in isr if (self.log_end if r == self.self_id else self.follower_end.get(r, 0)) >= end]
        return len(held) == len(isr) and len(held) >= self.quorum

    def _recompute(self) -> None:
        ends = sorted([self.log_end, *self.follower_end.values()], reverse=True)
        hw = ends[self.quorum - 1] if len(ends) >= self.quorum else 0
        self.high_watermark = max(self.high_watermark, min(hw, self.log_end))
        if self._waiters:
            for w in self._waiters:
                if not w.future.done() and self._satisfied(w.end, w.ack):
                    w.future.set_result(None)
