"""The bounded run of the fault suite inside `make test`: a few short seeded trials with
real partitions, kills and pauses (`make chaos` runs the full 200). A trial fails on any
anomaly the checker finds, naming the seed to replay with
`python -m whippet.chaos trial --seed N --profile short`."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from whippet.chaos import netfilter
from whippet.chaos.trial import run_trial

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="needs root (iptables, node users)")]

# Chosen for their faults: 0 = isolate a follower then kill the leader, then isolate a
# partition leader (3 nodes); 5 = a 2|3 split with a leader in the minority, then isolate
# a partition leader (5 nodes); 14 = isolate a partition leader, then restart a node and
# kill the Raft leader while it starts (3 nodes).
SEEDS = (0, 5, 14)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", SEEDS)
def test_short_trial_finds_no_anomaly(seed: int, tmp_path: Path) -> None:
    result = asyncio.run(run_trial(seed, tmp_path, profile="short"))
    assert netfilter.chain_rules() == [], "every iptables rule is removed after a trial"
    assert result.error is None, f"seed {seed}: the harness failed:\n{result.error}"
    assert result.counts.get("messages_acked", 0) > 0, f"seed {seed}: no send was acknowledged"
    assert result.faults, f"seed {seed}: no fault was injected"
    assert result.passed, (f"seed {seed}: {result.summary()}\n"
                           + json.dumps(result.anomalies, indent=1, default=str)[:6000])
