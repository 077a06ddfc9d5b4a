"""A leader whose write failed after followers may have taken the batch leads on
under a new epoch, so no follower keeps records the leader does not have."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from whippet.metadata import commands as mc
from whippet.metadata.raft import MetadataUnavailable
from whippet.replication.leader import LeaderState
from whippet.replication.manager import ReplicaManager

pytestmark = pytest.mark.asyncio


class _Meta:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.proposed: list[Any] = []

    async def propose(self, cmd: Any) -> None:
        self.proposed.append(cmd)
        if self.failures:
            self.failures -= 1
            raise MetadataUnavailable("no quorum")


async def test_step_down_fences_and_proposes_a_new_epoch_for_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    import whippet.replication.manager as manager_module

    monkeypatch.setattr(manager_module, "_NEW_EPOCH_RETRY", 0.01)
    meta = _Meta(failures=1)
    node = SimpleNamespace(node_id=1, config=SimpleNamespace(cluster_secret="s"), meta=meta)
    m = ReplicaManager(node)  # type: ignore[arg-type]
    key = (1, 1, 0)
    state = LeaderState(epoch=4, replicas=(1, 2, 3), self_id=1, log_end=10)
    m.leaders[key] = state
    m.step_down(key)
    assert state.fenced
    for _ in range(100):
        if len(meta.proposed) == 2:
            break
        await asyncio.sleep(0.01)
    assert meta.proposed[-1] == mc.ChangePartitionLeader(
        stream_id=1, topic_id=1, partition_id=0, leader=1, expected_epoch=4
    )
    await asyncio.sleep(0.05)
    assert len(meta.proposed) == 2  # retried once after the failure, then done
