"""Run seeds of the deterministic simulation: ``python -m tests.simulation.run --seeds 20000``.

One seed decides everything: cluster size (3 or 5), how lossy and slow the network is,
when links are cut and healed and nodes crash and restart, and every message delay.
A run is the workload under faults for ``duration`` simulated seconds, then everything
healed and restarted and given time to settle, then the final checks.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from tests.simulation.checker import Observer, Violation
from tests.simulation.node import SimNode
from tests.simulation.rules import MUTANTS, PRODUCT, Rules
from tests.simulation.world import Faults, World

__all__ = ["Outcome", "run_seed"]


@dataclass(frozen=True)
class Outcome:
    seed: int
    size: int
    violation: str | None
    acked: int
    elections: int
    reads: int


def run_seed(seed: int, rules: Rules = PRODUCT, duration: float = 12.0, settle: float = 60.0) -> Outcome:
    import random

    pick = random.Random(seed * 7919 + 1)
    size = pick.choice((3, 3, 5))
    faults = Faults(
        loss=pick.choice((0.0, 0.01, 0.05)),
        slow=pick.choice((0.0, 0.03, 0.1)),
        cut_every=pick.uniform(1.0, 4.0),
        crash_every=pick.uniform(0.5, 6.0),
        down_for=(0.1, pick.uniform(0.5, 3.0)),
    )
    obs = Observer()
    world = World(seed=seed, size=size, faults=faults, make_node=lambda w, i: SimNode(w, i, rules, obs),
                  fetch_max=pick.choice((1, 2, 8)), write_chance=pick.choice((1.0, 0.5, 0.2)))
    ops = 0

    def produce() -> None:
        nonlocal ops
        if world.now >= duration:
            return
        viewers = [n for n in world.nodes.values() if n.up]
        placement = world.rng.choice(viewers)._placement() if viewers else None
        if placement is not None and placement[0] > 0:
            ops += 1
            target = world.nodes[placement[0]]
            value, op = f"v{ops}", ops
            incarnation = target.incarnation
            delay = world.rng.uniform(0.001, 0.02)
            world.at(world.now + delay, lambda: target.receive(0, ("append", op, value))
                     if target.up and target.incarnation == incarnation else None)
            if world.rng.random() < 0.3:
                world.at(world.now + delay, lambda: target.receive(0, ("read", op))
                         if target.up and target.incarnation == incarnation else None)
        world.at(world.now + world.rng.uniform(0.005, 0.03), produce)

    world.at(0.5, produce)
    world.at(0.5, world.tick_faults)

    def stop_faults() -> None:
        world.faults = Faults(loss=0.0, slow=0.0, cut_every=1e9, crash_every=1e9)
        world.heal()
        for n in world.nodes.values():
            n.restart()

    world.at(duration, stop_faults)
    def converged() -> bool:
        replicas = [world.nodes[i] for i in world.placement()[2]]
        first = replicas[0].log
        return all(n.log == first for n in replicas) and all(
            n.applied == len(world.log) for n in world.nodes.values()
        ) and len(first) >= len(obs.acked)

    try:
        world.run_until(duration)
        end = duration + settle
        while world.now < end:  # settle: healed, everyone up, no faults; stop once converged
            world.run_until(world.now + 1.0)
            if converged():
                break
        obs.settled(world.nodes, world.placement()[2], world.authority.snapshot())
        violation = None
    except Violation as exc:
        violation = str(exc)
    return Outcome(seed, size, violation, len(obs.acked), obs.elections, obs.reads)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.simulation.run")
    p.add_argument("--seeds", type=int, default=2000)
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--rules", default="product", choices=["product", *(m.name for m in MUTANTS)])
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    rules = PRODUCT if a.rules == "product" else next(m for m in MUTANTS if m.name == a.rules)
    started = time.monotonic()
    failed = []
    acked = 0
    seeds = range(a.first, a.first + a.seeds)
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        for out in pool.map(run_seed, seeds, [rules] * len(seeds), chunksize=20):
            acked += out.acked
            if out.violation:
                failed.append(out.seed)
                print(f"seed {out.seed} ({out.size} nodes): {out.violation}", flush=True)
    took = time.monotonic() - started
    print(f"{a.seeds} seeds ({rules.name}) in {took:.0f}s: {len(failed)} with a violation, "
          f"{acked} acknowledged records checked", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
