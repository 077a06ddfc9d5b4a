"""A trial's schedule from one seed: cluster size, faults, their timings and targets.

Pure: :func:`generate` draws everything from ``random.Random(seed)``, so a seed
replays the same schedule. Targets are *roles* (the metadata Raft leader ``R``, the
leader ``L`` of the fault's partition, one of its followers ``F``, some other node
``X``), resolved from the live cluster when the fault starts (:mod:`nemesis`), since
which node holds a role is the cluster's own doing. ``pick`` is the seed's choice
among equals (which follower, which node) so that resolution is deterministic too.

Fault kinds and what they reproduce (issue 9):

* ``kill``: kill -9 of a role, restart after a while (same data dir, same user);
* ``pause``: SIGSTOP / SIGCONT of a role;
* ``isolate-raft-leader``, ``isolate-partition-leader``, ``isolate-follower``: cut
  every link of one node;
* ``split``: a majority/minority split; on 5 nodes the minority is a partition's
  leader and one of its followers (a deposed leader with a "quorum" of 2 of 3);
* ``bridge`` (5 nodes): two halves that both see one middle node;
* ``isolate-follower-kill-leader``: cut off a follower, kill the leader, heal
  (a failover that may pick the shorter log);
* ``restart-kill-raft-leader``: restart a node and kill the Raft leader while it
  starts.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

__all__ = [
    "CUT_KINDS",
    "Fault",
    "Roles",
    "Schedule",
    "Step",
    "cut_links",
    "generate",
]

CUT_KINDS = ("isolate-raft-leader", "isolate-partition-leader", "isolate-follower", "split", "bridge",
             "isolate-follower-kill-leader")
_KINDS_3 = ("kill", "pause", "isolate-raft-leader", "isolate-partition-leader", "isolate-follower", "split",
            "isolate-follower-kill-leader", "restart-kill-raft-leader")
_KINDS_5 = (*_KINDS_3, "bridge")


@dataclass(frozen=True, slots=True)
class Step:
    """One action, ``at`` seconds after its fault starts.

    ``action``: ``cut`` (``shape`` names the links), ``heal``, ``kill``, ``restart``,
    ``pause``, ``resume``; ``role`` is the node it acts on (R, L, F, X).
    """

    at: float
    action: str
    role: str = ""
    shape: str = ""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    start: float  # seconds after the workload started
    partition: int  # whose leader and followers the roles L and F are
    pick: int  # the seed's choice among equal candidates
    steps: tuple[Step, ...]

    @property
    def end(self) -> float:
        return self.start + max(s.at for s in self.steps)


@dataclass(frozen=True, slots=True)
class Schedule:
    seed: int
    nodes: int
    partitions: int
    duration: float  # workload length; faults all end before it
    faults: tuple[Fault, ...]
    producers: int = 2  # our SDK
    official_producers: int = 1  # apache_iggy 0.8
    consumers: int = 2
    batch: int = 10
    profile: str = "full"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        faults = tuple(Fault(**{**f, "steps": tuple(Step(**s) for s in f["steps"])}) for f in data["faults"])
        return cls(**{**data, "faults": faults})


@dataclass(frozen=True, slots=True)
class Roles:
    """Who holds each role when a fault starts (node ids)."""

    nodes: tuple[int, ...]
    raft_leader: int
    leader: int  # of the fault's partition
    followers: tuple[int, ...]
    pick: int

    def node(self, role: str) -> int:
        if role == "R":
            return self.raft_leader
        if role == "L":
            return self.leader
        if role == "F":
            return self.followers[self.pick % len(self.followers)] if self.followers else self.other()
        if role == "X":
            return self.other()
        raise ValueError(f"unknown role {role!r}")

    def other(self) -> int:
        """A node that is not the Raft leader (the pick decides which)."""
        rest = [n for n in self.nodes if n != self.raft_leader] or list(self.nodes)
        return rest[self.pick % len(rest)]


def cut_links(shape: str, roles: Roles) -> list[tuple[int, int]]:
    """The node pairs a cut of ``shape`` disconnects (each pair once, lower id first)."""
    nodes = sorted(roles.nodes)
    if shape.startswith("isolate:"):
        one = roles.node(shape.split(":", 1)[1])
        return [(min(one, n), max(one, n)) for n in nodes if n != one]
    if shape == "split":
        if len(nodes) >= 5:
            minority = {roles.leader, roles.node("F")}
        else:
            minority = {nodes[roles.pick % len(nodes)]}
        return [(a, b) for a, b in combinations(nodes, 2) if (a in minority) != (b in minority)]
    if shape == "bridge":
        middle = nodes[roles.pick % len(nodes)]
        rest = [n for n in nodes if n != middle]
        random.Random(roles.pick).shuffle(rest)
        half = set(rest[: len(rest) // 2])
        return sorted((min(a, b), max(a, b)) for a in half for b in rest if b not in half)
    raise ValueError(f"unknown shape {shape!r}")


def _steps(kind: str, rng: random.Random, scale: float) -> tuple[Step, ...]:
    def d(lo: float, hi: float) -> float:
        return round(rng.uniform(lo, hi) * scale, 2)

    if kind == "kill":
        role = rng.choice("RLFX")
        return (Step(0, "kill", role=role), Step(d(1.0, 6.0), "restart", role=role))
    if kind == "pause":
        role = rng.choice("RLFX")
        return (Step(0, "pause", role=role), Step(d(1.0, 5.0), "resume", role=role))
    if kind in ("isolate-raft-leader", "isolate-partition-leader", "isolate-follower"):
        role = {"isolate-raft-leader": "R", "isolate-partition-leader": "L", "isolate-follower": "F"}[kind]
        return (Step(0, "cut", shape=f"isolate:{role}"), Step(d(1.5, 8.0), "heal"))
    if kind in ("split", "bridge"):
        return (Step(0, "cut", shape=kind), Step(d(1.5, 8.0), "heal"))
    if kind == "isolate-follower-kill-leader":
        kill = d(1.0, 2.0)
        heal = kill + d(2.0, 5.0)
        return (Step(0, "cut", shape="isolate:F"), Step(kill, "kill", role="L"), Step(heal, "heal"),
                Step(round(heal + d(1.0, 3.0), 2), "restart", role="L"))
    if kind == "restart-kill-raft-leader":
        up = d(2.0, 4.0)
        kill = round(up + rng.uniform(0.2, 1.0), 2)
        return (Step(0, "kill", role="X"), Step(up, "restart", role="X"), Step(kill, "kill", role="R"),
                Step(round(kill + d(2.0, 4.0), 2), "restart", role="R"))
    raise ValueError(f"unknown fault kind {kind!r}")


def generate(seed: int, profile: str = "full") -> Schedule:
    """The schedule of ``seed``. ``profile`` ``full`` (``make chaos``: 4-6 faults) or
    ``short`` (the bounded run in ``make test``: 2 shorter faults, a lighter workload).

    Even seeds run 3 nodes, odd seeds 5, so consecutive seeds split the trials evenly.
    """
    if profile not in ("full", "short"):
        raise ValueError(f"unknown profile {profile!r}")
    rng = random.Random(seed)
    nodes = 3 if seed % 2 == 0 else 5
    partitions = 3
    kinds = _KINDS_5 if nodes == 5 else _KINDS_3
    count, scale = (rng.randint(4, 6), 1.0) if profile == "full" else (2, 0.7)
    t = round(rng.uniform(2.0, 4.0), 2)  # writes flow before the first fault
    faults = []
    for _ in range(count):
        kind = rng.choice(kinds)
        steps = _steps(kind, rng, scale)
        fault = Fault(kind=kind, start=t, partition=rng.randrange(partitions), pick=rng.randrange(1 << 16),
                      steps=steps)
        faults.append(fault)
        t = round(fault.end + rng.uniform(2.0, 5.0) * scale, 2)  # let the cluster settle between faults
    light = profile == "short"
    return Schedule(seed=seed, nodes=nodes, partitions=partitions, duration=round(t + 1.0, 2), faults=tuple(faults),
                    consumers=1 if light else 2, profile=profile)
