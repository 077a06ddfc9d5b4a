"""The results table: counts by type, failover distributions, failing seeds, and only the
text between the markers of docs/RELIABILITY.md is replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whippet.chaos.cli import main
from whippet.chaos.report import BEGIN, END, write_report


def _result(path: Path, seed: int, nodes: int, anomalies: list[dict], failover: dict) -> None:
    d = path / f"seed-{seed}"
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps({
        "seed": seed, "nodes": nodes, "passed": not anomalies, "anomalies": anomalies, "error": None,
        "faults": {"kill": 1, "split": 2}, "steps": {"kill": 1, "cut": 2}, "failover": failover,
        "counts": {"messages_acked": 100},
    }))


def test_report_tables(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _result(results, 1, 5, [], {"kill": [1.0, 3.0], "partition": [2.0], "kill-in-partition": []})
    _result(results, 2, 3, [{"kind": "lost", "count": 7}, {"kind": "crash", "count": 1}],
            {"kill": [2.0], "partition": [None], "kill-in-partition": []})
    doc = tmp_path / "RELIABILITY.md"
    doc.write_text(f"# Title\n\nhand-written\n\n{BEGIN}\nold table\n{END}\n\nafter\n")
    write_report(results, doc)
    text = doc.read_text()
    assert text.startswith("# Title\n\nhand-written\n") and text.endswith(f"{END}\n\nafter\n")
    assert "old table" not in text
    assert "| trials run | 2 (1 on 3 nodes, 1 on 5 nodes) |" in text
    assert "| split | 4 |" in text and "| kill | 2 |" in text
    assert "| lost | 1 | 7 |" in text and "| divergent | 0 | 0 |" in text
    assert "| kill -9 | 3 faults: median 2.00 s, p90 3.00 s, max 3.00 s |" in text
    assert "| network partition | 1 faults: median 2.00 s, p90 2.00 s, max 2.00 s; 1 without an ack" in text
    assert "Failing seeds: 2." in text


def test_failover_times_are_classified_again_from_the_history(tmp_path: Path) -> None:
    """A trial recorded by an older checker is counted by today's rules: its stored
    "kill" time here was a leader killed while the only other live node was still starting."""
    results = tmp_path / "results"
    _result(results, 1, 3, [], {"kill": [3.0], "partition": [], "kill-in-partition": []})
    roles = {"nodes": [1, 2, 3], "leader": 1, "followers": [2, 3]}
    events = [
        {"type": "nemesis", "t": 0.0, "f": "start", "fault": 0, "roles": roles},
        {"type": "nemesis", "t": 1.0, "f": "kill", "fault": 0, "node": 2, "leaders_hit": [], "cause": "kill"},
        {"type": "nemesis", "t": 2.0, "f": "restart", "fault": 0, "node": 2},
        {"type": "nemesis", "t": 3.0, "f": "kill", "fault": 0, "node": 1, "leaders_hit": [0], "cause": "kill"},
        {"type": "nemesis", "t": 4.0, "f": "ready", "node": 2},
        {"type": "ok", "t": 6.0, "op": "send", "client": "p1", "req": 1, "partition": 0, "phase": "run"},
    ]
    (results / "seed-1" / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    doc = tmp_path / "RELIABILITY.md"
    write_report(results, doc)
    text = doc.read_text()
    assert "| kill -9 | none measured |" in text
    assert "| no majority left until a heal or restart (not a failover) | 1 faults: median 3.00 s" in text
    assert "| the same faults, from the majority's return to the first ack | 1 faults: median 2.00 s" in text


def test_a_seed_range_prints_the_table_of_those_trials_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Trials of two code versions share a results directory; each range gets its own table."""
    results = tmp_path / "results"
    _result(results, 1, 3, [], {"kill": [4.0], "partition": [], "kill-in-partition": []})
    _result(results, 2, 5, [], {"kill": [1.0], "partition": [], "kill-in-partition": []})
    _result(results, 3, 3, [], {"kill": [2.0], "partition": [], "kill-in-partition": []})
    assert main(["report", "--results", str(results), "--seeds", "2-3"]) == 0
    out = capsys.readouterr().out
    assert "| trials run | 2 (1 on 3 nodes, 1 on 5 nodes) |" in out
    assert "| kill -9 | 2 faults: median 1.50 s, p90 2.00 s, max 2.00 s |" in out
