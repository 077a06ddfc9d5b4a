"""The decisions a simulated node takes from the product, and deliberately broken variants.

:data:`PRODUCT` is the code that runs in whippet. Each entry of :data:`MUTANTS` breaks
one rule the way an earlier version (or a plausible mistake) did; the simulation must
find a violation for every mutant within a bounded number of seeds, which is how we
know it can fail at all (``test_simulation.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from whippet.replication.divergence import EpochEndAnswer, next_cut
from whippet.replication.election import Position, Probe, choose_leader, leader_still_heard
from whippet.replication.quorum import LeaderCore

__all__ = ["MUTANTS", "PRODUCT", "Rules"]


@dataclass(frozen=True)
class Rules:
    name: str
    leader_core: Callable[..., Any] = LeaderCore
    choose_leader: Callable[[Sequence[int], Mapping[int, Position], int | None], int | None] = choose_leader
    leader_still_heard: Callable[[int, int, Sequence[Probe | None]], bool] = leader_still_heard
    next_cut: Callable[[Sequence[tuple[int, int]], int, EpochEndAnswer], tuple[int, bool]] = next_cut
    fence: bool = True
    pre_vote: bool = True
    lead_once: bool = True
    #: how long an isolated metadata leader still believes it leads (pysyncobj's
    #: ``leaderFallbackTimeout``: 30 s by default, 1 s in metadata/raft.py)
    leader_fallback: float = 1.0
    #: a hand-over compares the successor's position with the log end only once an append
    #: already past the fence is written (``ReplicatedPartition.stop_appending``)
    handover_waits_for_write: bool = True
    #: a replica never follows an epoch below the last one its log holds (a stale metadata view)
    no_older_epoch: bool = True


class _NoEpochStart(LeaderCore):
    """Counts every follower's end towards the high watermark (Raft's figure 8)."""

    def counted_end(self, follower: int) -> int:
        return self.follower_end.get(follower, 0)


def _any_reachable(replicas: Sequence[int], promised: Mapping[int, Position], suspect: int | None) -> int | None:
    """The first controller's rule: the best of whatever answered, majority or not."""
    if not promised:
        return None
    return max(promised, key=lambda r: (promised[r], r != suspect))


def _one_round(entries: Sequence[tuple[int, int]], log_end: int, answer: EpochEndAnswer) -> tuple[int, bool]:
    """Divergence search in one round (before KIP-279)."""
    cut, _ = next_cut(entries, log_end, answer)
    return (min(log_end, answer.end_offset) if answer.found else cut), True


PRODUCT = Rules("product")
MUTANTS = [
    replace(PRODUCT, name="no-majority-election", choose_leader=_any_reachable),
    replace(PRODUCT, name="stale-raft-leader", choose_leader=_any_reachable, leader_fallback=30.0),
    replace(PRODUCT, name="no-epoch-start-rule", leader_core=_NoEpochStart),
    replace(PRODUCT, name="no-fencing", fence=False),
    replace(PRODUCT, name="one-round-divergence", next_cut=_one_round),
    replace(PRODUCT, name="epoch-led-twice", lead_once=False),
    replace(PRODUCT, name="hand-over-ignores-inflight", handover_waits_for_write=False),
    replace(PRODUCT, name="follows-an-older-epoch", no_older_epoch=False),
]
