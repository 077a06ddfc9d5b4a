"""Issue 9's anomalies as scripted runs of the simulation: one fault sequence each, timed.

Each scenario runs with random faults off and a fixed seed (message delays stay seeded
random), scripts the faults that produced the anomaly on a real cluster, keeps a
producer writing and a reader reading, then heals, settles and checks every invariant
(``checker.py``). The product rules must pass every one; the rule the anomaly broke,
put back as a mutant (``rules.py``), must fail its scenario: that is the deterministic
regression test of each fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.simulation.checker import Observer, Violation
from tests.simulation.node import Leading, SimNode
from tests.simulation.rules import PRODUCT, Rules
from tests.simulation.world import STREAM, TOPIC, Faults, World
from whippet.metadata import commands as mc

__all__ = ["CAUGHT_BY", "SCENARIOS", "Scenario", "run_scenario"]



@dataclass(frozen=True)
class Scenario:
    name: str
    size: int
    #: (time, action(world)) pairs
    script: Callable[[World], list[tuple[float, Callable[[], None]]]]
    duration: float = 10.0
    write_chance: float = 1.0
    fetch_max: int = 8
    slow: float = 0.0


def _isolate(w: World, node: int) -> Callable[[], None]:
    return lambda: w.net.cut.update(frozenset((node, b)) for b in w.nodes if b != node)


def _cut(w: World, group: set[int]) -> Callable[[], None]:
    return lambda: w.net.cut.update(frozenset((a, b)) for a in group for b in w.nodes if b not in group)


def _lead(w: World, node: int) -> Callable[[], None]:
    """Make ``node`` the partition's leader through the metadata (a committed change)."""

    def act() -> None:
        leader, epoch, _ = w.placement()
        if leader != node:
            w._commit(mc.ChangePartitionLeader(stream_id=STREAM, topic_id=TOPIC, partition_id=0, leader=node,
                                               expected_epoch=epoch))
    return act


def _stop_writes(w: World) -> Callable[[], None]:
    def act() -> None:
        w.write_chance = 0.0
    return act


def _resume_writes(w: World) -> Callable[[], None]:
    def act() -> None:
        w.write_chance = 1.0
    return act


def _when(w: World, condition: Callable[[], bool], action: Callable[[], None], every: float = 0.002) -> Callable[[], None]:
    """Start watching for ``condition``; run ``action`` once, as soon as it holds."""
    def check() -> None:
        if condition():
            action()
        else:
            w.at(w.now + every, check)
    return check


def _stale_controller(w: World) -> list[tuple[float, Callable[[], None]]]:
    """1a. The metadata leader (node 1) is cut off for 2.5 s on 5 nodes while partition 0's
    leader (node 3) keeps serving; node 1 still believes it leads (for pysyncobj's leader
    fallback), sees every peer as down, and a proposal it makes may commit after the heal."""
    return [(0.3, _lead(w, 3)), (3.0, _isolate(w, 1)), (5.5, w.heal)]


def _lone_follower(w: World) -> list[tuple[float, Callable[[], None]]]:
    """1b. A follower (2) is cut off and falls behind, the leader (1) is killed, the cut
    heals while the other follower (3, which holds everything acknowledged) is cut off in
    turn: the metadata leader (2, on 5 nodes) reaches only the lone, shorter replica and
    must not elect it."""
    def swap() -> None:
        w.heal()
        _isolate(w, 3)()

    return [(0.3, _lead(w, 1)), (2.0, _isolate(w, 2)), (4.0, w.nodes[1].crash), (4.5, swap),
            (7.0, w.heal), (7.5, w.nodes[1].restart)]


def _deposed_leader(w: World) -> list[tuple[float, Callable[[], None]]]:
    """2. 5 nodes split 2|3 with partition 0's leader and one follower on the minority side."""
    def split() -> None:
        leader, _, replicas = w.placement()
        follower = next(r for r in replicas if r != leader)
        _cut(w, {leader, follower})()
    return [(0.3, _lead(w, 1)), (3.0, split), (6.0, w.heal)]


def _restarted_leader(w: World) -> list[tuple[float, Callable[[], None]]]:
    """4. The leader publishes batches its followers take, crashes before writing them, and
    restarts before any failover; its followers cannot reach it for a moment while it takes
    new writes. It must not lead the same epoch again over what they hold."""
    def cut_followers() -> None:
        w.net.cut.update({frozenset((1, 2)), frozenset((1, 3))})

    return [(0.3, _lead(w, 1)), (3.0, _stop_writes(w)), (3.3, w.nodes[1].crash), (3.35, _resume_writes(w)),
            (3.35, cut_followers), (3.4, w.nodes[1].restart), (3.9, w.heal)]


