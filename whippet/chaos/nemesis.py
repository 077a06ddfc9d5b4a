"""Runs a schedule's faults against a chaos cluster and records each in the history.

Roles are resolved when a fault starts (from the nodes' /metrics) and stay bound for
the fault's steps. Each step is a ``nemesis`` event with the nodes it touched; cuts
and kills also name the partitions whose leader they hit (``leaders_hit``), which is
what the failover time is measured from. A restart does not hold up the schedule: it
runs in the background and ends in a ``ready`` event (or a ``crash``, when the node
exits while starting).

A watcher records every node that exits on its own (``crash``: an anomaly) and starts
it again so the trial goes on. :meth:`heal_all` ends every fault: links healed, paused
nodes resumed, dead nodes restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict

from whippet.chaos.cluster import ChaosCluster
from whippet.chaos.history import History
from whippet.chaos.schedule import Fault, Roles, Step, cut_links

__all__ = ["Nemesis"]


class Nemesis:
    def __init__(self, cc: ChaosCluster, history: History, partitions: int) -> None:
        self.cc = cc
        self.history = history
        self.partitions = partitions
        self._restarts: dict[int, asyncio.Task[None]] = {}
        self.faults_by_kind: dict[str, int] = {}

    async def run(self, faults: tuple[Fault, ...], origin: float) -> None:
        """Run every fault at ``origin + fault.start`` (history time), one after another."""
        for n, fault in enumerate(faults):
            await self._sleep_until(origin + fault.start)
            await self._run_fault(n, fault, origin)

    async def _sleep_until(self, t: float) -> None:
        delay = t - self.history.now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _run_fault(self, n: int, fault: Fault, origin: float) -> None:
        roles = await asyncio.to_thread(self.cc.roles, fault.partition, fault.pick)
        self.faults_by_kind[fault.kind] = self.faults_by_kind.get(fault.kind, 0) + 1
        self.history.add("nemesis", f="start", fault=n, kind=fault.kind, partition=fault.partition,
                         roles=asdict(roles))
        for step in fault.steps:
            await self._sleep_until(origin + fault.start + step.at)
            await self._step(n, step, roles)
        self.history.add("nemesis", f="end", fault=n, kind=fault.kind)

    async def _leaders(self) -> dict[int, list[int]]:
        return await asyncio.to_thread(self.cc.leaders)

    async def _step(self, n: int, step: Step, roles: Roles) -> None:
        if step.action == "cut":
            links = cut_links(step.shape, roles)
            before = await self._leaders()
            await asyncio.to_thread(self.cc.net.cut_links, links)
            cut_off = _minority_side(links, roles.nodes)
            hit = [p for p, ls in before.items() if any(x in cut_off for x in ls)]
            self.history.add("nemesis", f="cut", fault=n, shape=step.shape, links=links, isolated=sorted(cut_off),
                             leaders_hit=hit, cause="partition")
        elif step.action == "heal":
            await asyncio.to_thread(self.cc.net.heal)
            self.history.add("nemesis", f="heal", fault=n)
        elif step.action == "kill":
            node = roles.node(step.role)
            before = await self._leaders()
            await self._settle_restart(node)
            await asyncio.to_thread(self.cc.kill, node)
            hit = [p for p, ls in before.items() if node in ls]
            self.history.add("nemesis", f="kill", fault=n, node=node, role=step.role, leaders_hit=hit,
                             cause="kill", during_cut=bool(self.cc.net.cut))
        elif step.action == "restart":
            node = roles.node(step.role)
            self.history.add("nemesis", f="restart", fault=n, node=node, role=step.role)
            self._restart_in_background(node)
        elif step.action == "pause":
            node = roles.node(step.role)
            await asyncio.to_thread(self.cc.pause, node)
            self.history.add("nemesis", f="pause", fault=n, node=node, role=step.role)
        elif step.action == "resume":
            node = roles.node(step.role)
            await asyncio.to_thread(self.cc.resume, node)
            self.history.add("nemesis", f="resume", fault=n, node=node, role=step.role)
        else:
            raise ValueError(f"unknown step {step.action!r}")

    async def _settle_restart(self, node: int) -> None:
        """A node still starting is killed only once its start is over (or failed)."""
        task = self._restarts.get(node)
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), 60)

    def _restart_in_background(self, node: int) -> None:
        async def restart() -> None:
            try:
                await asyncio.to_thread(self.cc.restart, node)
                self.history.add("nemesis", f="ready", node=node)
            except Exception as exc:  # the node exited while starting: issue 9's class 5
                proc = self.cc.nodes[node].proc
                self.history.add("nemesis", f="crash", node=node, during="start",
                                 code=proc.returncode if proc is not None else None,
                                 error=str(exc).splitlines()[0][:200], log=_log_tail(self.cc, node))
                self.cc.down.add(node)  # restarted again by heal_all, not counted twice by the watcher

        self._restarts[node] = asyncio.get_running_loop().create_task(restart())

    async def watch(self, stop: asyncio.Event) -> None:
        """Record nodes that exit by themselves, and start them again."""
        while not stop.is_set():
            for node, code in (await asyncio.to_thread(self.cc.crashed)).items():
                self.history.add("nemesis", f="crash", node=node, during="run", code=code, log=_log_tail(self.cc, node))
                self.cc.down.add(node)
                self._restart_in_background(node)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    async def heal_all(self) -> None:
        """Heal every link, resume every node, restart every dead one and wait for them."""
        await asyncio.to_thread(self.cc.net.heal)
        for node in list(self.cc.paused):
            await asyncio.to_thread(self.cc.resume, node)
        for task in list(self._restarts.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), 150)
        for node in sorted(self.cc.down):
            for attempt in range(3):
                try:
                    await asyncio.to_thread(self.cc.restart, node)
                    break
                except Exception as exc:
                    proc = self.cc.nodes[node].proc
                    self.history.add("nemesis", f="crash", node=node, during="heal", attempt=attempt,
                                     code=proc.returncode if proc else None, error=str(exc).splitlines()[0][:200],
                                     log=_log_tail(self.cc, node))
        self.history.add("nemesis", f="healed", down=sorted(self.cc.down))


def _minority_side(links: list[tuple[int, int]], nodes: tuple[int, ...]) -> set[int]:
    """Nodes that lost touch with a majority of the cluster through these cuts."""
    peers = {n: set(nodes) - {n} for n in nodes}
    for a, b in links:
        peers[a].discard(b)
        peers[b].discard(a)
    return {n for n in nodes if len(peers[n]) + 1 <= len(nodes) // 2}


def _log_tail(cc: ChaosCluster, node: int, lines: int = 12) -> list[str]:
    return cc.nodes[node].read_log().splitlines()[-lines:]
