"""The asyncio side of leading one partition: parked fetches, waiting producers, the tail.

The numbers (high watermark, acknowledgements, lease, in-sync set) are decided by
:class:`~.quorum.LeaderCore`; this class adds what needs an event loop:

- fetches that find nothing new wait (long poll) until the next append wakes them,
  so replication latency is one round trip;
- producers wait until their write holds at the topic's ack level;
- the last batch is kept in memory (``tail``) so a caught-up follower gets it without
  the leader reading back what it has just written. The leader publishes a batch as
  soon as it is stamped, before writing it (:meth:`LeaderState.publish`): its own
  write and the followers' transfer and writes then overlap. Followers may so hold
  records the leader has not written yet; the high watermark still never passes the
  leader's own written end, and a leader whose write fails gives up the epoch (see
  :meth:`.partition.ReplicatedPartition.append`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from whippet.replication.quorum import LeaderCore
from whippet.wire.errors import NotLeader, ReplicationTimeout

__all__ = ["LeaderState", "Tail"]

#: how often a waiting producer checks that its leader still has a quorum within the lease
_LEASE_CHECK = 0.25


@dataclass
class _Waiter:
    end: int  # the append holds once ``end`` is covered as ``ack`` demands
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


class LeaderState:
    def __init__(self, *, epoch: int, replicas: tuple[int, ...], self_id: int, log_end: int,
                 start: int | None = None, high_watermark: int = 0, lag_ms: int = 10_000,
                 lease_s: float = 2.0, alive: Callable[[int], bool] = lambda _node: True) -> None:
        self.core = LeaderCore(
            epoch=epoch, start=log_end if start is None else start, replicas=replicas, self_id=self_id,
            log_end=log_end, now=time.monotonic(), high_watermark=high_watermark, lag_s=lag_ms / 1000,
            lease_s=lease_s, alive=alive,
        )
        #: set while leadership is handed over or a failed write is being fenced: no appends
        self.fenced = False
        self.resigned = False
        self.tail: Tail | None = None
        self._parked: list[asyncio.Future[None]] = []
        self._served: asyncio.Future[None] | None = None
        self._waiters: list[_Waiter] = []

    # --- views of the core ------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.core.epoch

    @property
    def replicas(self) -> tuple[int, ...]:
        return self.core.replicas

    @property
    def followers(self) -> tuple[int, ...]:
        return self.core.followers

    @property
    def log_end(self) -> int:
        return self.core.log_end

    @property
    def high_watermark(self) -> int:
        return self.core.high_watermark

    @property
    def follower_end(self) -> dict[int, int]:
        return self.core.follower_end

    def in_sync(self) -> list[int]:
        return self.core.in_sync(time.monotonic())

    def has_lease(self) -> bool:
        return self.core.has_lease(time.monotonic())

    def set_replicas(self, replicas: tuple[int, ...]) -> None:
        self.core.set_replicas(replicas, time.monotonic())
        self._release()

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
        self.core.appended(log_end)
        # Only worth holding while some follower still has to fetch it.
        self.tail = tail if tail is not None and tail.end == log_end and self.followers else None
        self._wake()
        self._release()

    def unpublish(self) -> None:
        """A published batch was not written after all."""
        self.tail = None

    def fetched(self, follower: int, fetch_offset: int) -> None:
        """A follower holds every record below ``fetch_offset`` (its fetch says so)."""
        self.core.fetched(follower, fetch_offset, self.available_end, time.monotonic())
        tail = self.tail
        if tail is not None and all(v >= tail.end for v in self.core.follower_end.values()):
            self.tail = None  # every follower has it: free the memory
        self._release()

    def purged(self) -> None:
        self.core.purged()
        self.tail = None

    def _wake(self, first_only: bool = False) -> None:
        woken = self._parked[:1] if first_only else self._parked
        self._parked = self._parked[len(woken):]
        for f in woken:
            if not f.done():
                f.set_result(None)

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
        """Wait until a write ending at ``end`` holds as ``ack`` demands.

        Gives up early, with NotLeader, once the leader has no quorum within its lease:
        a leader cut off from its followers answers its producers within the lease
        (they go to the next leader), not after the full ``timeout``.
        """
        if self.core.satisfied(end, ack, time.monotonic()):
            return
        if self.resigned:  # leadership moved while the append was in flight
            raise NotLeader("the partition leader changed; the write may or may not survive")
        waiter = _Waiter(end, ack, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    raise ReplicationTimeout(
                        f"not enough replicas acknowledged offsets below {end} within {timeout:.1f}s (ack={ack})"
                    )
                try:
                    await asyncio.wait_for(asyncio.shield(waiter.future), min(left, _LEASE_CHECK))
                    return
                except asyncio.TimeoutError:
                    if not self.has_lease():
                        raise NotLeader("the partition leader lost its quorum; the write may or may not survive")
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def resign(self) -> None:
        """This node no longer leads: fail everyone still waiting."""
        self.resigned = True
        self.fenced = True
        for w in self._waiters:
            if not w.future.done():
                w.future.set_exception(NotLeader("the partition leader changed; the write may or may not survive"))
        self._waiters.clear()
        self._wake()

    def _release(self) -> None:
        if not self._waiters:
            return
        now = time.monotonic()
        for w in self._waiters:
            if not w.future.done() and self.core.satisfied(w.end, w.ack, now):
                w.future.set_result(None)
