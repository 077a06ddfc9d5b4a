"""One replica of one partition on this node: its log, epochs, promise and role.

This object is the only writer of a replicated partition's log and owns the rules
that keep acknowledged records safe (the reasons are in :mod:`.quorum`,
:mod:`.election` and :mod:`.divergence`):

- **Roles change synchronously**, and each change bumps :attr:`generation`. A
  follower's loop passes the generation it was started with to every log mutation
  (:meth:`follower_append`, :meth:`follower_truncate`), which is refused once the
  role moved on. (A follower stopped by a task cancelled *later* once cut the log of
  the leader that had just replaced it, and the leader then wrote new records over
  acknowledged ones in the same epoch: issue 9, anomaly 4.)
- **A leader never truncates its own log**; leading a new epoch starts at its end.
- **The promise** (:meth:`fence`) is durable before the position is reported, and no
  role below it is taken or kept.
- **An append** (:meth:`append`) stages the batch (dedup, stamping), publishes it to a
  parked follower fetch, writes it, then waits for the ack level; a batch that was
  all duplicates waits for the originals' offsets instead. If the write fails after
  followers may have taken the batch, the leader fences itself and asks for a new
  epoch (``on_write_failed``), so followers cut what it does not have.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from whippet.replication.election import Position
from whippet.replication.epochs import EpochCache
from whippet.replication.leader import LeaderState, Tail
from whippet.storage.log import PartitionLog, StagedBatchDiscarded
from whippet.storage.model import AppendResult
from whippet.wire.errors import NotLeader

__all__ = ["Durability", "Following", "ReplicatedPartition"]

log = logging.getLogger(__name__)

Key = tuple[int, int, int]

#: how long an append waits for parked follower fetches to take its batch before writing
PUBLISH_WAIT = 0.005
ACK_TIMEOUT = 10.0


class Durability(Protocol):
    """The node's fsync policy (``node.durability.Durability``)."""

    async def appended(self, plog: PartitionLog) -> None: ...

    async def flush(self, plog: PartitionLog) -> None: ...


@dataclass
class Following:
    leader: int
    epoch: int
    generation: int
    high_watermark: int = 0
    #: reached the leader's high watermark at least once (readiness)
    caught_up: bool = False
    #: monotonic time of the last answered fetch from the leader
    contact_at: float = -1e18


