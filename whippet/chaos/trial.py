"""One seeded trial, end to end.

1. Start the cluster (every node as its own user, the iptables chain first), create
   the stream and a topic of 3 partitions (replication factor 3).
2. Run the workload while the nemesis plays the schedule; heal everything, keep
   writing 2 s more, stop the clients, wait (bounded) until the cluster is quiet.
3. Read every stored consumer offset back, note each partition's leader, stop the
   nodes cleanly and read every replica's log (phase ``run``).
4. Restart the whole cluster, read offsets back, run a short workload, wait until
   quiet, stop and read the replicas again (phase ``restart``).
5. Check the history and both observations; stop every node by PID and remove
   every rule, whatever happened (exception, SIGINT, SIGTERM).

``results/seed-N/`` receives ``schedule.json``, ``history.jsonl``, ``result.json``
and the node logs; the data dirs are kept only when the trial failed and
``keep_data`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from whippet.chaos.checker import Anomaly, Observation, check, failover_times
from whippet.chaos.cluster import ChaosCluster
from whippet.chaos.history import History, load
from whippet.chaos.nemesis import Nemesis
from whippet.chaos.schedule import Schedule, generate
from whippet.chaos.workload import OP_TIMEOUT, Target, Workload
from whippet.sdk import Client

__all__ = ["TrialResult", "recheck", "run_trial"]

QUIET_TIMEOUT = 90.0  # generous: a slow shared machine must not look like a lagging replica
RESTART_WORKLOAD_S = 3.0


@dataclass
class TrialResult:
    seed: int
    nodes: int
    profile: str
    passed: bool
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    failover: dict[str, list[float | None]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    quiescence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None  # the harness itself failed (not an anomaly of the cluster)
    directory: str = ""

    def summary(self) -> str:
        kinds = sorted({a["kind"] for a in self.anomalies})
        state = "PASS" if self.passed else ("ERROR" if self.error and not kinds else "FAIL")
        text = f"seed {self.seed} ({self.nodes} nodes): {state} in {self.seconds:.0f}s"
        if kinds:
            text += ": " + ", ".join(f"{k} x{sum(a['count'] for a in self.anomalies if a['kind'] == k)}" for k in kinds)
        if self.error:
            text += f" [harness: {self.error.splitlines()[-1][:160]}]"
        return text


def _trial_root() -> Path:
    """Data dirs where every node user can reach its own (ancestors o+x)."""
    root = Path(tempfile.mkdtemp(prefix="whippet-chaos-", dir="/tmp"))
    os.chmod(root, 0o711)
    return root


async def _create_topic(cc: ChaosCluster, target: Target) -> None:
    deadline = time.monotonic() + 60
    while True:
        client = Client(cc.addresses(), username="iggy", password="iggy", request_timeout=10.0)
        try:
            await client.connect()
            stream = await client.create_stream(target.stream)
            topic = await client.create_topic(target.stream, target.topic, partitions_count=target.partitions,
                                              replication_factor=3)
            cc.stream_id, cc.topic_id = stream.id, topic.topic.id
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
        finally:
            await client.close()
    # Writes start once every partition has its leader and replicas in place.
    ok, _, state = await cc.wait_quiescent(target.partitions, QUIET_TIMEOUT)
    if not ok:
        raise RuntimeError(f"partitions not ready after creation: {state}")


def _single_leaders(cc: ChaosCluster, partitions: int) -> dict[int, int | None]:
    claims = cc.leaders()
    return {p: ls[0] if len(ls := claims.get(p, [])) == 1 else None for p in range(partitions)}


async def _phase_end(cc: ChaosCluster, history: History, workload: Workload, phase: str,
                     partitions: int) -> Observation:
    """Wait for quiet, read offsets back, note leaders, stop cleanly, read the replicas."""
    reached, seconds, state = await cc.wait_quiescent(partitions, QUIET_TIMEOUT)
    history.add("quiescence", phase=phase, reached=reached, seconds=round(seconds, 2), state=state)
    await workload.read_back_all()
    leaders = await asyncio.to_thread(_single_leaders, cc, partitions)
    codes = await asyncio.to_thread(cc.stop)
    history.add("stopped", phase=phase, codes={str(k): v for k, v in codes.items()}, leaders=leaders)
    logs = await asyncio.to_thread(cc.replica_logs)
    return Observation(logs, leaders)


async def _workload_phase(workload: Workload, seconds: float | None, until: asyncio.Future[None] | None) -> None:
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(workload.run(stop))
    try:
        if until is not None:
            await until
        if seconds:
            await asyncio.sleep(seconds)
    finally:
        stop.set()
        # Every client returns within one bounded call (retries stop once stopping).
        await asyncio.wait_for(task, OP_TIMEOUT * 2 + 10)


async def _run(schedule: Schedule, cc: ChaosCluster, history: History) -> dict[str, Observation]:
    target = Target("chaos", "t", schedule.partitions)
    await asyncio.to_thread(cc.start)
    await _create_topic(cc, target)
    kw = dict(producers=schedule.producers, official_producers=schedule.official_producers,
              consumers=schedule.consumers, batch=schedule.batch)
    nemesis = Nemesis(cc, history, schedule.partitions)
    watching = asyncio.Event()
    watcher = asyncio.get_running_loop().create_task(nemesis.watch(watching))
    observations: dict[str, Observation] = {}
    try:
        history.add("phase", phase="run")
        run = Workload(history, cc.addresses(), target, phase="run", client_base=0, seed=schedule.seed, **kw)
        origin = history.now()

        async def faults() -> None:
            await nemesis.run(schedule.faults, origin)
            delay = origin + schedule.duration - history.now()
            if delay > 0:
                await asyncio.sleep(delay)
            await nemesis.heal_all()
            await asyncio.sleep(2.0)  # the healed cluster must take writes again

        await _workload_phase(run, None, asyncio.ensure_future(faults()))
        watching.set()
        await watcher
        observations["run"] = await _phase_end(cc, history, run, "run", schedule.partitions)

        history.add("phase", phase="restart")
        failed = await asyncio.to_thread(cc.start_all)
        for node, error in failed.items():
            history.add("nemesis", f="crash", node=node, during="restart", error=error.splitlines()[0][:200],
                        log=cc.nodes[node].read_log().splitlines()[-12:])
        if failed:
            await nemesis.heal_all()  # start them again (each failure there is recorded too)
        watching = asyncio.Event()
        watcher = asyncio.get_running_loop().create_task(nemesis.watch(watching))
        again = Workload(history, cc.addresses(), target, phase="restart", client_base=200, seed=schedule.seed + 1,
                         **{**kw, "producers": 1})
        await cc.wait_quiescent(schedule.partitions, QUIET_TIMEOUT)
        await again.read_back_all()
        await _workload_phase(again, RESTART_WORKLOAD_S, None)
        watching.set()
        await watcher
        observations["restart"] = await _phase_end(cc, history, again, "restart", schedule.partitions)
    finally:
        watching.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(watcher, 5)
    return observations


def _save_observations(path: Path, observations: dict[str, Observation]) -> None:
    """The replicas' logs of a failing trial, to re-check or inspect offline (offset, id, payload hex)."""
    data = {phase: {"leaders": obs.leaders,
                    "logs": {node: {p: [[o, hex(i), pl.hex()] for o, i, pl in log] for p, log in logs.items()}
                             for node, logs in obs.logs.items()}}
            for phase, obs in observations.items()}
    with gzip.open(path, "wt") as f:
        json.dump(data, f)


