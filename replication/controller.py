"""Partition failover, run by the node that leads the metadata Raft group.

Every tick it looks for partitions whose leader it should replace:

- the leader stopped answering its pings (about a second): first a pre-vote asks the
  followers whether *they* still hear from it; if one does, the controller is the one
  cut off and nothing happens;
- a replica asks for one (``ReplicaManager.needs_election``): the leader cannot serve
  (no quorum fetched within its lease, or its promise forbids its epoch), or a replica
  holds a promise from an election that did not complete;
- the partition has no leader.

Then it fences a majority of the partition's replicas at the next epoch and proposes
the best of them (:mod:`.election` gives the rules and why they keep every
acknowledged record). The proposal is fenced by the epoch it expects, so two
controllers racing after a Raft election cannot both win, and a controller acting
on a stale view can at worst move a healthy leadership, never lose data.

Moving leadership between live nodes (preferred leaders, shutdown) is not done here
but by the current leader itself (``ReplicaManager.hand_over``), because only it can
stop appending before the successor has caught up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import grpc

from whippet.metadata import commands as mc
from whippet.replication._pb import replication_pb2 as pb
from whippet.replication.election import Position, Probe, choose_leader, leader_still_heard
from whippet.replication.quorum import majority
from whippet.tasks import stop_task
from whippet.wire.errors import IggyError

if TYPE_CHECKING:
    from whippet.replication.manager import ReplicaManager

__all__ = ["Controller"]

log = logging.getLogger(__name__)

Key = tuple[int, int, int]
_TICK = 0.2
_RPC_TIMEOUT = 1.0
#: after an attempt that changed nothing, leave the partition alone this long
_RETRY_AFTER = 1.0


class Controller:
    def __init__(self, manager: ReplicaManager) -> None:
        self.m = manager
        self._task: asyncio.Task[None] | None = None
        self.failovers = 0
        self._next_try: dict[Key, float] = {}

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            if not self.m.meta.is_leader:
                continue
            try:
                await self._elect_where_needed()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller pass failed")

    def _partitions(self) -> list[tuple[Key, int, int, tuple[int, ...]]]:
        meta = self.m.meta
        with meta.lock:
            return [
                ((s.id, t.id, p.id), p.leader, p.epoch, tuple(p.replicas))
                for s in meta.machine.streams()
                for t in s.topics.values()
                for p in t.partitions
                if p.replicas
            ]

    def _reason(self, key: Key, leader: int, replicas: tuple[int, ...], mine: set[Key]) -> str | None:
        if leader < 0:
            return "no leader"
        if not self.m.alive(leader):
            return "unreachable"
        if key in mine or any(key in self.m.peer_needs_election.get(r, ()) for r in replicas):
            return "requested"
        return None

    async def _elect_where_needed(self) -> None:
        now = time.monotonic()
        jobs = []
        mine = set(self.m.needs_election())
        for key, leader, epoch, replicas in self._partitions():
            reason = self._reason(key, leader, replicas, mine)
            if reason is None or self._next_try.get(key, 0.0) > now:
                continue
            self._next_try[key] = now + _RETRY_AFTER
            jobs.append(self.elect(key, leader, epoch, replicas, reason))
        if jobs:
            await asyncio.gather(*jobs)

    # --- one election -----------------------------------------------------------------
    async def elect(self, key: Key, leader: int, epoch: int, replicas: tuple[int, ...], reason: str) -> bool:
        """Pre-vote (for an unreachable leader), fence, choose, propose. True if proposed."""
        others = [r for r in replicas if r != leader]
        if reason == "unreachable":
            probes = await asyncio.gather(*(self._probe(r, key) for r in others))
            if leader_still_heard(leader, epoch, probes):
                log.debug("partition %s: leader %d unreachable from here but heard by its followers", key, leader)
                self._next_try[key] = time.monotonic() + _TICK  # ask again soon: it may be a fresh cut
                return False
        new_epoch = epoch + 1
        answers = await asyncio.gather(*(self._fence(r, key, new_epoch) for r in others))
        promised = {r: pos for r, pos in zip(others, answers, strict=True) if pos is not None}
        # The old leader is fenced only when its promise completes a majority: fencing it
        # otherwise would stop it serving committed reads and change nothing else.
        if len(promised) + 1 == majority(len(replicas)) and leader in replicas:
            own = await self._fence(leader, key, new_epoch)
            if own is not None:
                promised[leader] = own
        choice = choose_leader(replicas, promised, suspect=leader)
        if choice is None:
            log.info("partition %s: no new leader (%s): %d of %d replicas promised epoch %d",
                     key, reason, len(promised), len(replicas), new_epoch)
            return False
        try:
            await self.m.meta.propose(mc.ChangePartitionLeader(
                stream_id=key[0], topic_id=key[1], partition_id=key[2], leader=choice, expected_epoch=epoch,
            ))
        except IggyError as exc:  # fenced by a newer epoch (someone else moved it), or no quorum
            log.info("partition %s: leader change to %d not made: %s", key, choice, exc)
            return False
        self.failovers += 1
        self._next_try.pop(key, None)
        log.info("partition %s: leader %d -> node %d at epoch %d (%s; positions %s)",
                 key, leader, choice, new_epoch, reason,
                 {r: (p.last_epoch, p.log_end) for r, p in sorted(promised.items())})
        return True

    async def _fence(self, node_id: int, key: Key, new_epoch: int) -> Position | None:
        ref = pb.PartitionRef(stream_id=key[0], topic_id=key[1], partition_id=key[2])
        if node_id == self.m.node_id:
            part = self.m.partitions.get(key)
            return await part.fence(new_epoch) if part is not None else None
        try:
            reply = await self.m.peers.stub(node_id).Fence(
                pb.FenceRequest(partition=ref, new_epoch=new_epoch), metadata=self.m.peers.metadata,
                timeout=_RPC_TIMEOUT,
            )
        except (grpc.aio.AioRpcError, LookupError):
            return None
        if not reply.found or reply.promised < new_epoch:
            return None
        return Position(reply.last_epoch, reply.log_end)

    async def _probe(self, node_id: int, key: Key) -> Probe | None:
        if node_id == self.m.node_id:
            part = self.m.partitions.get(key)
            role = part.following if part is not None else None
            if role is None:
                return None
            return Probe(role.leader, role.epoch, time.monotonic() - role.contact_at)
        ref = pb.PartitionRef(stream_id=key[0], topic_id=key[1], partition_id=key[2])
        try:
            reply = await self.m.peers.stub(node_id).Probe(
                pb.ProbeRequest(partition=ref), metadata=self.m.peers.metadata, timeout=_RPC_TIMEOUT
            )
        except (grpc.aio.AioRpcError, LookupError):
            return None
        if not reply.found:
            return None
        return Probe(int(reply.following), int(reply.epoch), reply.contact_age_ms / 1000)
