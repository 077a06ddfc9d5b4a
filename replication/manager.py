"""Which partitions this node leads or follows, kept in step with the metadata.

On every placement change (a topic created, a node registered, a leader moved)
:meth:`ReplicaManager.reconcile` walks the partitions that list this node as a
replica and sets each :class:`~.partition.ReplicatedPartition`'s role: leading at the
metadata's epoch, or following its leader (a :class:`~.follower.FollowerLoop`
pulling from it). A one-node cluster is the same code with one replica per
partition: every append is committed at once.

This package does not import the node: what it needs from it comes in as narrow
interfaces (:class:`LogRegistry`, :class:`~.partition.Durability`, a forward handler).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import grpc

from whippet.metadata import commands as mc
from whippet.replication._pb import replication_pb2 as pb
from whippet.replication._pb import replication_pb2_grpc as pb_grpc
from whippet.replication.epochs import EpochCache
from whippet.replication.follower import FollowerLoop
from whippet.replication.leader import LeaderState
from whippet.replication.partition import Durability, ReplicatedPartition
from whippet.replication.peers import CHANNEL_OPTIONS, PeerPool
from whippet.storage.log import PartitionLog
from whippet.wire.errors import IggyError, NotLeader

if TYPE_CHECKING:
    from whippet.metadata.raft import MetadataStore
    from whippet.replication.cluster_tls import ClusterSecurity

__all__ = ["LogHandle", "LogRegistry", "ReplicaManager"]

log = logging.getLogger(__name__)

Key = tuple[int, int, int]
_PING_EVERY = 0.25
_DEAD_AFTER = 1.0
# A peer never heard from since this node started is still starting, not dead, for this long:
# members of a new cluster come up seconds apart, and failing partitions over to whoever
# started first would pile every leadership onto one node.
_STARTUP_GRACE = 10.0
_PREFERRED_EVERY = 5.0
_NEW_EPOCH_RETRY = 1.0
_WAITING_LOG_EVERY = 5.0
#: a promise above the metadata's epoch this old belongs to an election that did not complete
_STALLED_AFTER = 2.0


class LogHandle(Protocol):
    """A partition's open log and the lock its appends hold (``node.partitions``)."""

    key: Key
    log: PartitionLog
    append_lock: asyncio.Lock


class LogRegistry(Protocol):
    def ensure(self, stream_id: int, topic_id: int, partition_id: int) -> LogHandle: ...

    def find(self, stream_id: int, topic_id: int, partition_id: int) -> LogHandle | None: ...


ForwardHandler = Callable[[pb.ForwardRequest], Awaitable[bytes]]