class ReplicatedPartition:
    def __init__(self, key: Key, plog: PartitionLog, append_lock: asyncio.Lock, epochs: EpochCache,
                 node_id: int, durability: Durability) -> None:  # fmt: skip
        self.key = key
        self.log = plog
        self.append_lock = append_lock
        self.epochs = epochs
        self.node_id = node_id
        self.durability = durability
        self.role: LeaderState | Following | None = None
        self.generation = 0
        self._offset_seq = (0, 0)
        self._known_hw = 0
        #: when the promise was last raised (a restart makes an old promise stale at once)
        self.promised_at = -1e18
        #: called with the epoch this replica must not lead (any more): a write failed after
        #: publishing, or it would lead again an epoch it led before a restart
        self.on_new_epoch_needed: Callable[[ReplicatedPartition, int], None] | None = None

    # --- roles ------------------------------------------------------------------------
    @property
    def leader_state(self) -> LeaderState | None:
        return self.role if isinstance(self.role, LeaderState) else None

    @property
    def following(self) -> Following | None:
        return self.role if isinstance(self.role, Following) else None

    def _next_generation(self) -> int:
        self.generation += 1
        return self.generation

    def lead(self, epoch: int, replicas: tuple[int, ...], alive: Callable[[int], bool]) -> LeaderState | None:
        """Lead at ``epoch`` (the metadata says so). Returns the new state, or None when
        the promise forbids this epoch or this epoch is already led here."""
        current = self.leader_state
        if current is not None and current.epoch == epoch:
            if current.replicas != replicas:
                current.set_replicas(replicas)
            return None
        if epoch < self.epochs.promised:
            log.info("partition %s: not leading epoch %d, promised %d", self.key, epoch, self.epochs.promised)
            self.stop_role()
            return None
        last = self.epochs.last_epoch
        if last is not None and epoch <= last:
            # This replica led (or followed) this epoch before: after a restart its followers
            # may hold a batch it published but never wrote. An epoch is led once, so the
            # node asks for a new one (every follower then cuts what it does not have).
            self.stop_role()
            log.info("partition %s: epoch %d was led here before; asking for a new one", self.key, epoch)
            if self.on_new_epoch_needed is not None:
                self.on_new_epoch_needed(self, epoch)
            return None
        known_hw = self.high_watermark
        self.stop_role()
        end = self.log.next_offset
        self.epochs.assign(epoch, end)
        state = LeaderState(epoch=epoch, replicas=replicas, self_id=self.node_id, log_end=end, start=end,
                            high_watermark=min(known_hw, end), alive=alive)
        self.role = state
        self._next_generation()
        log.info("partition %s: leading epoch %d from offset %d (high watermark %d)",
                 self.key, epoch, end, state.high_watermark)
        return state

    def follow(self, leader: int, epoch: int) -> Following | None:
        """Follow ``leader`` at ``epoch``; None when the promise forbids it, the log already
        holds a later epoch, or nothing changes.

        An epoch below the last one in this log can only come from a metadata view older
        than the log (a restarted node whose metadata is still catching up): following it,
        the divergence search would cut records of the later epoch, acknowledged ones
        included. The promise alone does not cover this, since an epoch given by a
        hand-over or a new-epoch request is led without one (found by the simulation).
        """
        current = self.following
        if current is not None and current.leader == leader and current.epoch == epoch:
            return None
        last = self.epochs.last_epoch
        if epoch < self.epochs.promised or (last is not None and epoch < last):
            self.stop_role()
            return None
        known_hw = self.high_watermark
        self.stop_role()
        role = Following(leader=leader, epoch=epoch, generation=self._next_generation(),
                         high_watermark=min(known_hw, self.log.next_offset))
        self.role = role
        return role

    def stop_role(self) -> None:
        state = self.leader_state
        if state is not None:
            state.resign()
        if self.role is not None:
            # A high watermark once learned stays committed: a role taken later (after a
            # fence, say) starts from it instead of from nothing.
            self._known_hw = max(self._known_hw, self.high_watermark)
            self._next_generation()
        self.role = None

    def current(self, generation: int) -> Following | None:
        role = self.following
        return role if role is not None and role.generation == generation else None

    # --- positions and fencing -----------------------------------------------------------
    def position(self) -> Position:
        last = self.epochs.last_epoch
        return Position(last if last is not None else 0, self.log.next_offset)

    async def fence(self, new_epoch: int) -> Position:
        """Promise ``new_epoch`` (durably), give up any lower role, report the position.

        The position is reported after the log is durable per the fsync policy, and
        it cannot change until a leader of at least ``new_epoch`` exists.
        """
        raised = self.epochs.promise(new_epoch)
        if raised:
            self.promised_at = time.monotonic()
        state = self.leader_state
        following = self.following
        if (state is not None and state.epoch < new_epoch) or (following is not None and following.epoch < new_epoch):
            self.stop_role()
        if raised:
            log.info("partition %s: promised epoch %d at position %s", self.key, new_epoch, self.position())
        async with self.append_lock:  # no append of ours is between stage and commit
            await self.durability.appended(self.log)
        return self.position()

    # --- reads ----------------------------------------------------------------------------
    @property
    def high_watermark(self) -> int:
        role = self.role
        if isinstance(role, LeaderState):
            return role.high_watermark
        if isinstance(role, Following):
            return role.high_watermark
        return min(self._known_hw, self.log.next_offset)

    def visible_end(self) -> int:
        """Polls see offsets below this: the committed point, as far as this replica knows."""
        return min(self.high_watermark, self.log.next_offset)

    def offset_fence(self) -> tuple[int, int]:
        """(epoch, sequence) for the next consumer-offset change this leader proposes (see
        ``metadata.commands.StoreConsumerOffset``): increasing in proposal order."""
        state = self.leader_state
        if state is None:
            raise NotLeader("this node does not lead the partition (now)", not_applied=True)
        if self._offset_seq[0] != state.epoch:
            self._offset_seq = (state.epoch, 0)
        self._offset_seq = (state.epoch, self._offset_seq[1] + 1)
        return self._offset_seq

    # --- the leader's write path -------------------------------------------------------------
    def writable(self) -> LeaderState:
        """The leader state to append under, or NotLeader (not leading, handing over,
        fencing, or without a quorum within the lease)."""
        state = self.leader_state
        if state is None or state.fenced:
            raise NotLeader("this node does not lead the partition (now)", not_applied=True)
        if not state.has_lease():
            raise NotLeader("the partition leader cannot reach a quorum of its replicas", not_applied=True)
        return state

    async def stop_appending(self, state: LeaderState) -> bool:
        """Fence ``state`` and wait until an append already past the fence is in the log;
        afterwards the log end is final for this epoch. Returns whether ``state`` still leads.

        A hand-over names a successor once it holds this log's end. An append that passed
        :meth:`writable` just before the fence is still offering its batch to the
        followers (:meth:`LeaderState.publish`), not yet in the log: compared then, the
        successor could be named while another follower acknowledges that batch, and the
        successor would cut it (fault suite seed 140: ten acknowledged messages lost).
        The append holds ``append_lock`` until its batch is written, so taking the lock
        once is the wait.
        """
        state.fenced = True
        async with self.append_lock:
            pass
        return self.role is state

    async def append(self, records: memoryview | bytes | bytearray, ends: np.ndarray, ack: str, now_us: int,
                     on_written: Callable[[AppendResult], None] | None = None) -> AppendResult:  # fmt: skip
        """Append a client batch as leader and wait until it holds at level ``ack``.

        Raises:
            NotLeader: not leading (retriable); or leadership moved while waiting
                for the acknowledgement (the write may or may not survive).
            ReplicationTimeout: not enough replicas acknowledged in time.
        """
        async with self.append_lock:
            state = self.writable()
            staged = self.log.stage(records, ends, now_us)
            if staged is None or staged.count == 0:
                result = AppendResult(self.log.next_offset, self.log.next_offset - 1, 0, 0)
                end = staged.duplicate_end if staged is not None else 0
            else:
                tail = Tail(staged.first_offset, staged.records.data, staged.ends)
                await state.publish(tail, PUBLISH_WAIT)
                try:
                    result = self.log.commit(staged)
                except StagedBatchDiscarded:
                    # The log was cut, purged or closed while the batch was handed out:
                    # it was not written; the client may send it again.
                    state.unpublish()
                    raise NotLeader("the partition changed while the batch was being appended; retry",
                                    not_applied=True) from None
                except BaseException:
                    state.unpublish()
                    if self.role is state and not state.fenced:
                        # Followers may hold the batch this node failed to write: its log
                        # must not get other records at those offsets in this epoch.
                        state.fenced = True
                        if self.on_new_epoch_needed is not None:
                            self.on_new_epoch_needed(self, state.epoch)
                    raise
                state.appended(self.log.next_offset, tail)
                end = max(result.last_offset + 1, staged.duplicate_end)
        if on_written is not None:
            on_written(result)
        await self.durability.appended(self.log)
        if end:
            await state.acknowledged(end, ack, ACK_TIMEOUT)
        return result

    # --- the follower's write path ------------------------------------------------------------
    def follower_append(self, generation: int, leader_epoch: int, records: bytes, ends: np.ndarray,
                        epochs: list[tuple[int, int]], high_watermark: int) -> bool:  # fmt: skip
        """Append what the leader sent (already stamped); False if this follower role ended.

        ``epochs`` are the leader's epoch starts up to the end of what it sent: those at
        or below the new log end are recorded (a start equal to the end marks that this
        replica reached the leader's epoch, which is what the leader counts).
        """
        role = self.current(generation)
        if role is None or leader_epoch != role.epoch or role.epoch < self.epochs.promised:
            return False
        if len(ends):
            self.log.append_stamped(records, ends)
        end = self.log.next_offset
        for epoch, start in epochs:
            if start <= end:
                self.epochs.assign(epoch, start)
        role.high_watermark = max(role.high_watermark, min(high_watermark, end))
        role.contact_at = time.monotonic()
        if end >= high_watermark:
            role.caught_up = True
        return True

    def follower_truncate(self, generation: int, offset: int) -> bool:
        """Cut the log to ``offset`` for the follower role ``generation``; False if it ended."""
        role = self.current(generation)
        if role is None:
            return False
        if offset < self.log.next_offset:
            log.warning("partition %s: truncating %d..%d to follow node %d at epoch %d",
                        self.key, offset, self.log.next_offset, role.leader, role.epoch)
            self.log.truncate(offset)
            role.high_watermark = min(role.high_watermark, offset)
        # Also an epoch that starts at the cut and holds no record: it never reached the leader.
        self.epochs.truncate_from(offset)
        return True

    async def durable(self, generation: int) -> bool:
        """Wait for the fsync policy; False if the follower role ended meanwhile."""
        await self.durability.appended(self.log)
        return self.current(generation) is not None

    # --- purge ------------------------------------------------------------------------------
    def purged(self) -> None:
        """Every replica purged its log on the same metadata event."""
        self._known_hw = 0
        self.epochs.clear()
        state = self.leader_state
        if state is not None:
            state.purged()
            self.epochs.assign(state.epoch, 0)
        following = self.following
        if following is not None:
            following.high_watermark = 0


async def run_while(partition: ReplicatedPartition, generation: int, step: Callable[[], Awaitable[bool]]) -> None:
    """Repeat ``step`` while the follower role ``generation`` is current and it returns True."""
    while partition.current(generation) is not None and await step():
        pass
