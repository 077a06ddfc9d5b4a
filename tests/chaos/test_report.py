"""The results table: counts by type, failover distributions, failing seeds, and only the
text between the markers of docs/RELIABILITY.md is replaced."""

from __future__ import annotations

import json
from pathlib import Path

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
