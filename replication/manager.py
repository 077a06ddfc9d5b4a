"""Which partitions this node leads or follows, kept in step with the metadata.

On every placement change (a topic created, a node registered, a leader moved)
``reconcile`` walks the partitions that list this node as a replica: for each one
it leads it holds a :class:`LeaderState` (a new epoch is recorded in the
partition's epoch cache at the current log end); for each one it follows it runs
a :class:`Follower` pulling from the current leader. A one-node cluster is the
same code with one replica per partition: every append is committed at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from whippet.replication._pb import replication_pb2 as pb
from whippet.replication._pb import replication_pb2_grpc as pb_grpc
from whippet.replication.epochs import EpochCache
from whippet.replication.follower import Follower
from whippet.replication.leader import LeaderState
from whippet.replication.peers import CHANNEL_OPTIONS, PeerPool
from whippet.wire.errors import IggyError, NotLeader

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["ReplicaManager"]

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


class ReplicaManager:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.node_id = node.node_id
        self.leaders: dict[Key, LeaderState] = {}
        self.followers: dict[Key, Follower] = {}
        self._epochs: dict[Key, EpochCache] = {}
        self.peers = PeerPool(self._replication_address, node.security)
        self._server: grpc.aio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.last_seen: dict[int, float] = {}
        self.bound_port = 0
        self._started = time.monotonic()
        self.leader_changes = 0
        self.raft_leader_changes = 0
        self._raft_leader: str | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self, host: str, port: int | None) -> None:
        """Start the roles; listen for peers on ``host:port`` unless ``port`` is None (a
        one-node cluster has no peers, so it opens no replication port at all)."""
        from whippet.replication.metrics import ReplicationCollector
        from whippet.replication.service import ReplicationService, add_to_server

        self.node.metrics.registry.register(ReplicationCollector(self))
        if port is not None:
            self._server = grpc.aio.server(options=CHANNEL_OPTIONS)
            add_to_server(ReplicationService(self), self._server)
            self.bound_port = self.node.security.add_port(self._server, f"{_bracketed(host)}:{port}")
            await self._server.start()
        self._tasks.append(asyncio.get_running_loop().create_task(self._watch_peers()))
        self._tasks.append(asyncio.get_running_loop().create_task(self._preferred_loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for f in list(self.followers.values()):
            await f.stop()
        self.followers.clear()
        for st in self.leaders.values():
            st.resign()
        self.leaders.clear()
        if self._server is not None:
            await self._server.stop(0.5)
        await self.peers.close()

    # --- placement ----------------------------------------------------------------------------
    def epochs(self, key: Key) -> EpochCache:
        cache = self._epochs.get(key)
        if cache is None:
            handle = self.node.partitions.find(*key)
            directory = handle.log.directory if handle is not None else Path("/nonexistent")
            cache = self._epochs[key] = EpochCache(Path(directory) / "epochs")
        return cache

    def reconcile(self) -> None:
        """Start/stop leader and follower roles to match the metadata (loop thread)."""
        meta = self.node.meta
        with meta.lock:
            placements = {
                (s.id, t.id, p.id): (p.leader, p.epoch, tuple(p.replicas))
                for s in meta.machine.streams()
                for t in s.topics.values()
                for p in t.partitions
                if self.node_id in p.replicas and p.leader >= 0
            }
        for key, (leader, epoch, replicas) in placements.items():
            handle = self.node.partitions.ensure(*key)
            if leader == self.node_id:
                follower = self.followers.pop(key, None)
                known_hw = follower.high_watermark if follower is not None else 0
                if follower is not None:
                    asyncio.get_running_loop().create_task(follower.stop())
                current = self.leaders.get(key)
                if current is None or current.epoch != epoch:
                    if current is not None:
                        current.resign()
                        known_hw = max(known_hw, current.high_watermark)
                    self.epochs(key).assign(epoch, handle.log.next_offset)
                    state = LeaderState(
                        epoch=epoch, replicas=replicas, self_id=self.node_id, log_end=handle.log.next_offset,
                        alive=self.alive,
                    )
                    state.high_watermark = max(state.high_watermark, min(known_hw, handle.log.next_offset))
                    self.leaders[key] = state
                    self.leader_changes += 1
                    log.info("partition %s: leading at epoch %d from offset %d", key, epoch, handle.log.next_offset)
                elif current.replicas != replicas:
                    current.replicas = replicas
            else:
                state = self.leaders.pop(key, None)
                if state is not None:
                    state.resign()
                    self.leader_changes += 1
                follower = self.followers.get(key)
                if follower is None or follower.leader != leader or follower.epoch != epoch:
                    if follower is not None:
                        asyncio.get_running_loop().create_task(follower.stop())
                    follower = Follower(self, key, leader, epoch)
                    self.followers[key] = follower
                    follower.start()
        for key in [k for k in self.leaders if k not in placements]:
            self.leaders.pop(key).resign()
        for key in [k for k in self.followers if k not in placements]:
            asyncio.get_running_loop().create_task(self.followers.pop(key).stop())
        for key in [k for k in self._epochs if k not in placements]:
            del self._epochs[key]

    def purged(self, key: Key) -> None:
        """A replica's log was purged (every replica purges its own on the same event)."""
        cache = self.epochs(key)
        cache.clear()
        state = self.leaders.get(key)
        if state is not None:
            state.purged()
            cache.assign(state.epoch, 0)
        follower = self.followers.get(key)
        if follower is not None:
            follower.high_watermark = 0

    def leader_of(self, key: Key) -> tuple[int, int]:
        """(leader node id, epoch) of a partition per the metadata (call under the lock)."""
        p = self.node.meta.machine.partition(*key)
        return p.leader, p.epoch

    def high_watermark(self, key: Key) -> int:
        state = self.leaders.get(key)
        if state is not None:
            return state.high_watermark
        follower = self.followers.get(key)
        return follower.high_watermark if follower is not None else 0

    # --- the write path ---------------------------------------------------------------------
    def writable(self, key: Key) -> LeaderState:
        """The leader state to append under, or NotLeader (not leading, or handing over)."""
        state = self.leaders.get(key)
        if state is None or state.fenced:
            raise NotLeader("this node does not lead the partition (now)")
        return state

    def step_down(self, key: Key) -> None:
        """After a write this leader could not complete (its followers may already hold
        the batch): stop appending and lead again under a new epoch, so every follower
        cuts the records this node does not have before it follows again."""
        state = self.leaders.get(key)
        if state is None:
            return
        state.fenced = True
        asyncio.get_running_loop().create_task(self._new_epoch(key, state), name=f"new-epoch-{key}")

    async def _new_epoch(self, key: Key, state: LeaderState) -> None:
        from whippet.metadata import commands as mc

        while self.leaders.get(key) is state:
            try:
                await self.node.meta.propose(mc.ChangePartitionLeader(
                    stream_id=key[0], topic_id=key[1], partition_id=key[2], leader=self.node_id,
                    expected_epoch=state.epoch,
                ))
                return
            except IggyError as exc:  # metadata unavailable, or the epoch moved on anyway
                log.warning("partition %s: new epoch after a failed write not committed yet: %s", key, exc)
                await asyncio.sleep(_NEW_EPOCH_RETRY)

    # --- moving leadership between live nodes -------------------------------------------------
    async def hand_over(self, key: Key, target: int, timeout: float = 5.0) -> bool:
        """Stop appending, let ``target`` catch up, then make it the leader.

        Safe under quorum acks: nothing is appended after the successor holds the
        whole log, so no acknowledged record can be cut by the successor.
        Returns False (and resumes leading) if the successor did not catch up in time.
        """
        state = self.leaders.get(key)
        handle = self.node.partitions.find(*key)
        if state is None or handle is None or target not in state.followers:
            return False
        state.fenced = True
        deadline = time.monotonic() + timeout
        while state.follower_end.get(target, 0) < handle.log.next_offset and time.monotonic() < deadline:
            await state.wait_for_data(0.05)
            if self.leaders.get(key) is not state:
                return True
        if state.follower_end.get(target, 0) < handle.log.next_offset:
            state.fenced = False
            return False
        from whippet.metadata import commands as mc

        try:
            await self.node.meta.propose(
                mc.ChangePartitionLeader(
                    stream_id=key[0], topic_id=key[1], partition_id=key[2], leader=target, expected_epoch=state.epoch
                )
            )
        except IggyError:
            state.fenced = False
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
        for key, state in list(self.leaders.items()):
            target = self._handover_target(state)
            if target is not None and await self.hand_over(key, target, timeout):
                moved += 1
        return moved

    async def restore_preferred(self) -> None:
        """Give leadership back to a partition's first replica once it is back and in sync."""
        with self.node.meta.lock:
            preferred = {
                key: self.node.meta.machine.partition(*key).replicas[0] for key in self.leaders
            }
        for key, state in list(self.leaders.items()):
            target = preferred.get(key)
            if target is None or target == self.node_id:
                continue
            if self._handover_target(state, prefer=target) == target:
                await self.hand_over(key, target, timeout=1.0)

    # --- forwarding ---------------------------------------------------------------------------
    async def forward(self, target: int, code: int, payload: bytes, session: Session, hops: int = 0) -> bytes:
        """Run a client request on node ``target``; return its OK payload or raise its error."""
        try:
            stub = self.peers.stub(target)
            reply = await stub.Forward(
                pb.ForwardRequest(
                    code=code, payload=bytes(payload), origin_node_id=session.node_id, client_id=session.client_id,
                    user_id=session.user_id or 0, has_user=session.user_id is not None, hops=hops + 1,
                    min_applied=int(self.node.meta.status().get("last_applied") or 0),
                ),
                metadata=self.peers.metadata,
                timeout=30,
            )
        except (grpc.aio.AioRpcError, LookupError) as exc:
            raise NotLeader(f"node {target} is not reachable: {exc}") from None
        if reply.status:
            raise IggyError.from_code(reply.status)
        return reply.payload

    async def caught_up_to(self, index: int, timeout: float = 2.0) -> None:
        """Wait (bounded) until this node applied metadata up to ``index``."""
        deadline = time.monotonic() + timeout
        waited = False
        while int(self.node.meta.status().get("last_applied") or 0) < index and time.monotonic() < deadline:
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
        meta = self.node.meta
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
                return await self.peers.stub(target).Join(
                    pb.JoinRequest(raft_address=raft_address, hops=hops + 1), metadata=self.peers.metadata, timeout=10
                )
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

        For the founding members this is a no-op that ends as soon as the group has
        formed; a node added later (scale-out) is admitted by the Raft leader.
        """
        deadline = time.monotonic() + timeout
        while not self.node.meta.status().get("ready"):
            if time.monotonic() > deadline:
                raise IggyError.from_code(12001, "this node was not admitted to the metadata group in time")
            for raft in peers:
                address = self.node.config.replication_address(raft)
                channel = self.peers.channel(address)
                try:
                    stub = pb_grpc.ReplicationStub(channel)
                    await stub.Join(pb.JoinRequest(raft_address=self_raft), metadata=self.peers.metadata, timeout=2)
                except grpc.aio.AioRpcError:
                    pass
                finally:
                    await channel.close()
                if self.node.meta.status().get("ready"):
                    return
            await asyncio.sleep(0.5)

    # --- liveness -----------------------------------------------------------------------------
    def _replication_address(self, node_id: int) -> str | None:
        with self.node.meta.lock:
            member = self.node.meta.machine.node(node_id)
        if member is None:
            return None
        return self.node.config.replication_address(member.raft_address)

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
            await self.peers.stub(node_id).Ping(
                pb.PingRequest(from_node_id=self.node_id), metadata=self.peers.metadata, timeout=_DEAD_AFTER / 2
            )
            self.last_seen[node_id] = time.monotonic()
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
        return bool(self.node.meta.status().get("ready")) and all(f.caught_up for f in self.followers.values())

    async def _watch_peers(self) -> None:
        while True:
            leader = self.node.meta.leader_address
            if leader != self._raft_leader:
                if self._raft_leader is not None:
                    self.raft_leader_changes += 1
                self._raft_leader = leader
            with self.node.meta.lock:
                others = [n.id for n in self.node.meta.machine.nodes() if n.id != self.node_id]
            if others:
                await asyncio.gather(*(self._ping(n) for n in others))
            await asyncio.sleep(_PING_EVERY)


def _bracketed(host: str) -> str:
    """``host`` as the host part of a gRPC address (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
