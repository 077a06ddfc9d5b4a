"""A follower replica of one partition: pull from the leader, append, repeat.

Before it opens a ``Replicate`` stream to a leader it cuts any tail the leader
never had (asking where its own last epoch ends on the leader). Each fetch on the
stream carries the follower's log end, which is also its acknowledgement of
everything below. An append is made durable (per the node's fsync policy) before
the next fetch acknowledges it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import numpy as np

from whippet.replication._pb import replication_pb2 as pb
from whippet.replication._tasks import cancel_and_wait

if TYPE_CHECKING:
    from whippet.node.partitions import PartitionHandle
    from whippet.replication.manager import ReplicaManager

__all__ = ["Follower"]

log = logging.getLogger(__name__)

_FETCH_WAIT_MS = 500
_MAX_BYTES = 8 * 1024 * 1024


class Follower:
    def __init__(self, manager: ReplicaManager, key: tuple[int, int, int], leader: int, epoch: int) -> None:
        self.manager = manager
        self.key = key
        self.leader = leader
        self.epoch = epoch
        self.high_watermark = 0
        #: reached the leader's high watermark at least once (readiness)
        self.caught_up = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"follow-{self.key}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    def _ref(self) -> pb.PartitionRef:
        s, t, p = self.key
        return pb.PartitionRef(stream_id=s, topic_id=t, partition_id=p)

    async def _truncate_divergent_tail(self) -> None:
        handle = self.manager.node.partitions.find(*self.key)
        if handle is None:
            return
        epochs = self.manager.epochs(self.key)
        mine = epochs.last_epoch
        if mine is None or handle.log.next_offset == 0:
            return
        stub = self.manager.peers.stub(self.leader)
        reply = await stub.EpochEnd(
            pb.EpochEndRequest(partition=self._ref(), epoch=mine), metadata=self.manager.peers.metadata, timeout=5
        )
        cut = min(handle.log.next_offset, reply.end_offset)
        if cut < handle.log.next_offset:
            log.warning("partition %s: truncating divergent tail %d..%d (epoch %s, leader %s)",
                        self.key, cut, handle.log.next_offset, mine, self.leader)
            handle.log.truncate(cut)
            epochs.truncate_from(cut)

    async def _run(self) -> None:
        backoff = 0.05
        while self.manager.node.partitions.find(*self.key) is not None:
            try:
                await self._truncate_divergent_tail()
                async for _ in self._replicate():
                    backoff = 0.05
                await asyncio.sleep(backoff)  # the leader ended the stream: not a busy loop
            except asyncio.CancelledError:
                raise
            except (grpc.aio.AioRpcError, LookupError, OSError, ValueError, asyncio.TimeoutError) as exc:
                log.debug("partition %s: replication from node %s failed: %s", self.key, self.leader, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _replicate(self) -> AsyncIterator[None]:
        """One Replicate stream: ask from our log end, append what comes, ask again.

        Yields after every answered fetch; returns when the partition is gone here
        or the leader ends the stream.
        """
        ref = self._ref()
        call = self.manager.peers.stub(self.leader).Replicate(metadata=self.manager.peers.metadata)
        try:
            while (handle := self.manager.node.partitions.find(*self.key)) is not None:
                await call.write(pb.FetchRequest(
                    partition=ref, follower_id=self.manager.node_id, leader_epoch=self.epoch,
                    fetch_offset=handle.log.next_offset, max_bytes=_MAX_BYTES, max_wait_ms=_FETCH_WAIT_MS,
                ))
                reply = await asyncio.wait_for(call.read(), _FETCH_WAIT_MS / 1000 + 5)
                if reply is grpc.aio.EOF:
                    return
                await self._apply(handle, reply)
                yield
        finally:
            call.cancel()

    async def _apply(self, handle: PartitionHandle, reply: pb.FetchResponse) -> None:
        if reply.status == pb.FetchResponse.OK:
            if reply.count:
                epochs = self.manager.epochs(self.key)
                for e in reply.epochs:
                    epochs.assign(e.epoch, e.start_offset)
                ends = np.frombuffer(reply.ends, dtype="<u4")
                handle.log.append_stamped(reply.records, ends)
                await self.manager.node.durability.appended(handle.log)
            self.high_watermark = min(reply.high_watermark, handle.log.next_offset)
            if handle.log.next_offset >= reply.high_watermark:
                self.caught_up = True
        elif reply.status == pb.FetchResponse.OUT_OF_RANGE:
            handle.log.truncate(reply.truncate_to)
            self.manager.epochs(self.key).truncate_from(reply.truncate_to)
        else:  # not leader / stale epoch: metadata will move us; ask gently meanwhile
            await asyncio.sleep(0.1)
