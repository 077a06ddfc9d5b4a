"""``whippet-bench``: throughput and latency of whippet, optionally side by side with NATS and Redis.

Workloads (``--workloads``, default all four):

* ``send`` — ``--producers`` processes each send ``--count`` messages of
  ``--message-size`` bytes in batches of ``--batch-size`` (``--in-flight`` batches
  outstanding), spread over ``--streams`` x ``--partitions``;
* ``poll`` — ``--consumers`` processes read that data back by offset;
* ``consumer-group-poll`` — the consumers read it as one consumer group, committing per poll;
* ``send-and-poll`` — producers and consumers at once, on fresh streams.

``--target host:port`` measures an already running node (or cluster) instead of
starting one. ``--compare`` also starts Debian's ``nats-server`` (JetStream, file
storage, R1) and ``redis-server`` (AOF, appendfsync everysec) on loopback, runs
the same workloads through nats-py and redis-py, and prints one ratio table
from the same run; a missing server is skipped with a note, never installed.
``--cluster 3`` adds a 3-node whippet cluster (RF3, quorum acks) and, with
``--compare``, a 3-node JetStream cluster (R3), compared in a second ratio table.
``suite`` (what ``make bench`` runs) is ``--compare --cluster 3`` with bounded defaults.

Batches are encoded once up front and each actor is its own process, so the
client is not what is measured. Every phase is bounded by ``--max-seconds``.
Output: a table on stdout, ``results.json``, ``throughput.png`` and
``latency.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from whippet.cli.bench_actors import TICK, ActorPlan, run_actor
from whippet.cli.bench_drivers import Spec, driver_for
from whippet.cli.bench_report import (
    Result,
    aggregate,
    ratio_table,
    results_table,
    write_charts,
    write_json,
)
from whippet.cli.bench_servers import Server, available, start, start_cluster

__all__ = ["machine", "main"]

WORKLOADS = ("send", "poll", "consumer-group-poll", "send-and-poll")


def _pairs(spec: Spec) -> list[tuple[int, int]]:
    return [(s, p) for s in range(spec.streams) for p in range(spec.partitions)]


def _share(pairs: list[tuple[int, int]], n: int, k: int) -> tuple[tuple[int, int], ...]:
    mine = pairs[k::n] if n <= len(pairs) else [pairs[k % len(pairs)]]
    return tuple(mine)


def _expected(plans: list[ActorPlan], batch: int) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for plan in plans:
        for i in range(plan.batches):
            pair = plan.pairs[i % len(plan.pairs)]
            out[pair] = out.get(pair, 0) + batch
    return out


class Runner:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.ctx = mp.get_context("spawn")

    def _run_actors(self, label: str, plans: list[ActorPlan], total: int) -> list[dict[str, Any]]:
        from tqdm import tqdm

        ctx = self.ctx
        progress, shared = ctx.Value("q", 0), ctx.Value("q", 0)
        start_evt, ready, queue = ctx.Event(), ctx.Semaphore(0), ctx.Queue()
        procs = [ctx.Process(target=run_actor, args=(p, progress, shared, start_evt, ready, queue)) for p in plans]
        for proc in procs:
            proc.start()
        out: list[dict[str, Any]] = []
        bar = tqdm(total=total, desc=label, unit="msg", unit_scale=True, leave=False, file=sys.stderr,
                   disable=self.opts.no_progress)
        try:
            for _ in procs:
                if not ready.acquire(timeout=120):
                    raise RuntimeError(f"{label}: an actor did not connect in time")
            start_evt.set()
            deadline = time.monotonic() + self.opts.max_seconds * 3 + 120
            while len(out) < len(procs):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label}: actors did not finish in time")
                try:
                    out.append(queue.get(timeout=0.2))
                except Exception:  # queue.Empty: just refresh the bar
                    pass
                bar.n = min(progress.value, total)
                bar.refresh()
        finally:
            bar.close()
            for proc in procs:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
        errors = [o["error"] for o in out if "error" in o]
        if errors:
            raise RuntimeError("; ".join(errors))
        return out

    def _producers(self, system: str, address: str, spec: Spec) -> list[ActorPlan]:
        o = self.opts
        pairs = _pairs(spec)
        batches = max(1, math.ceil(o.count / spec.batch))
        return [
            ActorPlan(system, address, spec, "producer", k, _share(pairs, o.producers, k), batches=batches,
                      in_flight=o.in_flight, max_seconds=o.max_seconds)
            for k in range(o.producers)
        ]

    def _consumers(self, system: str, address: str, spec: Spec, expected: dict[tuple[int, int], int],
                   group: bool) -> list[ActorPlan]:
        o = self.opts
        pairs = _pairs(spec)
        total = sum(expected.values())
        plans = []
        for k in range(o.consumers):
            mine = tuple(pairs) if group else _share(pairs, o.consumers, k)
            plans.append(ActorPlan(system, address, spec, "consumer", k, mine,
                                   expected={p: expected.get(p, 0) for p in mine}, group_total=total, group=group,
                                   in_flight=1, max_seconds=o.max_seconds))
        return plans

    def run_system(self, server: Server, replicas: int = 1, ids: bool = False) -> list[Result]:
        o = self.opts
        system, label, address = server.system, server.label, server.address
        base = Spec(o.streams, o.partitions, o.message_size, o.batch_size, "a", replicas, ids)
        driver = driver_for(system)
        asyncio.run(driver.setup(address, base))
        results: list[Result] = []
        workloads = list(o.workloads)
        if any(w in workloads for w in ("poll", "consumer-group-poll")) and "send" not in workloads:
            workloads.insert(0, "send")
        written: dict[tuple[int, int], int] = {}

        def record(workload: str, role: str, parts: list[dict[str, Any]]) -> None:
            results.append(aggregate(system, label, workload, role, parts, TICK))

        for workload in WORKLOADS:
            if workload not in workloads:
                continue
            if workload == "send":
                plans = self._producers(system, address, base)
                parts = self._run_actors(f"{label}: send", plans, sum(p.batches for p in plans) * base.batch)
                for part in parts:
                    for key, n in part["per_pair"].items():
                        s, p = map(int, key.split(":"))
                        written[(s, p)] = written.get((s, p), 0) + n
                record("send", "producer", parts)
            elif workload in ("poll", "consumer-group-poll"):
                group = workload == "consumer-group-poll"
                plans = self._consumers(system, address, base, written, group)
                parts = self._run_actors(f"{label}: {workload}", plans, sum(written.values()))
                record(workload, "consumer", parts)
            else:
                spec = Spec(o.streams, o.partitions, o.message_size, o.batch_size, "b", replicas, ids)
                asyncio.run(driver.setup(address, spec))
                producers = self._producers(system, address, spec)
                expected = _expected(producers, spec.batch)
                consumers = self._consumers(system, address, spec, expected, False)
                total = 2 * sum(expected.values())
                parts = self._run_actors(f"{label}: send-and-poll", producers + consumers, total)
                record(workload, "producer", [p for p in parts if p["role"] == "producer"])
                record(workload, "consumer", [p for p in parts if p["role"] == "consumer"])
        return results


def machine() -> dict[str, Any]:
    """What the figures were measured on (for docs/BENCHMARKS.md)."""
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
        mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
        info.update(cpu=cpu, memory_gib=round(mem_kb / 2**20, 1))
    except (OSError, StopIteration, ValueError):
        pass
    for name, cmd in (("nats_server", ["nats-server", "--version"]), ("redis_server", ["redis-server", "--version"])):
        if shutil.which(cmd[0]):
            info[name] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    return info


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="whippet-bench", description=__doc__.split("\n")[0])
    p.add_argument("mode", nargs="?", choices=["run", "suite"], default="run",
                   help="suite = --compare with the make-bench defaults")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated of {', '.join(WORKLOADS)}")
    p.add_argument("--producers", type=int, default=1)
    p.add_argument("--consumers", type=int, default=1)
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--partitions", type=int, default=1)
    p.add_argument("--message-size", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=1000, help="messages per request")
    p.add_argument("--count", type=int, default=None, help="messages per producer (200k; suite 500k)")
    p.add_argument("--in-flight", type=int, default=4, help="batches outstanding per producer")
    p.add_argument("--max-seconds", type=float, default=15.0, help="bound of every phase")
    p.add_argument("--fsync", default="interval", help="whippet node fsync policies to run, comma-separated")
    p.add_argument("--target", help="host:port of a running whippet node/cluster (login iggy/iggy)")
    p.add_argument("--compare", action="store_true", help="also run NATS JetStream and Redis Streams")
    p.add_argument("--cluster", type=int, default=0, metavar="N",
                   help="also run an N-node whippet cluster (RF N) and, with --compare, an N-node JetStream (RN)")
    p.add_argument("--dedup", action="store_true",
                   help="also run whippet with message ids and deduplication on (the shipped configs), "
                        "reported as whippet-dedup, to measure what the idempotent producer costs")
    p.add_argument("--out", default="bench-results")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    opts.workloads = [w.strip() for w in opts.workloads.split(",") if w.strip()]
    unknown = set(opts.workloads) - set(WORKLOADS)
    if unknown:
        print(f"error: unknown workloads {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if opts.count is None:
        opts.count = 500_000 if opts.mode == "suite" else 200_000
    if opts.mode == "suite":
        opts.compare = True
        opts.cluster = opts.cluster or 3
        if opts.fsync == "interval":  # the suite also shows the fsync-per-batch cost
            opts.fsync = "interval,always"
    runner = Runner(opts)
    root = Path(tempfile.mkdtemp(prefix="whippet-bench-"))
    results: list[Result] = []
    notes: list[str] = []
    try:
        targets: list[tuple[str, str]] = []
        if opts.target:
            targets.append(("whippet", "target"))
        else:
            targets += [("whippet", f) for f in opts.fsync.split(",")]
            if opts.dedup:
                targets.append(("whippet", "dedup"))
        if opts.compare:
            for system in ("nats", "redis"):
                if available(system):
                    targets.append((system, ""))
                else:
                    notes.append(f"{system}: server binary not installed, skipped (apt-get install {system}-server)")
        if opts.cluster:
            targets.append(("whippet", "cluster"))
            if opts.compare and available("nats"):
                targets.append(("nats", "cluster"))
        for system, fsync in targets:
            if fsync == "cluster":
                server = start_cluster(system, root, opts.cluster)
                try:
                    got = runner.run_system(server, replicas=opts.cluster)
                    for r in got:
                        r.system = f"{system}-cluster"
                    results += got
                finally:
                    server.stop()
                continue
            if fsync == "target":
                host, port = opts.target.rsplit(":", 1)
                server = Server("whippet", f"whippet @ {opts.target}", int(port), host=host)
            elif fsync == "dedup":
                server = start(system, root, fsync="interval", dedup=True)
            else:
                server = start(system, root, fsync=fsync or "interval")
            try:
                got = runner.run_system(server, ids=fsync == "dedup")
                if system == "whippet" and any(r.system == "whippet" for r in results):
                    for r in got:  # only the first whippet run is the ratio base
                        r.system = f"whippet-{fsync}"
                results += got
            finally:
                server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    text = results_table(results)
    single = [r for r in results if not r.system.endswith("-cluster")]
    clustered = [r for r in results if r.system.endswith("-cluster")]
    ratios = "\n\n".join(
        t for t in (ratio_table(single), ratio_table(clustered, base="whippet-cluster")) if t
    )
    report = text + ("\n\n" + ratios if ratios else "") + "".join(f"\nnote: {n}" for n in notes)
    print(report)
    meta = {"machine": machine(), "options": {k: v for k, v in vars(opts).items()}, "notes": notes}
    write_json(out / "results.json", results, meta)
    (out / "results.txt").write_text(report + "\n")
    charts = write_charts(out, results)
    print(f"\nwrote {out / 'results.json'}, {', '.join(str(c) for c in charts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