def _figure_eight(w: World) -> list[tuple[float, Callable[[], None]]]:
    """Raft's figure 8 with leader epochs, on 5 nodes (4 and 5 keep the metadata majority).

    A (1) leads epoch 0 and, cut off, writes a tail no one else has; A crashes. B (2) is
    elected (epoch 1) and writes alone (the B-C link is cut); B crashes. A returns and is
    elected (epoch 2, newest epoch among A and C is 0, A is longer); C starts copying A's
    old tail. A crashes as soon as C acknowledged a record past B's epoch-1 start; B returns and
    is elected (its epoch 1 beats C's 0), and C cuts back to B's log. Counting C's records
    towards A's high watermark before C reached A's epoch start commits records that are
    then cut: that is what the epoch-start rule of ``replication.quorum`` prevents.
    """
    a, b, c = (w.nodes[i] for i in (1, 2, 3))
    b_start: list[int] = []

    def leader_is(node: int) -> Callable[[], bool]:
        return lambda: w.placement()[0] == node

    def cut_bc() -> None:
        w.net.cut.add(frozenset((2, 3)))

    def note_b_start() -> None:
        starts = [s for e, s in b.epochs.entries if e == 1]
        b_start.append(starts[0] if starts else len(b.log))

    def crash_b_restart_a() -> None:
        note_b_start()
        b.crash()
        w.heal()
        a.restart()

    def crash_a_then_restart_b() -> None:
        a.crash()
        w.at(w.now + 0.3, b.restart)

    def a_saw_c_past_b_start() -> bool:
        core = getattr(a.role, "core", None)
        return bool(b_start) and core is not None and core.follower_end.get(3, 0) > b_start[0]

    return [
        (0.3, _lead(w, 1)),
        (2.0, _isolate(w, 1)),                  # A writes on alone (its lease still runs)
        (2.6, a.crash),
        (2.65, w.heal),
        (2.7, _when(w, leader_is(2), cut_bc)),  # B elected: C must never fetch from it
        (4.5, crash_b_restart_a),               # B wrote alone; A and C elect A
        (4.6, _when(w, a_saw_c_past_b_start, crash_a_then_restart_b, every=0.0005)),
    ]


def _hand_over_inflight(w: World) -> list[tuple[float, Callable[[], None]]]:
    """Fault suite seed 140. Node 3 leads and is about to give leadership back to the
    preferred replica (node 1). Its own writes stall, so batches it published to its
    followers stay unwritten, and node 1's link to it drops: node 1 holds the written log
    but not the published tail, node 2 holds both. Named successor at the written end,
    node 1 would lead without the tail, which node 3 then writes and acknowledges with
    node 2 before it hears of the change. The hand-over must wait until those batches
    are written, which here they are not until node 1 can no longer catch up."""
    leader = w.nodes[3]

    def proposed() -> bool:
        role = leader.role
        return isinstance(role, Leading) and role.proposed_at is not None

    def caught_up() -> bool:
        role = leader.role
        return isinstance(role, Leading) and len(leader.log) > 20 and role.core.follower_end.get(1, 0) >= len(leader.log)

    def stall_cut_hand_over() -> None:
        _stop_writes(w)()
        w.at(w.now + 0.03, lambda: w.net.cut.add(frozenset((1, 3))))
        w.at(w.now + 0.06, leader._restore_preferred)  # scenarios pick the moment of a hand-over

    return [(0.3, _lead(w, 3)), (0.5, _when(w, caught_up, stall_cut_hand_over)),
            (0.5, _when(w, proposed, _resume_writes(w), every=0.0005)), (4.0, _resume_writes(w)), (5.0, w.heal)]


SCENARIOS = [
    Scenario("stale-controller", 5, _stale_controller),
    Scenario("lone-follower", 5, _lone_follower),
    Scenario("deposed-leader", 5, _deposed_leader),
    Scenario("restarted-leader", 3, _restarted_leader),
    Scenario("figure-eight", 5, _figure_eight),
    Scenario("hand-over-inflight", 3, _hand_over_inflight),
]

#: the mutant each scenario exists to catch (it must fail the scenario)
CAUGHT_BY = {
    "stale-controller": "stale-raft-leader",
    "lone-follower": "no-majority-election",
    "deposed-leader": "no-majority-election",
    "restarted-leader": "epoch-led-twice",
    "figure-eight": "no-epoch-start-rule",
    "hand-over-inflight": "hand-over-ignores-inflight",
}


def run_scenario(scenario: Scenario, rules: Rules = PRODUCT, seed: int = 1, settle: float = 60.0) -> str | None:
    """The first violation of ``scenario`` under ``rules`` (None when every check holds)."""
    obs = Observer()
    faults = Faults(loss=0.0, slow=scenario.slow, cut_every=1e9, crash_every=1e9)
    world = World(seed=seed, size=scenario.size, faults=faults, make_node=lambda w, i: SimNode(w, i, rules, obs),
                  fetch_max=scenario.fetch_max, write_chance=scenario.write_chance, preferred_every=1e9)
    for when, action in scenario.script(world):
        world.at(when, action)
    ops = 0

    def produce() -> None:
        nonlocal ops
        if world.now >= scenario.duration:
            return
        leader = world.placement()[0]
        target = world.nodes[leader]
        ops += 1
        op, value = ops, f"v{ops}"
        if target.up:
            world.at(world.now + 0.002, lambda: target.receive(0, ("append", op, value)) if target.up else None)
            world.at(world.now + 0.002, lambda: target.receive(0, ("read", op)) if target.up else None)
        world.at(world.now + 0.01, produce)

    world.at(0.5, produce)
    world.at(0.5, world.tick_faults)  # retries held proposals; QUIET starts no fault of its own
    try:
        world.run_until(scenario.duration)
        world.heal()
        for n in world.nodes.values():
            n.restart()
        world.run_until(scenario.duration + settle)
        obs.settled(world.nodes, world.placement()[2], world.authority.snapshot())
    except Violation as exc:
        return str(exc)
    return None
