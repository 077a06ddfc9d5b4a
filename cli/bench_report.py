"""Bench results: aggregation over actors, the tables, the JSON file and the PNG charts.

A :class:`Result` is one (system, workload, role) measured over all its actors:
messages and bytes summed, throughput over the wall time from the first actor's
start to the last actor's last message, latency percentiles from the merged HDR
histograms. The ratio table divides whippet's throughput by each peer's for the
same workload and role in the same run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PERCENTILES", "Result", "aggregate", "ratio_table", "results_table", "write_charts", "write_json"]

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclass
class Result:
    system: str
    label: str
    workload: str
    role: str
    actors: int
    messages: int
    bytes: int
    seconds: float
    latency_ms: dict[str, float] = field(default_factory=dict)
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (seconds, msg/s)
    curve: list[tuple[float, float]] = field(default_factory=list)  # (percentile, ms)

    @property
    def msg_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds > 0 else 0.0


def aggregate(system: str, label: str, workload: str, role: str, parts: Sequence[dict[str, Any]], tick: float) -> Result:
    from hdrh.histogram import HdrHistogram

    hist = HdrHistogram(1, 60_000_000, 3)
    buckets: dict[int, int] = {}
    for part in parts:
        hist.add(HdrHistogram.decode(part["histogram"].encode()))
        for bucket, n in part["timeline"]:
            buckets[int(bucket)] = buckets.get(int(bucket), 0) + n
    seconds = max((p["seconds"] for p in parts), default=0.0)
    latency = {f"p{p:g}": hist.get_value_at_percentile(p) / 1000 for p in PERCENTILES} if hist.get_total_count() else {}
    curve_points = (0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100)
    curve = [(p, hist.get_value_at_percentile(p) / 1000) for p in curve_points] if hist.get_total_count() else []
    return Result(
        system=system, label=label, workload=workload, role=role, actors=len(parts),
        messages=sum(p["messages"] for p in parts), bytes=sum(p["bytes"] for p in parts), seconds=seconds,
        latency_ms=latency,
        timeline=[(b * tick, n / tick) for b, n in sorted(buckets.items())],
        curve=curve,
    )


def results_table(results: Sequence[Result]) -> str:
    head = f"{'system':<30} {'workload':<20} {'role':<9} {'msg/s':>10} {'MB/s':>8} " + " ".join(
        f"{'p' + format(p, 'g'):>8}" for p in PERCENTILES
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lat = " ".join(f"{r.latency_ms.get('p' + format(p, 'g'), 0):>8.2f}" for p in PERCENTILES)
        lines.append(
            f"{r.label:<30} {r.workload:<20} {r.role:<9} {r.msg_per_s:>10.0f} {r.mb_per_s:>8.1f} {lat}"
        )
    lines.append("(latency columns: ms per request, i.e. per batch)")
    return "\n".join(lines)


def ratio_table(results: Sequence[Result], base: str = "whippet") -> str:
    """whippet msg/s divided by each other system's, per workload and role."""
    keys: list[tuple[str, str]] = []
    for r in results:
        if (r.workload, r.role) not in keys:
            keys.append((r.workload, r.role))
    by = {(r.system, r.workload, r.role): r for r in results}
    others = [s for s in dict.fromkeys(r.system for r in results) if s != base]
    if not others:
        return ""
    head = f"{'workload':<20} {'role':<9} {base + ' msg/s':>14} " + " ".join(
        f"{s + ' msg/s':>12} {base + '/' + s:>14}" for s in others
    )
    lines = [head, "-" * len(head)]
    for workload, role in keys:
        mine = by.get((base, workload, role))
        if mine is None:
            continue
        cells = []
        for s in others:
            other = by.get((s, workload, role))
            if other is None or other.msg_per_s == 0:
                cells.append(f"{'-':>12} {'-':>14}")
            else:
                cells.append(f"{other.msg_per_s:>12.0f} {mine.msg_per_s / other.msg_per_s:>13.2f}x")
        lines.append(f"{workload:<20} {role:<9} {mine.msg_per_s:>14.0f} " + " ".join(cells))
    return "\n".join(lines)


def write_json(path: Path, results: Sequence[Result], meta: dict[str, Any]) -> None:
    rows = [{**asdict(r), "msg_per_s": r.msg_per_s, "mb_per_s": r.mb_per_s} for r in results]
    path.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))


def write_charts(out: Path, results: Sequence[Result]) -> list[Path]:
    """throughput.png (msg/s over time) and latency.png (latency by percentile), one panel per workload/role."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys((r.workload, r.role) for r in results))
    if not keys:
        return []
    paths = []
    for name, draw in (("throughput", _throughput), ("latency", _latency)):
        fig, axes = plt.subplots(len(keys), 1, figsize=(9, 3.2 * len(keys)), squeeze=False)
        for ax, (workload, role) in zip(axes[:, 0], keys):
            for r in results:
                if (r.workload, r.role) == (workload, role):
                    draw(ax, r)
            ax.set_title(f"{workload} ({role})")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def _throughput(ax: Any, r: Result) -> None:
    if r.timeline:
        xs, ys = zip(*r.timeline)
        ax.plot(xs, ys, label=r.label)
    ax.set_xlabel("seconds")
    ax.set_ylabel("messages/s")


def _latency(ax: Any, r: Result) -> None:
    if r.curve:
        ps, ms = zip(*r.curve)
        # x = 1 / (1 - percentile): the usual HDR view, tail to the right
        xs = [1 / max(1e-4, 1 - p / 100) for p in ps]
        ax.plot(xs, ms, marker="o", label=r.label)
        ax.set_xscale("log")
        ax.set_xticks([1, 2, 10, 100, 1000, 10000])
        ax.set_xticklabels(["0%", "50%", "90%", "99%", "99.9%", "99.99%"])
    ax.set_xlabel("percentile")
    ax.set_ylabel("ms per request")
