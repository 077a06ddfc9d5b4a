"""One bench actor (a producer or a consumer) in its own process.

Each actor is a separate process so one Python producer is measured as one
Python producer (the acceptance figure), and so the coordinator's progress bar
never competes with it for the interpreter. It records every request's latency
in an HDR histogram (µs, 3 significant digits) and the messages completed per
100 ms, and returns both with its totals. Progress goes to a shared counter.

Producers keep ``in_flight`` batches outstanding (pipelined on one connection for
whippet, concurrent for the others); consumers keep one poll outstanding.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from whippet.cli.bench_drivers import Spec, driver_for

__all__ = ["TICK", "ActorPlan", "run_actor"]

TICK = 0.1  # seconds per throughput-timeline bucket


@dataclass(frozen=True)
class ActorPlan:
    system: str
    address: str
    spec: Spec
    role: str  # "producer" | "consumer"
    index: int
    pairs: tuple[tuple[int, int], ...]  # (stream, partition) this actor serves
    batches: int = 0  # producer: batches to send
    expected: dict[tuple[int, int], int] = field(default_factory=dict)  # consumer: messages per pair
    group_total: int = 0  # group consumer: stop when the shared counter reaches this
    group: bool = False
    in_flight: int = 4
    max_seconds: float = 20.0


class _Recorder:
    def __init__(self, progress: Any) -> None:
        from hdrh.histogram import HdrHistogram

        self.hist = HdrHistogram(1, 60_000_000, 3)
        self.timeline: dict[int, int] = {}
        self.messages = 0
        self.progress = progress
        self.start = time.perf_counter()
        self.end = self.start

    def record(self, t0: float, n: int) -> None:
        now = time.perf_counter()
        self.hist.record_value(max(1, int((now - t0) * 1e6)))
        if n:
            self.messages += n
            bucket = int((now - self.start) / TICK)
            self.timeline[bucket] = self.timeline.get(bucket, 0) + n
            self.end = now
            with self.progress.get_lock():
                self.progress.value += n


async def _produce(plan: ActorPlan, handle: Any, rec: _Recorder) -> dict[str, int]:
    per_pair: dict[str, int] = {}
    deadline = time.monotonic() + plan.max_seconds
    state = {"next": 0}
    batch = plan.spec.batch

    async def lane() -> None:
        while state["next"] < plan.batches and time.monotonic() < deadline:
            i = state["next"]
            state["next"] += 1
            s, p = plan.pairs[i % len(plan.pairs)]
            t0 = time.perf_counter()
            await handle.send(s, p)
            rec.record(t0, batch)
            key = f"{s}:{p}"
            per_pair[key] = per_pair.get(key, 0) + batch

    await asyncio.gather(*(lane() for _ in range(max(1, plan.in_flight))))
    return per_pair


async def _consume(plan: ActorPlan, handle: Any, rec: _Recorder, shared: Any) -> None:
    deadline = time.monotonic() + plan.max_seconds
    if plan.group:
        streams = sorted({s for s, _ in plan.pairs})
        i = 0
        while shared.value < plan.group_total and time.monotonic() < deadline:
            t0 = time.perf_counter()
            n = await handle.poll(streams[i % len(streams)], None)
            i += 1
            rec.record(t0, n)
            if n:
                with shared.get_lock():
                    shared.value += n
            else:
                await asyncio.sleep(0.001)
        return
    remaining = {pair: plan.expected.get(pair, 0) for pair in plan.pairs}
    remaining = {k: v for k, v in remaining.items() if v > 0}
    while remaining and time.monotonic() < deadline:
        idle = True
        for pair in list(remaining):
            t0 = time.perf_counter()
            n = await handle.poll(*pair)
            rec.record(t0, n)
            if n:
                idle = False
                remaining[pair] -= n
                if remaining[pair] <= 0:
                    del remaining[pair]
        if idle:
            await asyncio.sleep(0.001)


async def _run(plan: ActorPlan, progress: Any, shared: Any, start: Any, ready: Any) -> dict[str, Any]:
    handle = await driver_for(plan.system).handle(plan.address, plan.spec, plan.index, plan.group)
    ready.release()  # connected: the coordinator starts everyone once all are
    while not start.is_set():  # every actor begins together
        await asyncio.sleep(0.005)
    rec = _Recorder(progress)
    out: dict[str, Any] = {}
    try:
        if plan.role == "producer":
            out["per_pair"] = await _produce(plan, handle, rec)
        else:
            await _consume(plan, handle, rec, shared)
    finally:
        await handle.close()
    out.update(
        role=plan.role,
        messages=rec.messages,
        bytes=rec.messages * plan.spec.message_size,
        seconds=max(rec.end - rec.start, 1e-9),
        histogram=rec.hist.encode().decode(),
        timeline=sorted(rec.timeline.items()),
    )
    return out


def run_actor(plan: ActorPlan, progress: Any, shared: Any, start: Any, ready: Any, queue: Any) -> None:
    """Process entry point: report a result dict (or ``{"error": ...}``) on ``queue``."""
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            queue.put(runner.run(_run(plan, progress, shared, start, ready)))
    except BaseException as exc:  # report, never hang the coordinator
        ready.release()
        queue.put({"error": f"{plan.system} {plan.role} {plan.index}: {exc!r}"})
