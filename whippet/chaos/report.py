"""The results table of docs/RELIABILITY.md, from a results directory's ``result.json`` files.

Only the text between the two markers is replaced, so the rest of the document
(how the suite works) is written by hand.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from whippet.chaos.checker import KINDS, failover_times
from whippet.chaos.history import load

__all__ = ["BEGIN", "END", "render", "table", "write_report"]

BEGIN = "<!-- chaos-results:begin -->"
END = "<!-- chaos-results:end -->"


def _load(results: Path, seeds: range | None = None) -> list[dict[str, Any]]:
    """Each trial's result (of ``seeds`` only, when given); failover times are classified
    again from its history when it is there, so every trial of a table is counted by the
    same (current) rules."""
    trials = []
    for path in sorted(results.glob("seed-*/result.json")):
        trial = json.loads(path.read_text())
        if seeds is not None and trial["seed"] not in seeds:
            continue
        history = path.parent / "history.jsonl"
        if history.exists():
            trial["failover"] = failover_times(load(history))
        trials.append(trial)
    return trials


def _dist(values: list[float | None]) -> str:
    done = sorted(v for v in values if v is not None)
    missing = len(values) - len(done)
    if not done:
        return f"none measured ({missing} without an ack before the heal)" if missing else "none measured"
    p90 = done[min(len(done) - 1, int(round(0.9 * (len(done) - 1))))]
    text = f"{len(done)} faults: median {statistics.median(done):.2f} s, p90 {p90:.2f} s, max {done[-1]:.2f} s"
    if missing:
        text += f"; {missing} without an ack before the heal"
    return text


def render(trials: list[dict[str, Any]]) -> str:
    lines = []
    by_size = {n: sum(1 for t in trials if t["nodes"] == n) for n in (3, 5)}
    failed = [t for t in trials if not t["passed"]]
    errors = [t for t in trials if t.get("error")]
    acked = sum(t["counts"].get("messages_acked", 0) for t in trials)
    lines += [
        "| | |",
        "|---|---|",
        f"| trials run | {len(trials)} ({by_size[3]} on 3 nodes, {by_size[5]} on 5 nodes) |",
        f"| trials with an anomaly | {sum(1 for t in trials if t['anomalies'])} |",
        f"| trials where the harness failed | {len(errors)} |",
        f"| messages acknowledged | {acked} |",
        "",
        "| fault injected | count |",
        "|---|---|",
    ]
    faults: dict[str, int] = {}
    steps: dict[str, int] = {}
    for t in trials:
        for k, v in t["faults"].items():
            faults[k] = faults.get(k, 0) + v
        for k, v in t["steps"].items():
            steps[k] = steps.get(k, 0) + v
    lines += [f"| {k} | {v} |" for k, v in sorted(faults.items())]
    lines += [f"| (steps: {', '.join(f'{k} {v}' for k, v in sorted(steps.items()))}) | |", ""]
    lines += ["| anomaly | trials | occurrences |", "|---|---|---|"]
    for kind in KINDS:
        hits = [a for t in trials for a in t["anomalies"] if a["kind"] == kind]
        seeds = {t["seed"] for t in trials if any(a["kind"] == kind for a in t["anomalies"])}
        lines.append(f"| {kind} | {len(seeds)} | {sum(a['count'] for a in hits)} |")
    lines += ["", "| failover (fault on a partition leader -> first acknowledged send on it) | distribution |",
              "|---|---|"]
    for cause, label in (("kill", "kill -9"), ("kill-in-partition", "kill -9 while links are cut"),
                         ("partition", "network partition"),
                         ("no-majority", "no majority left until a heal or restart (not a failover)"),
                         ("after-majority", "the same faults, from the majority's return to the first ack")):
        lines.append(f"| {label} | {_dist([v for t in trials for v in t['failover'].get(cause, [])])} |")
    lines.append("")
    lines.append("Failing seeds: " + (", ".join(str(t["seed"]) for t in failed) if failed else "none") + ".")
    return "\n".join(lines)


def table(results: Path, seeds: range | None = None) -> str:
    """The table for the trials in ``results`` (only ``seeds``, when given)."""
    return render(_load(results, seeds))


def write_report(results: Path, doc: Path) -> None:
    table = render(_load(results))
    text = doc.read_text() if doc.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
