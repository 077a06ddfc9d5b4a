"""whippet-bench against an already running node (--target): every workload, results and charts written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_against_a_target(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bench"
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("whippet-bench")), "--target", node.address, "--count", "4000",
         "--batch-size", "500", "--partitions", "2", "--consumers", "2", "--max-seconds", "20", "--no-progress",
         "--out", str(out)],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "results.json").read_text())
    rows = {(r["workload"], r["role"]): r for r in data["results"]}
    assert rows[("send", "producer")]["messages"] == 4000
    assert rows[("poll", "consumer")]["messages"] == 4000
    assert rows[("consumer-group-poll", "consumer")]["messages"] == 4000
    assert rows[("send-and-poll", "consumer")]["messages"] == 4000
    assert data["meta"]["machine"]["nproc"]
    assert (out / "throughput.png").exists() and (out / "latency.png").exists()
