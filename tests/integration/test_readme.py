"""The README's quick start, run as written against a node (its ports swapped for the test node's).

The block between ``make run &`` and ``kill %1`` runs in bash from the repository root:
``source .venv/bin/activate`` included, so a reader who copies it gets the same result.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\n\n```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README.md has no quick start block"
    lines = block.group(1).splitlines()
    assert lines[0].startswith("make run &") and lines[-1].startswith("kill %1")
    return lines[1:-1]


def test_the_quick_start_works_as_written(node) -> None:  # type: ignore[no-untyped-def]
    script = "\n".join(_quick_start()).replace("127.0.0.1:8090", node.address)
    assert "source .venv/bin/activate" in script  # every Python command runs from the venv
    venv = Path(sys.executable).parent.parent
    script = script.replace("source .venv/bin/activate", f"source {venv}/bin/activate")
    env = {**{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}, "WHIPPET_NODES": node.address,
           "PATH": "/usr/bin:/bin"}  # nothing of the venv on PATH until the README activates it
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert "hello world" in out  # the poll
    assert "| dev " in out  # stream list
    assert "| Partition | Leader |" in out and "1/1 nodes healthy" in out
    assert out.rstrip().endswith("dev")  # the official SDK read the stream back