class ReplicaManager:
    def __init__(self, *, node_id: int, meta_source: Callable[[], MetadataStore], logs: LogRegistry,
                 durability: Durability, security: ClusterSecurity, replication_address: Callable[[str], str],
                 forward_handler: ForwardHandler) -> None:  # fmt: skip
        self.node_id = node_id
        self._meta_source = meta_source
        self.logs = logs
        self.durability = durability
        self.security = security
        self._replication_address_of = replication_address
        self._forward_handler = forward_handler
        self.partitions: dict[Key, ReplicatedPartition] = {}
        self._loops: dict[Key, FollowerLoop] = {}
        self.peers = PeerPool(self._peer_address, security)
        self._server: grpc.aio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.last_seen: dict[int, float] = {}
        #: partitions each peer reported as needing an election (from its last ping answer)
        self.peer_needs_election: dict[int, set[Key]] = {}
        self._epoch_requests: set[Key] = set()
        self.bound_port = 0
        self._started = time.monotonic()
        self.leader_changes = 0
        self.raft_leader_changes = 0
        self._raft_leader: str | None = None

    @property
    def meta(self) -> MetadataStore:
        return self._meta_source()

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self, host: str, port: int | None) -> None:
        """Start the roles; listen for peers on ``host:port`` unless ``port`` is None (a
        one-node cluster has no peers, so it opens no replication port at all)."""
        from whippet.replication.service import ReplicationService, add_to_server

        if port is not None:
            self._server = grpc.aio.server(options=CHANNEL_OPTIONS)
            add_to_server(ReplicationService(self), self._server)
            self.bound_port = self.security.add_port(self._server, f"{_bracketed(host)}:{port}")
            await self._server.start()
        self._tasks.append(asyncio.get_running_loop().create_task(self._watch_peers()))
        self._tasks.append(asyncio.get_running_loop().create_task(self._preferred_loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for loop in list(self._loops.values()):
            await loop.stop()
        self._loops.clear()
        for part in self.partitions.values():
            part.stop_role()
        if self._server is not None:
            await self._server.stop(0.5)
        await self.peers.close()

    # --- placement ----------------------------------------------------------------------------
    def partition(self, key: Key) -> ReplicatedPartition:
        part = self.partitions.get(key)
        if part is None:
            handle = self.logs.ensure(*key)
            epochs = EpochCache(Path(handle.log.directory) / "epochs")
            part = ReplicatedPartition(key, handle.log, handle.append_lock, epochs, self.node_id, self.durability)
            part.on_new_epoch_needed = self._new_epoch_needed
            self.partitions[key] = part
        return part

    def reconcile(self) -> None:
        """Set every local replica's role to what the metadata says (on the loop, synchronously:
        a role change never waits, so no old role's task can act after it)."""
        meta = self.meta
        with meta.lock:
            placements = {
                (s.id, t.id, p.id): (p.leader, p.epoch, tuple(p.replicas))
                for s in meta.machine.streams()
                for t in s.topics.values()
                for p in t.partitions
                if self.node_id in p.replicas and p.leader >= 0
            }
        for key, (leader, epoch, replicas) in placements.items():
            part = self.partition(key)
            if part.log is not self.logs.ensure(*key).log:  # the log was replaced (purge of a stream)
                part.log = self.logs.ensure(*key).log
            if leader == self.node_id:
                self._stop_loop(key)
                if part.lead(epoch, replicas, self.alive) is not None:
                    self.leader_changes += 1
            else:
                was_leading = part.leader_state is not None
                role = part.follow(leader, epoch)
                if was_leading and part.leader_state is None:
                    self.leader_changes += 1
                if role is not None:
                    self._stop_loop(key)
                    loop = FollowerLoop(part, role, self.peers, self.node_id)
                    self._loops[key] = loop
                    loop.start()
        for key in [k for k in self.partitions if k not in placements]:
            self._stop_loop(key)
            self.partitions.pop(key).stop_role()

    def _stop_loop(self, key: Key) -> None:
        loop = self._loops.pop(key, None)
        if loop is not None:
            asyncio.get_running_loop().create_task(loop.stop())

    def purged(self, key: Key) -> None:
        """A replica's log was purged (every replica purges its own on the same event)."""
        part = self.partitions.get(key)
        if part is not None:
            part.purged()

    def visible_end(self, key: Key) -> int:
        part = self.partitions.get(key)
        return part.visible_end() if part is not None else 0

    def high_watermark(self, key: Key) -> int:
        part = self.partitions.get(key)
        return part.high_watermark if part is not None else 0

    def leaders(self) -> dict[Key, LeaderState]:
        return {k: s for k, p in self.partitions.items() if (s := p.leader_state) is not None}

    def needs_election(self) -> list[Key]:
        """Partitions that need an election, as this node sees them: named leader here but
        not serving (no quorum fetched within the lease, or not leading at all because it
        promised a later epoch), or holding a promise above the metadata's epoch for longer
        than :data:`_STALLED_AFTER` (an election that did not complete: the replica would
        otherwise refuse its leader for good). The controller replaces the leader."""
        out = []
        now = time.monotonic()
        with self.meta.lock:
            placed = {
                (s.id, t.id, p.id): (p.leader, p.epoch)
                for s in self.meta.machine.streams() for t in s.topics.values() for p in t.partitions
                if self.node_id in p.replicas
            }
        for key, (leader, epoch) in placed.items():
            part = self.partitions.get(key)
            if part is None:
                continue
            if part.epochs.promised > epoch and now - part.promised_at > _STALLED_AFTER:
                out.append(key)
                continue
            state = part.leader_state
            if leader == self.node_id and (state is None or (not state.fenced and not state.has_lease())):
                out.append(key)
        return out

    # --- an epoch this node must not lead ------------------------------------------------------
    def _new_epoch_needed(self, part: ReplicatedPartition, epoch: int) -> None:
        """Lead on under a new epoch: after a write that failed once followers may have taken
        the batch, or instead of leading again an epoch led before a restart. Every follower
        then cuts the records this node does not have before it follows again."""
        if part.key in self._epoch_requests:
            return
        self._epoch_requests.add(part.key)
        asyncio.get_running_loop().create_task(self._new_epoch(part, epoch), name=f"new-epoch-{part.key}")

    async def _new_epoch(self, part: ReplicatedPartition, epoch: int) -> None:
        key = part.key
        try:
            while True:
                with self.meta.lock:
                    p = self.meta.machine.partition(*key)
                    current = (p.leader, p.epoch)
                if current != (self.node_id, epoch):
                    return  # the metadata moved on (a new epoch, or another leader)
                try:
                    await self.meta.propose(mc.ChangePartitionLeader(
                        stream_id=key[0], topic_id=key[1], partition_id=key[2], leader=self.node_id,
                        expected_epoch=epoch,
                    ))
                    return
                except IggyError as exc:  # metadata unavailable, or the epoch moved on anyway
                    log.warning("partition %s: new epoch after %d not committed yet: %s", key, epoch, exc)
                    await asyncio.sleep(_NEW_EPOCH_RETRY)
        finally:
            self._epoch_requests.discard(key)

    # --- moving leadership between live nodes -------------------------------------------------
    async def hand_over(self, key: Key, target: int, timeout: float = 5.0) -> bool:
        """Stop appending, let ``target`` catch up, then make it the leader.

        Safe under any ack level: nothing is appended after the successor holds the
        whole log (an append already past the fence is waited for first, see
        :meth:`ReplicatedPartition.stop_appending`), so no acknowledged record can be
        cut by the successor.
        Returns False (and resumes leading) if the successor did not catch up in time.
        """
        part = self.partitions.get(key)
        state = part.leader_state if part is not None else None
        if part is None or state is None or target not in state.followers or state.fenced:
            return False
        if not await part.stop_appending(state):
            return True  # leadership moved meanwhile
        deadline = time.monotonic() + timeout
        while state.follower_end.get(target, 0) < part.log.next_offset and time.monotonic() < deadline:
            await state.wait_for_data(0.05)
            if part.leader_state is not state:
                return True
        if state.follower_end.get(target, 0) < part.log.next_offset or part.leader_state is not state:
            if part.leader_state is state:
                state.fenced = False
            return False
        try:
            await self.meta.propose(mc.ChangePartitionLeader(
                stream_id=key[0], topic_id=key[1], partition_id=key[2], leader=target, expected_epoch=state.epoch,
            ))
        except IggyError as exc:
            # Not committed *yet* says nothing about later: the proposal may still commit.
            # Appending again in this epoch could then give a quorum of the others records
            # the successor never gets. So the epoch ends either way: this node stays
            # fenced and asks to lead a new one; whichever of the two proposals commits
            # first wins, the other is refused by its expected epoch.
            log.info("partition %s: hand-over to node %d not committed (%s); asking for a new epoch",
                     key, target, exc)
            if part.leader_state is state:
                self._new_epoch_needed(part, state.epoch)
            return False
        return True

    def _handover_target(self, state: LeaderState, prefer: int | None = None) -> int | None:
        """A live, in-sync follower (``prefer`` when it qualifies)."""
        candidates = [r for r in state.in_sync() if r != self.node_id and self.alive(r)]
        if prefer is not None and prefer in candidates:
            return prefer
        if not candidates:
            return None
        return max(candidates, key=lambda r: state.follower_end.get(r, 0))

    async def hand_over_all(self, timeout: float = 5.0) -> int:
        """Before a clean shutdown: give every leadership to an in-sync peer."""
        moved = 0
        for key, state in list(self.leaders().items()):
            target = self._handover_target(state)
            if target is not None and await self.hand_over(key, target, timeout):
                moved += 1
        return moved

    async def restore_preferred(self) -> None:
        """Give leadership back to a partition's first replica once it is back and in sync."""
        leaders = self.leaders()
        with self.meta.lock:
            preferred = {key: self.meta.machine.partition(*key).replicas[0] for key in leaders}
        for key, state in leaders.items():
            target = preferred.get(key)
            if target is None or target == self.node_id:
                continue
            if self._handover_target(state, prefer=target) == target:
                await self.hand_over(key, target, timeout=1.0)

    # --- forwarding ---------------------------------------------------------------------------
    async def forward(self, target: int, code: int, payload: bytes, *, client_id: int, user_id: int | None,
                      hops: int) -> bytes:  # fmt: skip
        """Run a client request on node ``target``; return its OK payload or raise its error.

        Raises NotLeader when ``target`` cannot be reached: the request was not run there.
        """
        try:
            stub = self.peers.stub(target)
            reply = await stub.Forward(
                pb.ForwardRequest(
                    code=code, payload=bytes(payload), origin_node_id=self.node_id, client_id=client_id,
                    user_id=user_id or 0, has_user=user_id is not None, hops=hops + 1,
                    min_applied=int(self.meta.status().get("last_applied") or 0),
                ),
                metadata=self.peers.metadata,
                timeout=30,
            )
        except LookupError as exc:
            raise NotLeader(f"node {target} is not known: {exc}", not_applied=True) from None
        except grpc.aio.AioRpcError as exc:
            # Refused before anything was sent: the request certainly did not run there.
            unsent = exc.code() == grpc.StatusCode.UNAVAILABLE and "connect" in (exc.details() or "").lower()
            raise NotLeader(f"node {target} is not reachable: {exc.code().name}", not_applied=unsent) from None
        if reply.status:
            error = IggyError.from_code(reply.status)
            if isinstance(error, NotLeader):
                error.not_applied = reply.not_applied
            raise error
        return bytes(reply.payload)

    async def forwarded(self, request: pb.ForwardRequest) -> bytes:
        """Run a request another node forwarded here (the node's dispatch)."""
        return await self._forward_handler(request)

    async def caught_up_to(self, index: int, timeout: float = 2.0) -> None:
        """Wait (bounded) until this node applied metadata up to ``index``."""
        deadline = time.monotonic() + timeout
        waited = False
        while int(self.meta.status().get("last_applied") or 0) < index and time.monotonic() < deadline:
            waited = True
            await asyncio.sleep(0.005)
        if waited:
            # The Raft thread posts the applied events to this loop right after it updates
            # the status: give those callbacks (new leader states, opened logs) a turn.
            await asyncio.sleep(0.01)

    # --- membership (scale-out) ---------------------------------------------------------------
    async def add_member(self, raft_address: str, hops: int = 0) -> pb.JoinResponse:
        """Make ``raft_address`` a metadata Raft member (idempotent); on a non-leader,
        pass the request to the Raft leader."""
        meta = self.meta
        status = meta.status()
        if raft_address == status.get("self") or raft_address in (status.get("partners") or []):
            return pb.JoinResponse(ok=True)
        if not meta.is_leader:
            leader = meta.leader_address
            with meta.lock:
                target = next((n.id for n in meta.machine.nodes() if n.raft_address == leader), None)
            if target is None or hops >= 2:
                return pb.JoinResponse(ok=False, reason="no metadata leader known here yet")
            try:
                reply: pb.JoinResponse = await self.peers.stub(target).Join(
                    pb.JoinRequest(raft_address=raft_address, hops=hops + 1), metadata=self.peers.metadata, timeout=10
                )
                return reply
            except (grpc.aio.AioRpcError, LookupError) as exc:
                return pb.JoinResponse(ok=False, reason=str(exc))
        try:
            await meta.add_member(raft_address, timeout=10)
        except IggyError as exc:
            return pb.JoinResponse(ok=False, reason=exc.reason)
        log.info("metadata group: added member %s", raft_address)
        return pb.JoinResponse(ok=True)

    async def join_cluster(self, self_raft: str, peers: list[str], timeout: float = 120.0) -> None:
        """Until this node's metadata replica is current, ask the configured peers to add it.

        For the founding members this ends as soon as the group has formed; a node
        added later (scale-out) is admitted by the Raft leader. Every few seconds it
        logs which peers it is still waiting for.
        """
        started = time.monotonic()
        deadline = started + timeout
        next_log = started + _WAITING_LOG_EVERY
        while not self.meta.status().get("ready"):
            if time.monotonic() > deadline:
                raise IggyError.from_code(12001, "this node was not admitted to the metadata group in time")
            answered: list[str] = []
            for raft in peers:
                channel = self.peers.channel(self._replication_address_of(raft))
                try:
                    stub = pb_grpc.ReplicationStub(channel)
                    await stub.Join(pb.JoinRequest(raft_address=self_raft), metadata=self.peers.metadata, timeout=2)
                    answered.append(raft)
                except grpc.aio.AioRpcError:
                    pass
                finally:
                    await channel.close()
                if self.meta.status().get("ready"):
                    return
            if time.monotonic() >= next_log:
                next_log = time.monotonic() + _WAITING_LOG_EVERY
                silent = [p for p in peers if p not in answered]
                log.warning("waiting %.0fs for the metadata group: no answer from %s; answered: %s",
                            time.monotonic() - started, ", ".join(silent) or "none",
                            ", ".join(answered) or "none")
            await asyncio.sleep(0.5)

    # --- liveness -----------------------------------------------------------------------------
    def _peer_address(self, node_id: int) -> str | None:
        with self.meta.lock:
            member = self.meta.machine.node(node_id)
        if member is None:
            return None
        return self._replication_address_of(member.raft_address)

    def heard_from(self, node_id: int) -> bool:
        """Heard from ``node_id`` within the dead-after bound (no start-up grace)."""
        seen = self.last_seen.get(node_id)
        return seen is not None and time.monotonic() - seen < _DEAD_AFTER

    def alive(self, node_id: int) -> bool:
        if node_id == self.node_id:
            return True
        now = time.monotonic()
        seen = self.last_seen.get(node_id)
        if seen is None:
            return now - self._started < _STARTUP_GRACE
        return now - seen < _DEAD_AFTER

    async def _ping(self, node_id: int) -> None:
        try:
            reply = await self.peers.stub(node_id).Ping(
                pb.PingRequest(from_node_id=self.node_id), metadata=self.peers.metadata, timeout=_DEAD_AFTER / 2
            )
            self.last_seen[node_id] = time.monotonic()
            self.peer_needs_election[node_id] = {
                (r.stream_id, r.topic_id, r.partition_id) for r in reply.needs_election
            }
        except (grpc.aio.AioRpcError, LookupError):
            pass

    async def _preferred_loop(self) -> None:
        while True:
            await asyncio.sleep(_PREFERRED_EVERY)
            try:
                await self.restore_preferred()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("preferred-leader pass failed")

    def ready(self) -> bool:
        """Joined and caught up: the metadata replica is current and every partition
        this node follows has reached the leader's high watermark at least once."""
        return bool(self.meta.status().get("ready")) and all(
            p.following.caught_up for p in self.partitions.values() if p.following is not None
        )

    async def _watch_peers(self) -> None:
        while True:
            leader = self.meta.leader_address
            if leader != self._raft_leader:
                if self._raft_leader is not None:
                    self.raft_leader_changes += 1
                self._raft_leader = leader
            with self.meta.lock:
                others = [n.id for n in self.meta.machine.nodes() if n.id != self.node_id]
            if others:
                await asyncio.gather(*(self._ping(n) for n in others))
            await asyncio.sleep(_PING_EVERY)


def _bracketed(host: str) -> str:
    """``host`` as the host part of a gRPC address (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
