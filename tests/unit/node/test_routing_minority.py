"""A request for a partition on a node cut off from most of the cluster is refused at once
(``node.routing.on_leader``) instead of waiting ``cluster_leader_wait_ms`` for a new leader
that metadata on that node could never name; on the majority side the wait is kept (it is
what lets a client that retries nothing ride through a leader kill).

Found by the fault suite (seed 214): a client homed on the cut-off node waited there, on
every partition, until the heal."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from whippet.node.routing import on_leader
from whippet.wire.errors import NotLeader

pytestmark = pytest.mark.asyncio

KEY = (1, 1, 1)


@dataclass
class _Machine:
    leader: int
    epoch: int = 1
    members: tuple[int, ...] = (1, 2, 3)

    def partition(self, *key: int) -> Any:
        return SimpleNamespace(leader=self.leader, epoch=self.epoch)

    def nodes(self) -> list[Any]:
        return [SimpleNamespace(id=m) for m in self.members]


@dataclass
class _Node:
    """Node 1, hearing the peers in ``alive``; a minute of leader wait, so a wait shows."""

    machine: _Machine
    alive: set[int] = field(default_factory=set)
    node_id: int = 1

    def __post_init__(self) -> None:
        self.config = SimpleNamespace(cluster_leader_wait_ms=60_000)
        self.meta = SimpleNamespace(lock=threading.Lock(), machine=self.machine)
        self.replicas = SimpleNamespace(alive=lambda n: n == self.node_id or n in self.alive, partitions={})


async def test_a_node_cut_off_refuses_at_once_a_partition_whose_leader_it_cannot_hear() -> None:
    node = _Node(_Machine(leader=3), alive=set())

    async def attempt(leader: int) -> str:
        raise AssertionError("no attempt: the leader is unreachable")

    with pytest.raises(NotLeader) as refused:
        await asyncio.wait_for(on_leader(node, KEY, attempt, repeatable=True), 5)  # type: ignore[arg-type]
    assert refused.value.not_applied, "the client may send it elsewhere"


async def test_a_node_cut_off_with_the_leader_passes_on_its_refusal_at_once() -> None:
    """5 nodes split 2|3: this node hears only the old leader, which refuses (no quorum)."""
    node = _Node(_Machine(leader=2, members=(1, 2, 3, 4, 5)), alive={2})
    tried: list[int] = []

    async def attempt(leader: int) -> str:
        tried.append(leader)
        raise NotLeader("the partition leader cannot reach a quorum of its replicas", not_applied=True)

    with pytest.raises(NotLeader):
        await asyncio.wait_for(on_leader(node, KEY, attempt, repeatable=True), 5)  # type: ignore[arg-type]
    assert tried == [2]


async def test_on_the_majority_side_a_request_waits_for_the_next_leader() -> None:
    machine = _Machine(leader=3)
    node = _Node(machine, alive={2})  # 1 and 2 of 3: a majority, the leader 3 is gone
    tried: list[int] = []

    async def attempt(leader: int) -> str:
        tried.append(leader)
        return "ok"

    async def elect() -> None:
        await asyncio.sleep(0.2)
        machine.leader, machine.epoch = 2, 2

    electing = asyncio.ensure_future(elect())
    assert await asyncio.wait_for(on_leader(node, KEY, attempt, repeatable=True), 5) == "ok"  # type: ignore[arg-type]
    await electing
    assert tried == [2]
