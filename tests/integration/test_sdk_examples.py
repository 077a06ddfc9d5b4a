"""The examples in examples/ run against a real node (so they never rot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_examples(node) -> None:  # type: ignore[no-untyped-def]
    out = run(str(EXAMPLES / "producer.py"), "--nodes", node.address, "--count", "300")
    assert "sent 300 messages" in out
    out = run(str(EXAMPLES / "consumer_group.py"), "--nodes", node.address, "--limit", "300")
    assert out.count("offset") == 300
    out = run(str(EXAMPLES / "admin_and_poll.py"), f"whippet://iggy:iggy@{node.address}")
    assert "b'{\"id\": 2}'" in out and "stored_offset=1" in out
