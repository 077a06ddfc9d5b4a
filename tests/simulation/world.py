"""The simulated world: one seeded clock, a lossy network, faults, and the metadata Raft.

Everything that decides safety runs as the product's own code (``replication.quorum``,
``replication.election``, ``replication.divergence``, ``replication.epochs``,
``metadata.machine``); what is simulated is only what those decisions react to:

- **Time** is a number advanced by an event queue; nothing sleeps.
- **Network**: every message gets a delay (mostly milliseconds, sometimes hundreds, so
  messages reorder), may be lost, and is dropped when a link is cut at send or at
  delivery time, or its receiver crashed or restarted meanwhile.
- **Metadata Raft**: a single committed log of real metadata commands, applied by a
  real ``MetadataMachine`` (the authority), and by each node's own replica as it catches
  up (in order, with lag, not while cut off from the majority). A proposal commits only
  while its proposer reaches a majority; one made while cut off is held and may commit
  later, after a heal (the late proposal of issue 9, anomaly 1a). The Raft leader is the
  lowest id of the majority component; an ex-leader keeps acting as one for a while
  after it lost the majority (pysyncobj's leader fallback).
- **Faults**: link cuts (isolate a node, a majority/minority split, a bridge), crashes
  (volatile state lost, the log and epoch file kept, as with kill -9 and fsync
  ``always``), restarts.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from whippet.metadata import commands as mc
from whippet.metadata.machine import MetadataMachine
from whippet.metadata.model import ClusterNode

__all__ = ["Faults", "Network", "World"]

STREAM, TOPIC = 0, 0
LEADER_FALLBACK = 1.0  # an isolated metadata leader believes it leads this long


@dataclass
class Faults:
    """How rough the world is (a seed picks values within these)."""

    loss: float = 0.01
    slow: float = 0.03  # share of messages delayed by up to ``slow_delay``
    slow_delay: float = 0.4
    cut_every: float = 2.5
    cut_for: tuple[float, float] = (0.3, 4.0)
    crash_every: float = 6.0
    down_for: tuple[float, float] = (0.2, 3.0)


class Network:
    def __init__(self, world: World) -> None:
        self.w = world
        self.cut: set[frozenset[int]] = set()

    def linked(self, a: int, b: int) -> bool:
        return a == b or frozenset((a, b)) not in self.cut

    def send(self, src: int, dst: int, msg: Any) -> None:
        w = self.w
        if not w.nodes[src].up or not self.linked(src, dst) or w.rng.random() < w.faults.loss:
            return
        delay = w.rng.uniform(0.001, 0.02)
        if w.rng.random() < w.faults.slow:
            delay += w.rng.uniform(0.0, w.faults.slow_delay)
        incarnation = w.nodes[dst].incarnation
        w.at(w.now + delay, lambda: self._deliver(src, dst, msg, incarnation))

    def _deliver(self, src: int, dst: int, msg: Any, incarnation: int) -> None:
        node = self.w.nodes[dst]
        if node.up and node.incarnation == incarnation and self.linked(src, dst):
            node.receive(src, msg)

    def component(self, a: int) -> set[int]:
        """Up nodes reachable from ``a`` over uncut links (transitively)."""
        seen, todo = {a}, [a]
        while todo:
            x = todo.pop()
            for y in self.w.nodes:
                if y not in seen and self.w.nodes[y].up and self.linked(x, y):
                    seen.add(y)
                    todo.append(y)
        return seen


@dataclass
class _Pending:
    proposer: int
    command: mc.Command
    on_done: Callable[[Any, BaseException | None], None] | None


@dataclass
class World:
    seed: int
    size: int
    faults: Faults
    make_node: Callable[[World, int], Any]
    rng: random.Random = field(init=False)
    now: float = 0.0
    nodes: dict[int, Any] = field(default_factory=dict)
    #: committed metadata commands, in order, and the authority applying them
    log: list[mc.Command] = field(default_factory=list)
    authority: MetadataMachine = field(default_factory=MetadataMachine)
    _queue: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _held: list[_Pending] = field(default_factory=list)
    _leader_until: dict[int, float] = field(default_factory=dict)
    #: records a follower gets per fetch, and the chance a leader writes what it published
    #: at a given tick (the window in which followers hold records their leader has not)
    fetch_max: int = 8
    write_chance: float = 1.0
    #: how often a leader gives leadership back to the partition's first replica (the
    #: product checks every 5 s; more often here, to exercise hand-overs; scenarios that
    #: script leaders turn it off)
    preferred_every: float = 1.0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.net = Network(self)
        for i in range(1, self.size + 1):
            self._commit(mc.RegisterNode(node=ClusterNode(
                id=i, name=f"n{i}", host="sim", tcp_port=0, quic_port=0, http_port=0, ws_port=0,
                raft_address=f"sim:{i}",
            )))
        self._commit(mc.CreateStream("s", 0))
        self._commit(mc.CreateTopic(stream_id=STREAM, name="t", partitions_count=1, compression=1,
                                    message_expiry=0, max_topic_size=0, replication_factor=3, created_at=0))
        for i in range(1, self.size + 1):
            self.nodes[i] = self.make_node(self, i)

    # --- the event loop ---------------------------------------------------------------
    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), action))

    def run_until(self, end: float, after_each: Callable[[], None] | None = None) -> None:
        while self._queue and self._queue[0][0] <= end:
            when, _, action = heapq.heappop(self._queue)
            self.now = when
            action()
            if after_each is not None:
                after_each()
        self.now = end

    # --- metadata Raft ------------------------------------------------------------------
    def majority(self) -> set[int] | None:
        for i in sorted(self.nodes):
            if self.nodes[i].up:
                comp = self.net.component(i)
                if len(comp) > self.size // 2:
                    return comp
        return None

    def raft_leader(self) -> int | None:
        comp = self.majority()
        return min(comp) if comp else None

    def acts_as_raft_leader(self, node_id: int, fallback: float = LEADER_FALLBACK) -> bool:
        """The real leader, or one that lost its majority less than ``fallback`` ago."""
        if not self.nodes[node_id].up:
            return False
        if self.raft_leader() == node_id:
            self._leader_until[node_id] = self.now + fallback
            return True
        return self.now < self._leader_until.get(node_id, -1.0)

    def propose(self, proposer: int, cmd: mc.Command,
                on_done: Callable[[Any, BaseException | None], None] | None = None) -> None:  # fmt: skip
        self._held.append(_Pending(proposer, cmd, on_done))
        self.at(self.now + self.rng.uniform(0.002, 0.03), self._try_commits)

    def _try_commits(self) -> None:
        comp = self.majority() or set()
        keep: list[_Pending] = []
        for p in self._held:
            if p.proposer in comp:
                result, error = self._commit(p.command)
                if p.on_done is not None:
                    p.on_done(result, error)
            elif self.nodes[p.proposer].up or self.rng.random() < 0.5:
                keep.append(p)  # held by a proposer cut off from the majority: may commit later
        self._held = keep

    def _commit(self, cmd: mc.Command) -> tuple[Any, BaseException | None]:
        self.log.append(cmd)
        try:
            return self.authority.apply(cmd), None
        except Exception as exc:  # noqa: BLE001 (a rejection is a result, as on a real node)
            return None, exc

    def placement(self) -> tuple[int, int, tuple[int, ...]]:
        p = self.authority.partition(STREAM, TOPIC, 0)
        return p.leader, p.epoch, tuple(p.replicas)

    def tick_faults(self) -> None:
        """Start a random fault now and then; heal and restart after random durations."""
        f, rng = self.faults, self.rng
        if rng.random() < 0.02 / max(f.cut_every, 0.01) and not self.net.cut:
            ids = sorted(self.nodes)
            shape = rng.choice(["isolate", "split", "bridge"] if self.size >= 5 else ["isolate", "split"])
            if shape == "isolate":
                a = rng.choice(ids)
                self.net.cut = {frozenset((a, b)) for b in ids if b != a}
            elif shape == "split":
                rng.shuffle(ids)
                small = ids[: rng.randint(1, (self.size - 1) // 2)]
                self.net.cut = {frozenset((a, b)) for a in small for b in ids if b not in small}
            else:
                rng.shuffle(ids)
                mid, left, right = ids[0], ids[1:3], ids[3:]
                self.net.cut = {frozenset((a, b)) for a in left for b in right}
                del mid
            self.at(self.now + rng.uniform(*f.cut_for), self.heal)
        if rng.random() < 0.02 / max(f.crash_every, 0.01):
            victim = self.nodes[rng.choice(sorted(self.nodes))]
            if victim.up and sum(n.up for n in self.nodes.values()) > 1:
                victim.crash()
                self.at(self.now + rng.uniform(*f.down_for), victim.restart)
        self._try_commits()
        self.at(self.now + 0.02, self.tick_faults)

    def heal(self) -> None:
        self.net.cut = set()
