"""One simulated node: a partition replica and (when it acts as Raft leader) the controller.

The decisions are the product's: :class:`~whippet.replication.quorum.LeaderCore` (high
watermark, acknowledgements, lease), :func:`~whippet.replication.election.choose_leader`
and :func:`~whippet.replication.election.leader_still_heard` (failover),
:func:`~whippet.replication.divergence.next_cut` (truncation) and
:class:`~whippet.replication.epochs.EpochCache` (epochs and the promise). The glue
around them mirrors ``replication/partition.py``, ``follower.py``, ``service.py`` and
``controller.py`` message for message, with the network and the clock simulated.
Records are strings; a log is a list of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.simulation.rules import Rules
from tests.simulation.world import STREAM, TOPIC, World
from whippet.metadata import commands as mc
from whippet.metadata.machine import MetadataMachine
from whippet.replication.divergence import EpochEndAnswer
from whippet.replication.election import CONTACT_S, Position, Probe
from whippet.replication.epochs import EpochCache
from whippet.replication.quorum import majority

__all__ = ["SimNode"]

TICK = 0.01
FETCH_TIMEOUT = 0.6
PING_EVERY = 0.25
DEAD_AFTER = 1.0
CONTROLLER_EVERY = 0.2
RPC_WAIT = 0.15
RETRY_AFTER = 1.0
STALLED_AFTER = 2.0
HAND_OVER_WAIT = 1.0  # restore_preferred's hand-over timeout


@dataclass
class Leading:
    core: Any  # LeaderCore (or a mutated one)
    staged: list[str] = field(default_factory=list)  # published, not yet written
    waiters: list[tuple[int, int, int]] = field(default_factory=list)  # (end, client, op)
    fenced: bool = False
    handing_to: int | None = None  # a hand-over in progress (manager.hand_over)
    handing_until: float = 0.0
    proposed_at: float | None = None  # the hand-over's proposal was made then


@dataclass
class Following:
    leader: int
    epoch: int
    generation: int
    phase: str = "align"
    sent_at: float = -1.0
    high_watermark: int = 0
    contact_at: float = -1e9


@dataclass
class _Election:
    leader: int
    epoch: int
    replicas: tuple[int, ...]
    reason: str
    phase: str
    deadline: float
    probes: dict[int, Probe | None] = field(default_factory=dict)
    promised: dict[int, Position] = field(default_factory=dict)


class SimNode:
    def __init__(self, world: World, node_id: int, rules: Rules, observer: Any) -> None:
        self.w = world
        self.id = node_id
        self.rules = rules
        self.obs = observer
        self.up = True
        self.incarnation = 0
        # durable (kill -9 with fsync always keeps what was written)
        self.log: list[str] = []
        self.epochs = EpochCache(None)
        self._generation = 0
        self._volatile()
        world.at(world.now + world.rng.uniform(0, TICK), self._tick)

    def _volatile(self) -> None:
        self.meta = MetadataMachine()
        self.applied = 0
        self.role: Leading | Following | None = None
        self.last_seen: dict[int, float] = {}
        self.election_requests: dict[int, bool] = {}
        self.promised_at = -1e9
        self.started = self.w.now
        self.next_ping = self.w.now
        self.next_control = self.w.now
        self.retry_at: float = 0.0
        self.election: _Election | None = None
        self.next_preferred = self.w.now + self.w.preferred_every

    # --- lifecycle ----------------------------------------------------------------------
    def crash(self) -> None:
        self.up = False
        self.incarnation += 1
        self.role = None

    def restart(self) -> None:
        if self.up:
            return
        self.up = True
        self.incarnation += 1
        self._volatile()
        self.w.at(self.w.now + TICK, self._tick)

    def send(self, dst: int, *msg: Any) -> None:
        if dst == self.id:
            self.w.at(self.w.now, lambda: self.receive(self.id, msg) if self.up else None)
        else:
            self.w.net.send(self.id, dst, msg)

    # --- the tick -------------------------------------------------------------------------
    def _tick(self) -> None:
        if not self.up:
            return
        w = self.w
        comp = w.majority()
        if comp is not None and self.id in comp:  # metadata flows to members of the majority
            target = min(len(w.log), self.applied + w.rng.randint(0, 3))
            while self.applied < target:
                try:
                    self.meta.apply(w.log[self.applied])
                except Exception:  # noqa: BLE001 (rejections are part of the log)
                    pass
                self.applied += 1
        self._reconcile()
        self._role_step()
        if w.now >= self.next_ping:
            self.next_ping = w.now + PING_EVERY
            for other in w.nodes:
                if other != self.id:
                    self.send(other, "ping")
        if w.now >= self.next_preferred:
            self.next_preferred = w.now + w.preferred_every
            self._restore_preferred()
        if w.acts_as_raft_leader(self.id, self.rules.leader_fallback):
            self._control()
        else:
            self.election = None
        w.at(w.now + TICK, self._tick)

    def _placement(self) -> tuple[int, int, tuple[int, ...]] | None:
        try:
            p = self.meta.partition(STREAM, TOPIC, 0)
        except Exception:  # noqa: BLE001 (not created yet in this replica)
            return None
        return p.leader, p.epoch, tuple(p.replicas)

    def alive(self, node_id: int) -> bool:
        if node_id == self.id:
            return True
        seen = self.last_seen.get(node_id)
        if seen is None:
            return self.w.now - self.started < DEAD_AFTER * 2
        return self.w.now - seen < DEAD_AFTER

    # --- roles (replication/partition.py) -----------------------------------------------------
    def _reconcile(self) -> None:
        placement = self._placement()
        if placement is None or self.id not in placement[2]:
            return
        leader, epoch, replicas = placement
        if leader == self.id:
            self._lead(epoch, replicas)
        elif leader >= 0:
            self._follow(leader, epoch)

    def _stop_role(self) -> None:
        if self.role is not None:
            self._generation += 1
        self.role = None

    def _lead(self, epoch: int, replicas: tuple[int, ...]) -> None:
        current = self.role
        if isinstance(current, Leading) and current.core.epoch == epoch:
            return
        if epoch < self.epochs.promised:
            self._stop_role()
            return
        last = self.epochs.last_epoch
        if self.rules.lead_once and last is not None and epoch <= last:
            self._stop_role()
            self._ask_new_epoch(epoch)
            return
        known_hw = self.high_watermark
        self._stop_role()
        end = len(self.log)
        self.epochs.assign(epoch, end)
        core = self.rules.leader_core(epoch=epoch, start=end, replicas=replicas, self_id=self.id, log_end=end,
                                      now=self.w.now, high_watermark=min(known_hw, end), alive=self.alive)
        self.role = Leading(core)
        self._generation += 1
        self.obs.became_leader(self, epoch)

    def _ask_new_epoch(self, epoch: int) -> None:
        if self.w.now < self.retry_at:
            return
        self.retry_at = self.w.now + 0.3
        self.w.propose(self.id, mc.ChangePartitionLeader(stream_id=STREAM, topic_id=TOPIC, partition_id=0,
                                                         leader=self.id, expected_epoch=epoch))

    def _follow(self, leader: int, epoch: int) -> None:
        current = self.role
        if isinstance(current, Following) and current.leader == leader and current.epoch == epoch:
            return
        last = self.epochs.last_epoch
        if epoch < self.epochs.promised or (self.rules.no_older_epoch and last is not None and epoch < last):
            self._stop_role()
            return
        known_hw = self.high_watermark
        self._stop_role()
        self._generation += 1
        self.role = Following(leader, epoch, self._generation, high_watermark=min(known_hw, len(self.log)))

    @property
    def high_watermark(self) -> int:
        role = self.role
        if isinstance(role, Leading):
            return int(role.core.high_watermark)
        if isinstance(role, Following):
            return role.high_watermark
        return 0

    def position(self) -> Position:
        last = self.epochs.last_epoch
        return Position(last if last is not None else 0, len(self.log))

    def _truncate(self, offset: int) -> None:
        assert not isinstance(self.role, Leading), "a leader never truncates its own log"
        del self.log[offset:]
        self.epochs.truncate_from(offset)

    # --- per-tick work of the role ----------------------------------------------------------
    def _role_step(self) -> None:
        role, w = self.role, self.w
        if isinstance(role, Leading):
            if role.staged and self.w.rng.random() < self.w.write_chance:  # its own write of what it published
                self.log.extend(role.staged)
                role.staged.clear()
                role.core.appended(len(self.log))
            self._release(role)
            if role.handing_to is not None or role.proposed_at is not None:
                self._hand_over_step(role)
        elif isinstance(role, Following) and (role.sent_at < 0 or w.now - role.sent_at > FETCH_TIMEOUT):
            role.sent_at = w.now
            if role.phase == "align":
                entries = self.epochs.entries
                if not entries or not self.log:
                    role.phase = "fetch"
                else:
                    self.send(role.leader, "epoch_end", role.generation, entries[-1][0])
                    return
            self.send(role.leader, "fetch", role.generation, role.epoch, len(self.log))

    # --- hand-over (replication.manager.hand_over, restore_preferred) ------------------------
    def _restore_preferred(self) -> None:
        role, placement = self.role, self._placement()
        if not isinstance(role, Leading) or role.fenced or placement is None:
            return
        target = placement[2][0]
        if target != self.id and target in role.core.in_sync(self.w.now):
            role.fenced = True  # stop_appending: no new append gets past this
            role.handing_to, role.handing_until = target, self.w.now + HAND_OVER_WAIT

    def _hand_over_step(self, role: Leading) -> None:
        w = self.w
        if role.proposed_at is not None:
            # Not committed in time: it may still commit, so this epoch takes no more
            # appends; ask for a new one (whichever commits first wins).
            if w.now - role.proposed_at > HAND_OVER_WAIT:
                self._ask_new_epoch(role.core.epoch)
            return
        target = role.handing_to
        assert target is not None
        if self.rules.handover_waits_for_write and role.staged:
            return  # an append already past the fence is not written yet
        if role.core.follower_end.get(target, 0) >= len(self.log):
            role.handing_to, role.proposed_at = None, w.now
            w.propose(self.id, mc.ChangePartitionLeader(stream_id=STREAM, topic_id=TOPIC, partition_id=0,
                                                        leader=target, expected_epoch=role.core.epoch))
        elif w.now >= role.handing_until:
            role.fenced, role.handing_to = False, None  # the successor did not catch up: nothing proposed

    def _release(self, role: Leading) -> None:
        keep = []
        for end, client, op in role.waiters:
            if role.core.satisfied(end, "quorum", self.w.now):
                self.obs.acknowledged(self, op, end - 1, self.log[end - 1], role.core.epoch)
            else:
                keep.append((end, client, op))
        role.waiters = keep
        self.obs.high_watermark(self, int(role.core.high_watermark))

    # --- messages ---------------------------------------------------------------------------
    def receive(self, src: int, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        handler: Callable[..., None] | None = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(src, *msg[1:])

    def needs_election(self) -> bool:
        """replication.manager.ReplicaManager.needs_election: named leader here but not
        serving (no quorum within the lease, or its promise forbids the epoch), or holding a
        promise above the metadata's epoch for a while (an election that did not complete)."""
        role = self.role
        placement = self._placement()
        if placement is None:
            return False
        if self.epochs.promised > placement[1] and self.w.now - self.promised_at > STALLED_AFTER:
            return True
        if isinstance(role, Leading):
            return not role.fenced and not role.core.has_lease(self.w.now)
        return placement[0] == self.id

    def _on_ping(self, src: int) -> None:
        self.send(src, "pong", self.needs_election())

    def _on_pong(self, src: int, needs_election: bool) -> None:
        self.last_seen[src] = self.w.now
        self.election_requests[src] = needs_election

    def _on_fetch(self, src: int, generation: int, epoch: int, offset: int) -> None:
        role = self.role
        if not isinstance(role, Leading) or epoch != role.core.epoch:
            self.send(src, "fetch_no", generation)
            return
        available = len(self.log) + len(role.staged)
        if offset > available:
            self.send(src, "fetch_oor", generation, len(self.log))
            return
        role.core.fetched(src, offset, available, self.w.now)
        self._release(role)
        records = (self.log + role.staged)[offset: offset + self.w.fetch_max]
        end = offset + len(records)
        epochs = [(e, s) for e, s in self.epochs.entries if s <= end]
        self.send(src, "fetch_ok", generation, role.core.epoch, offset, records, int(role.core.high_watermark), epochs)

    def _current(self, generation: int) -> Following | None:
        role = self.role
        return role if isinstance(role, Following) and role.generation == generation else None

    def _on_fetch_ok(self, src: int, generation: int, epoch: int, offset: int, records: list[str], hw: int,
                     epochs: list[tuple[int, int]]) -> None:  # fmt: skip
        role = self._current(generation)
        if role is None or epoch != role.epoch or epoch < self.epochs.promised or offset != len(self.log):
            return
        self.log.extend(records)
        end = len(self.log)
        for e, s in epochs:
            if s <= end:
                self.epochs.assign(e, s)
        role.high_watermark = max(role.high_watermark, min(hw, end))
        role.contact_at = self.w.now
        role.sent_at = -1.0  # ask again at the next tick

    def _on_fetch_oor(self, src: int, generation: int, truncate_to: int) -> None:
        role = self._current(generation)
        if role is not None:
            self._truncate(min(truncate_to, len(self.log)))
            role.sent_at = -1.0

    def _on_fetch_no(self, src: int, generation: int) -> None:
        return None

    def _on_epoch_end(self, src: int, generation: int, epoch: int) -> None:
        got = self.epochs.end_offset(epoch, len(self.log))
        if got is None:
            entries = self.epochs.entries
            self.send(src, "epoch_end_r", generation, False, 0, entries[0][1] if entries else len(self.log))
        else:
            self.send(src, "epoch_end_r", generation, True, got[0], got[1])

    def _on_epoch_end_r(self, src: int, generation: int, found: bool, epoch: int, end: int) -> None:
        role = self._current(generation)
        if role is None or role.phase != "align":
            return
        cut, done = self.rules.next_cut(self.epochs.entries, len(self.log), EpochEndAnswer(found, epoch, end))
        self._truncate(cut)
        if done:
            role.phase = "fetch"
        role.sent_at = -1.0

    def _on_probe(self, src: int) -> None:
        role = self.role
        if isinstance(role, Following):
            self.send(src, "probe_r", role.leader, role.epoch, self.w.now - role.contact_at)
        else:
            self.send(src, "probe_r", -1, 0, 1e9)

    def _on_fence(self, src: int, new_epoch: int) -> None:
        if self.rules.fence:
            if self.epochs.promise(new_epoch):
                self.promised_at = self.w.now
            role = self.role
            if (isinstance(role, Leading) and role.core.epoch < new_epoch) or (
                isinstance(role, Following) and role.epoch < new_epoch
            ):
                self._stop_role()
        pos = self.position()
        self.send(src, "fence_r", new_epoch, pos.last_epoch, pos.log_end)

    def _on_append(self, client: int, op: int, value: str) -> None:
        role = self.role
        if not isinstance(role, Leading) or role.fenced or not role.core.has_lease(self.w.now):
            return
        role.staged.append(value)
        role.waiters.append((len(self.log) + len(role.staged), client, op))

    def _on_read(self, client: int, op: int) -> None:
        role = self.role
        if not isinstance(role, Leading):
            return
        hw = min(int(role.core.high_watermark), len(self.log))
        start = max(0, hw - 5)
        self.obs.read(self, [(o, self.log[o]) for o in range(start, hw)])

    # --- the controller (replication/controller.py) ---------------------------------------------
    def _control(self) -> None:
        w = self.w
        e = self.election
        if e is not None:
            if w.now >= e.deadline or self._phase_answered(e):
                self._advance(e)
            return
        if w.now < self.next_control:
            return
        self.next_control = w.now + CONTROLLER_EVERY
        placement = self._placement()
        if placement is None:
            return
        leader, epoch, replicas = placement
        if leader < 0:
            reason = "no leader"
        elif not self.alive(leader):
            reason = "unreachable"
        elif self.needs_election() or any(self.election_requests.get(r) for r in replicas if r != self.id):
            reason = "no quorum"
        else:
            return
        others = [r for r in replicas if r != leader]
        if reason == "unreachable" and self.rules.pre_vote:
            e = _Election(leader, epoch, replicas, reason, "probe", w.now + RPC_WAIT)
            for r in others:
                self.send(r, "probe")
        else:
            e = _Election(leader, epoch, replicas, reason, "fence", w.now + RPC_WAIT)
            for r in others:
                self.send(r, "fence", epoch + 1)
        self.election = e

    def _phase_answered(self, e: _Election) -> bool:
        others = [r for r in e.replicas if r != e.leader]
        if e.phase == "probe":
            return len(e.probes) == len(others)
        if e.phase == "fence":
            return len(e.promised) == len(others)
        return e.leader in e.promised

    def _on_probe_r(self, src: int, following: int, epoch: int, age: float) -> None:
        e = self.election
        if e is not None and e.phase == "probe":
            e.probes[src] = Probe(following, epoch, age)

    def _on_fence_r(self, src: int, new_epoch: int, last_epoch: int, log_end: int) -> None:
        e = self.election
        if e is not None and e.phase in ("fence", "fence-leader") and new_epoch == e.epoch + 1:
            e.promised[src] = Position(last_epoch, log_end)

    def _advance(self, e: _Election) -> None:
        w = self.w
        if e.phase == "probe":
            if self.rules.leader_still_heard(e.leader, e.epoch, list(e.probes.values())):
                self.election = None
                self.next_control = w.now + RETRY_AFTER
                return
            e.phase, e.deadline = "fence", w.now + RPC_WAIT
            for r in e.replicas:
                if r != e.leader:
                    self.send(r, "fence", e.epoch + 1)
            return
        if e.phase == "fence" and len(e.promised) + 1 == majority(len(e.replicas)) and e.leader in e.replicas:
            e.phase, e.deadline = "fence-leader", w.now + RPC_WAIT
            self.send(e.leader, "fence", e.epoch + 1)
            return
        self.election = None
        self.next_control = w.now + RETRY_AFTER
        choice = self.rules.choose_leader(e.replicas, e.promised, e.leader)
        if choice is not None:
            w.propose(self.id, mc.ChangePartitionLeader(stream_id=STREAM, topic_id=TOPIC, partition_id=0,
                                                        leader=choice, expected_epoch=e.epoch))

    @property
    def contact_ok(self) -> bool:
        role = self.role
        return isinstance(role, Following) and self.w.now - role.contact_at <= CONTACT_S
