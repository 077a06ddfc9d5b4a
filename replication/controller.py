"""Partition leadership decisions, made by the node that leads the metadata Raft group.

- **Failover.** A partition whose leader stopped answering pings for about a second
  gets a new leader: among its live replicas, the one with the longest log for
  the newest epoch. With quorum acks every acknowledged record is on a majority of
  replicas, so while a majority survives the chosen replica holds all of them.

Moving leadership between live nodes (preferred leaders, shutdown) is not done
here but by the current leader itself (``ReplicaManager.hand_over``), because only
it can stop appending before the successor has caught up.

Every change is a ``ChangePartitionLeader`` metadata command fenced by the epoch
it expects, so two controllers racing after a Raft election cannot both win.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import grpc

from whippet.metadata import commands as mc
from whippet.replication._pb import replication_pb2 as pb
from whippet.replication._tasks import cancel_and_wait
from whippet.wire.errors import IggyError

if TYPE_CHECKING:
    from whippet.replication.manager import ReplicaManager

__all__ = ["Controller"]

log = logging.getLogger(__name__)

_TICK = 0.2


class Controller:
    def __init__(self, manager: ReplicaManager) -> None:
        self.m = manager
        self._task: asyncio.Task[None] | None = None
        self.failovers = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            if not self.m.node.meta.is_leader:
                continue
            try:
                await self._elect_where_needed()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller pass failed")

    def _partitions(self) -> list[tuple[tuple[int, int, int], int, int, tuple[int, ...]]]:
        meta = self.m.node.meta
        with meta.lock:
            return [
                ((s.id, t.id, p.id), p.leader, p.epoch, tuple(p.replicas))
                for s in meta.machine.streams()
                for t in s.topics.values()
                for p in t.partitions
                if p.replicas
            ]

    async def _log_position(self, node_id: int, key: tuple[int, int, int]) -> tuple[int, int] | None:
        """(last epoch, log end) of a replica, or None when it does not answer."""
        ref = pb.PartitionRef(stream_id=key[0], topic_id=key[1], partition_id=key[2])
        try:
            reply = await self.m.peers.stub(node_id).EpochEnd(
                pb.EpochEndRequest(partition=ref, epoch=(1 << 63)), metadata=self.m.peers.metadata, timeout=1.0
            )
        except (grpc.aio.AioRpcError, LookupError):
            return None
        return reply.last_epoch, reply.log_end

    async def _elect_where_needed(self) -> None:
        for key, leader, epoch, replicas in self._partitions():
            if leader >= 0 and self.m.alive(leader):
                continue
            live = [r for r in replicas if self.m.alive(r)]
            if not live:
                continue
            positions = await asyncio.gather(*(self._log_position(r, key) for r in live))
            ranked = [(pos, r) for pos, r in zip(positions, live) if pos is not None]
            if not ranked:
                continue
            best = max(ranked, key=lambda x: (x[0][0], x[0][1], -replicas.index(x[1])))[1]
            await self._change(key, best, epoch, f"leader {leader} is down")

    async def _change(self, key: tuple[int, int, int], leader: int, epoch: int, why: str) -> None:
        try:
            await self.m.node.meta.propose(
                mc.ChangePartitionLeader(
                    stream_id=key[0], topic_id=key[1], partition_id=key[2], leader=leader, expected_epoch=epoch
                )
            )
            self.failovers += 1
            log.info("partition %s: leader -> node %d (%s)", key, leader, why)
        except IggyError as exc:  # fenced by a newer epoch: someone else already moved it
            log.debug("partition %s: leader change to %d refused: %r", key, leader, exc)
