"""A follower replica's loop: find where its log matches the leader's, then pull and append.

Before it opens a ``Replicate`` stream it cuts any tail the leader never had
(:mod:`.divergence`, one ``EpochEnd`` question per round). Each fetch on the stream
carries the follower's log end, which is also its acknowledgement of everything
below; an append is durable (per the node's fsync policy) before the next fetch
acknowledges it. Every log change goes through the partition object with this
loop's role generation, so a loop whose role ended can no longer touch the log, even
if it wakes up before its cancellation is delivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import numpy as np

from whippet.replication._pb import replication_pb2 as pb
from whippet.replication.divergence import EpochEndAnswer, next_cut
from whippet.replication.partition import Following, ReplicatedPartition
from whippet.tasks import stop_task

if TYPE_CHECKING:
    from whippet.replication.peers import PeerPool

__all__ = ["FollowerLoop"]

log = logging.getLogger(__name__)

_FETCH_WAIT_MS = 500
_MAX_BYTES = 8 * 1024 * 1024
_MAX_ROUNDS = 64


class _RoleEnded(Exception):
    """The follower role this loop serves is no longer current."""


class FollowerLoop:
    def __init__(self, partition: ReplicatedPartition, role: Following, peers: PeerPool, node_id: int) -> None:
        self.partition = partition
        self.role = role
        self.peers = peers
        self.node_id = node_id
        self._task: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[int, int, int]:
        return self.partition.key

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"follow-{self.key}")

    async def stop(self) -> None:
        await stop_task(self._task)

    def _ref(self) -> pb.PartitionRef:
        s, t, p = self.key
        return pb.PartitionRef(stream_id=s, topic_id=t, partition_id=p)

    def _live(self) -> bool:
        return self.partition.current(self.role.generation) is not None

    async def _align(self) -> None:
        """Cut the log where it stops matching the leader's (KIP-279 rounds)."""
        part = self.partition
        for _ in range(_MAX_ROUNDS):
            entries = part.epochs.entries
            if not entries or part.log.next_offset == 0:
                return
            reply = await self.peers.stub(self.role.leader).EpochEnd(
                pb.EpochEndRequest(partition=self._ref(), epoch=entries[-1][0]),
                metadata=self.peers.metadata, timeout=5,
            )
            answer = EpochEndAnswer(found=reply.found, epoch=reply.epoch, end_offset=reply.end_offset)
            cut, done = next_cut(entries, part.log.next_offset, answer)
            if not part.follower_truncate(self.role.generation, cut):
                raise _RoleEnded
            if done:
                return
        raise RuntimeError("divergence search did not converge")

    async def _run(self) -> None:
        backoff = 0.05
        while self._live():
            try:
                await self._align()
                async for _ in self._replicate():
                    backoff = 0.05
                await asyncio.sleep(backoff)  # the leader ended the stream: not a busy loop
            except (asyncio.CancelledError, _RoleEnded):
                return
            except (grpc.aio.AioRpcError, LookupError, OSError, ValueError, asyncio.TimeoutError) as exc:
                log.debug("partition %s: replication from node %s failed: %s", self.key, self.role.leader, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            except Exception:
                log.exception("partition %s: follower loop failed; restarting it", self.key)
                await asyncio.sleep(1.0)

    async def _replicate(self) -> AsyncIterator[None]:
        """One Replicate stream: ask from our log end, append what comes, ask again."""
        ref = self._ref()
        part = self.partition
        call = self.peers.stub(self.role.leader).Replicate(metadata=self.peers.metadata)
        try:
            while self._live():
                await call.write(pb.FetchRequest(
                    partition=ref, follower_id=self.node_id, leader_epoch=self.role.epoch,
                    fetch_offset=part.log.next_offset, max_bytes=_MAX_BYTES, max_wait_ms=_FETCH_WAIT_MS,
                ))
                reply = await asyncio.wait_for(call.read(), _FETCH_WAIT_MS / 1000 + 5)
                if reply is grpc.aio.EOF:
                    return
                await self._apply(reply)
                yield
        finally:
            call.cancel()

    async def _apply(self, reply: pb.FetchResponse) -> None:
        part, gen = self.partition, self.role.generation
        if reply.status == pb.FetchResponse.OK:
            ends = np.frombuffer(reply.ends, dtype="<u4")
            epochs = [(e.epoch, e.start_offset) for e in reply.epochs]
            if not part.follower_append(gen, reply.leader_epoch, reply.records, ends, epochs, reply.high_watermark):
                raise _RoleEnded
            if len(ends) and not await part.durable(gen):
                raise _RoleEnded
        elif reply.status == pb.FetchResponse.OUT_OF_RANGE:
            # Only records the leader never wrote (a batch it published, then failed to
            # write) can lie past its log; it leads on under a new epoch, but cut them now.
            if not part.follower_truncate(gen, reply.truncate_to):
                raise _RoleEnded
        else:  # not leader / stale epoch: the metadata will move us; ask gently meanwhile
            await asyncio.sleep(0.1)