def load_observations(path: Path) -> dict[str, Observation]:
    with gzip.open(path, "rt") as f:
        data = json.load(f)
    return {phase: Observation(
        logs={int(n): {int(p): [(o, int(i, 16), bytes.fromhex(pl)) for o, i, pl in log] for p, log in logs.items()}
              for n, logs in d["logs"].items()},
        leaders={int(p): v for p, v in d["leaders"].items()}) for phase, d in data.items()}


def recheck(directory: Path) -> list[Anomaly]:
    """Run the checker again over a failing trial's saved history and replica logs."""
    schedule = Schedule.from_json(json.loads((directory / "schedule.json").read_text()))
    events = load(directory / "history.jsonl")
    return check(events, load_observations(directory / "observations.json.gz"), schedule.partitions)


def _counts(events: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    invokes: dict[int, dict[str, Any]] = {}
    for e in events:
        if e["type"] == "invoke":
            invokes[e["req"]] = e
        if e["type"] in ("ok", "fail", "info") and "op" in e:
            key = f"{e['op']}_{e['type']}"
            counts[key] = counts.get(key, 0) + 1
            if e["op"] == "send" and e["type"] == "ok":
                counts["messages_acked"] = counts.get("messages_acked", 0) + len(invokes[e["req"]]["ids"])
            if e["op"] == "poll" and e["type"] == "ok":
                counts["records_read"] = counts.get("records_read", 0) + len(e["records"])
    return counts


async def run_trial(seed: int, results: Path, profile: str = "full", keep_data: bool = False) -> TrialResult:
    """Run one trial and write its files under ``results/seed-<seed>/``."""
    schedule = generate(seed, profile)
    directory = results / f"seed-{seed}"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / "schedule.json").write_text(json.dumps(schedule.to_json(), indent=1))
    history = History(directory / "history.jsonl")
    root = _trial_root()
    started = time.monotonic()
    result = TrialResult(seed=seed, nodes=schedule.nodes, profile=profile, passed=False, directory=str(directory))
    anomalies: list[Anomaly] = []
    observations: dict[str, Observation] = {}
    cc: ChaosCluster | None = None
    try:
        cc = ChaosCluster(root, schedule.nodes)
        try:
            observations = await _run(schedule, cc, history)
        except Exception:
            result.error = traceback.format_exc()
        anomalies = check(history.events, observations, schedule.partitions)
    finally:
        if cc is not None:
            await asyncio.to_thread(cc.close)
        history.close()
        for log in sorted(root.glob("*.log")):
            shutil.copy(log, directory / log.name)
        if keep_data and (anomalies or result.error):
            shutil.copytree(root, directory / "data", symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    events = history.events
    if anomalies:
        _save_observations(directory / "observations.json.gz", observations)
    result.anomalies = [a.to_json() for a in anomalies]
    result.passed = not anomalies and result.error is None
    result.faults = {}
    for e in events:
        if e["type"] == "nemesis" and e.get("f") == "start":
            result.faults[e["kind"]] = result.faults.get(e["kind"], 0) + 1
        if e["type"] == "nemesis" and e.get("f") in ("cut", "kill", "pause", "restart"):
            result.steps[e["f"]] = result.steps.get(e["f"], 0) + 1
    result.failover = failover_times(events)
    result.counts = _counts(events)
    result.quiescence = {e["phase"]: {"reached": e["reached"], "seconds": e["seconds"]}
                         for e in events if e["type"] == "quiescence"}
    result.seconds = round(time.monotonic() - started, 1)
    (directory / "result.json").write_text(json.dumps(asdict(result), indent=1, default=str))
    return result
