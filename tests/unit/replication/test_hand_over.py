"""A hand-over whose proposal did not commit (replication.manager.hand_over): the old
leader never appends again in that epoch, because the proposal may still commit."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.storage.storage_helpers import batch, payloads
from whippet.metadata import commands as mc
from whippet.replication.epochs import EpochCache
from whippet.replication.manager import ReplicaManager
from whippet.replication.partition import ReplicatedPartition
from whippet.storage.log import LogConfig, PartitionLog
from whippet.wire.errors import IggyError, NotLeader

pytestmark = pytest.mark.asyncio
T0 = 1_700_000_000_000_000
KEY = (1, 1, 0)


class _Durable:
    async def appended(self, plog: PartitionLog) -> None:
        return None


class _Meta:
    """The metadata as hand_over sees it: partition 0 led by node 1 at ``epoch``; the first
    proposal times out (it may still commit), later ones commit."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epoch = 1
        self.proposed: list[mc.ChangePartitionLeader] = []
        self.machine = SimpleNamespace(partition=lambda *_k: SimpleNamespace(leader=1, epoch=self.epoch))

    async def propose(self, command: Any) -> None:
        self.proposed.append(command)
        if len(self.proposed) == 1:
            raise IggyError("the metadata change was not committed in time; it may or may not apply")
        self.epoch += 1


async def test_a_hand_over_that_did_not_commit_ends_the_epoch(tmp_path: Path) -> None:
    meta = _Meta()
    manager = ReplicaManager(node_id=1, meta_source=lambda: meta, logs=SimpleNamespace(), durability=_Durable(),  # type: ignore[arg-type]
                             security=SimpleNamespace(), replication_address=str, forward_handler=None)  # type: ignore[arg-type]
    part = ReplicatedPartition(KEY, PartitionLog.open(tmp_path / "log", LogConfig()), asyncio.Lock(),
                               EpochCache(tmp_path / "epochs"), 1, _Durable())
    part.on_new_epoch_needed = manager._new_epoch_needed
    manager.partitions[KEY] = part
    state = part.lead(1, (1, 2, 3), lambda _n: True)
    assert state is not None
    await part.append(*batch(payloads(2)), "leader", T0)
    state.fetched(2, 2)  # the successor holds the whole log
    assert not await manager.hand_over(KEY, 2, timeout=0.5)
    with pytest.raises(NotLeader):  # still fenced: the timed-out proposal may yet commit
        await part.append(*batch(payloads(1)), "leader", T0 + 1)
    for _ in range(50):
        if len(meta.proposed) == 2:
            break
        await asyncio.sleep(0.01)
    first, second = meta.proposed
    assert (first.leader, first.expected_epoch) == (2, 1)
    assert (second.leader, second.expected_epoch) == (1, 1)  # a new epoch of its own, same expectation
