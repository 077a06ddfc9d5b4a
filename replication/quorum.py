"""What a partition leader may consider committed and acknowledge: the pure rules.

No I/O, no clock of its own (``now`` is passed in), no asyncio: the node's leader
(:mod:`.leader`) and the deterministic simulation (``tests/simulation``) run the
same code. The rules, each the reason for a field:

- **High watermark.** The offset below which a quorum (majority of the partition's
  replicas, leader included) holds every record, never past the leader's own written
  end, never moving back. Consumers read only below it.
- **Epoch start.** A follower counts towards the high watermark only once its log
  reaches ``start``, the offset where this leader's epoch began. Below it the
  follower may still hold records of older epochs that this leader never had (it
  has not caught up to the point where its log provably matches), and a replica
  holding only those could later lose an election to one with a newer epoch: the
  records would be counted committed and then cut (Raft's "figure 8"). Once a
  majority has reached ``start``, every one of them carries this epoch, so any
  later leader (chosen by newest epoch, then longest log) holds what was counted.
- **Acknowledgement.** ``leader``: written on the leader. ``quorum``: below the high
  watermark. ``all``: below the high watermark and held by every in-sync replica.
  Because the high watermark never passes the leader's own write, a batch that
  followers took before the leader wrote it is never acknowledged if that write fails.
- **Lease.** A leader counts as able to lead only while a quorum (itself included)
  has fetched within ``lease_s``; without it, new writes are refused at every ack
  level, so a leader cut off from its followers stops acknowledging within a bound.
- **In-sync set.** Followers that reached the log end within ``lag_s`` and are alive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["LeaderCore", "majority"]


def majority(n: int) -> int:
    return n // 2 + 1


@dataclass
class LeaderCore:
    epoch: int
    #: offset at which this epoch began (the leader's log end when it took over)
    start: int
    replicas: tuple[int, ...]
    self_id: int
    log_end: int
    now: float
    high_watermark: int = 0
    lag_s: float = 10.0
    lease_s: float = 2.0
    alive: Callable[[int], bool] = field(default=lambda _node: True)
    follower_end: dict[int, int] = field(default_factory=dict)
    heard_at: dict[int, float] = field(default_factory=dict)
    caught_up_at: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.followers:
            self.follower_end.setdefault(r, 0)
            # A new leader gives every follower a grace period (lease and in-sync).
            self.heard_at.setdefault(r, self.now)
            self.caught_up_at.setdefault(r, self.now)
        self.high_watermark = min(self.high_watermark, self.log_end)
        self._recompute()

    @property
    def followers(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r != self.self_id)

    @property
    def quorum(self) -> int:
        return majority(len(self.replicas))

    # --- events ---------------------------------------------------------------------
    def fetched(self, follower: int, fetch_offset: int, available_end: int, now: float) -> None:
        """``follower`` holds every record below ``fetch_offset`` (its fetch says so).

        ``available_end`` is what it could have fetched (the written log plus a batch
        published before its write); a claim beyond it is capped there.
        """
        if follower not in self.follower_end:
            return
        self.follower_end[follower] = max(self.follower_end[follower], min(fetch_offset, available_end))
        self.heard_at[follower] = now
        if fetch_offset >= self.log_end:
            self.caught_up_at[follower] = now
        self._recompute()

    def appended(self, log_end: int) -> None:
        if log_end < self.log_end:
            raise AssertionError("a leader's log never shrinks within its epoch")
        self.log_end = log_end
        self._recompute()

    def purged(self) -> None:
        """The log was emptied by a purge (every replica purges on the same event)."""
        self.log_end = self.start = self.high_watermark = 0
        for r in self.follower_end:
            self.follower_end[r] = 0

    def set_replicas(self, replicas: tuple[int, ...], now: float) -> None:
        self.replicas = replicas
        for r in self.followers:
            self.follower_end.setdefault(r, 0)
            self.heard_at.setdefault(r, now)
            self.caught_up_at.setdefault(r, now)
        for r in [r for r in self.follower_end if r not in replicas]:
            del self.follower_end[r]
        self._recompute()

    # --- derived --------------------------------------------------------------------
    def counted_end(self, follower: int) -> int:
        end = self.follower_end.get(follower, 0)
        return end if end >= self.start else 0

    def _recompute(self) -> None:
        ends = sorted([self.log_end, *(self.counted_end(r) for r in self.followers)], reverse=True)
        hw = ends[self.quorum - 1]
        self.high_watermark = max(self.high_watermark, min(hw, self.log_end))

    def in_sync(self, now: float) -> list[int]:
        return [self.self_id] + [
            r for r in self.followers if now - self.caught_up_at.get(r, -1e18) <= self.lag_s and self.alive(r)
        ]

    def has_lease(self, now: float) -> bool:
        heard = 1 + sum(1 for r in self.followers if now - self.heard_at.get(r, -1e18) <= self.lease_s)
        return heard >= self.quorum

    def satisfied(self, end: int, ack: str, now: float) -> bool:
        """Whether a write ending at ``end`` holds as ``ack`` demands."""
        if ack == "leader" or len(self.replicas) == 1:
            return self.log_end >= end
        if self.high_watermark < end:
            return False
        if ack == "quorum":
            return True
        return all(self.follower_end.get(r, 0) >= end for r in self.in_sync(now) if r != self.self_id)
