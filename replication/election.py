"""Choosing a partition's next leader: the pure rules (no I/O; the controller does the calls).

A replica's **position** is ``(last epoch, log end)``: the newest leader epoch its log
has reached, then how far. A failover to epoch ``E+1`` goes in three steps:

1. **Pre-vote** (only when the controller merely cannot reach the leader): ask the
   followers whether they still hear from it. If one does, the leader is fine and it
   is the controller that is cut off: nothing happens (:func:`leader_still_heard`).
2. **Fence.** Ask replicas to *promise* ``E+1``: from then on a replica follows and
   accepts records only from a leader of at least ``E+1``, durably, and it answers
   with its position, which therefore cannot change any more. The followers are
   asked first; the old leader only if the others are not a majority.
3. **Choose** the best position among the replicas that promised, only if they are a
   majority of the partition's replicas (:func:`choose_leader`), and propose it
   through the metadata Raft, fenced by the epoch it expects.

Why it keeps every acknowledged record: a ``quorum`` write was acknowledged only when
a majority of replicas held it (and had reached the leader's epoch start, see
:mod:`.quorum`), each before it promised; any majority that promised shares a
replica with that one, so the best position among them holds the record (Raft's
argument, with epochs as terms). A deposed or isolated leader cannot acknowledge
once a majority promised, because its quorum would need one of them. A controller
acting on a stale view (an isolated metadata leader, a late proposal) can at worst
move a healthy leadership; it can never pick a replica that lacks acknowledged data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from whippet.replication.quorum import majority

__all__ = ["CONTACT_S", "Position", "Probe", "choose_leader", "leader_still_heard"]

#: a follower that fetched from its leader within this long still hears from it
CONTACT_S = 1.0


@dataclass(frozen=True, order=True)
class Position:
    last_epoch: int
    log_end: int


@dataclass(frozen=True)
class Probe:
    """A replica's answer to the pre-vote: whom it follows and when it last heard from it."""

    following: int  # leader node id, -1 when it follows nobody
    epoch: int
    contact_age_s: float  # since its last answered fetch; large when never


def leader_still_heard(leader: int, epoch: int, probes: Sequence[Probe | None]) -> bool:
    """Some follower fetched from ``leader`` at ``epoch`` within :data:`CONTACT_S`."""
    return any(
        p is not None and p.following == leader and p.epoch == epoch and p.contact_age_s <= CONTACT_S
        for p in probes
    )


def choose_leader(replicas: Sequence[int], promised: Mapping[int, Position], suspect: int | None) -> int | None:
    """The next leader among the replicas that promised the new epoch, or None.

    None unless they are a majority of ``replicas``. Ties on position go to a replica
    other than ``suspect`` (the leader being replaced), then to the earlier replica
    in the assignment (the preferred leader comes first).
    """
    voters = {r: p for r, p in promised.items() if r in replicas}
    if len(voters) < majority(len(replicas)):
        return None
    order = {r: i for i, r in enumerate(replicas)}
    return max(voters, key=lambda r: (voters[r], r != suspect, -order[r]))
