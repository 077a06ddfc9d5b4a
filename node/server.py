"""One node: owns the metadata store, the partition logs, the sessions and the transports.

Start-up order matters: metadata first (it says which partitions exist), then the
root user (created once, as Iggy 0.8 does), then the logs, then the listeners, so
no client ever sees a half-started node. Shutdown runs the same list backwards and
syncs every log before the metadata store closes.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
from typing import Any

from whippet.metadata import commands as mc
from whippet.metadata.model import ClusterNode
from whippet.metadata.permissions import ROOT_PERMISSIONS
from whippet.metadata.raft import MetadataStore, MetadataUnavailable
from whippet.node import auth, encryption, identity
from whippet.node.clock import now_us
from whippet.node.config import ConfigError, NodeConfig
from whippet.node.dispatch import dispatch
from whippet.node.durability import Durability
from whippet.node.metrics import NodeMetrics
from whippet.node.partitions import PartitionRegistry
from whippet.node.retention import run_cleaner
from whippet.node.session import TRANSPORT_TCP, ClientRegistry, Session
from whippet.node.transports import tls
from whippet.node.transports.binary import serve_binary
from whippet.node.transports.limits import Limits
from whippet.node.v09.dedup import DedupingStore
from whippet.replication.cluster_tls import ClusterSecurity, ClusterSecurityError
from whippet.replication.controller import Controller
from whippet.replication.manager import ReplicaManager
from whippet.replication.metrics import ReplicationCollector
from whippet.storage.log import LogConfig
from whippet.wire.errors import IggyError, UserAlreadyExists

__all__ = ["Node"]

log = logging.getLogger(__name__)


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.node_id = config.node_id
        self.data_dir = config.data_path
        self.clients = ClientRegistry(config.node_id)
        self.metrics = NodeMetrics()
        self.limits = Limits(config, self.metrics.registry)
        try:
            self.security = ClusterSecurity(config, self.metrics.registry, members=bool(config.cluster_members()))
        except ClusterSecurityError as exc:
            raise ConfigError(str(exc)) from None
        self.started_at_us = now_us()
        self.meta: MetadataStore
        self.partitions = PartitionRegistry(
            self.data_dir / "partitions",
            LogConfig(
                segment_size=config.storage_segment_size,
                checksum=config.storage_checksum,
                dedup_window=config.dedup_max_entries if config.dedup_enabled else 0,
                dedup_ttl_us=config.dedup_ttl_ms * 1000,
            ),
        )
        self.durability = Durability(config.storage_fsync, config.storage_fsync_interval_ms, self._fatal)
        self.replicas = ReplicaManager(
            node_id=self.node_id, meta_source=lambda: self.meta, logs=self.partitions, durability=self.durability,
            security=self.security, replication_address=config.replication_address,
            forward_handler=self._run_forwarded,
        )
        self.controller = Controller(self.replicas)
        self.metrics.watch(self)
        self.balanced_counters: dict[tuple[int, int], int] = {}
        self.ports: dict[str, int] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._lock_fd: int | None = None
        self._stopped = asyncio.Event()
        self.fatal_error: BaseException | None = None
        self._cleaner: asyncio.Task[None] | None = None
        self._closers: list[Any] = []

    # --- lifecycle ---
    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        try:  # before anything in the directory is opened: is this data ours?
            identity.claim(self.data_dir, self.config.cluster_name, self.node_id)
        except BaseException:
            self._unlock_data_dir()
            raise
        meta_dir = self.data_dir / "metadata"
        meta_dir.mkdir(exist_ok=True)
        raft_address = self._raft_address()
        members = self.config.cluster_members()
        peers = [a for i, a in members.items() if i != self.node_id]
        if members and self.config.cluster_insecure:
            log.warning("cluster_insecure is set: replication, forwarding and pings between members travel as "
                        "plain gRPC that anyone on the network can read (docs/CONFIG.md, cluster_tls_*)")
        self.meta = await DedupingStore.start(
            self_address=raft_address,
            partners=peers,
            data_dir=meta_dir,
            # A node without members binds no Raft port; its secret never leaves the process.
            password=self.config.cluster_secret or (None if members else secrets.token_hex(16)),
            open_port=bool(members),
            bind_address=f"{self.config.cluster_bind_host}:{raft_address.rpartition(':')[2]}",
        )
        if members:
            await self.replicas.join_cluster(raft_address, peers)
        # Every placement event reconciles the partitions this node leads or follows; the
        # reconcile after subscribing covers whatever the state already held.
        self.meta.subscribe(self._on_event)
        replication_port = (
            int(self.config.replication_address(members[self.node_id]).rpartition(":")[2]) if members else None
        )
        self.metrics.registry.register(ReplicationCollector(self.replicas))
        await self.replicas.start(self.config.cluster_bind_host, replication_port)
        self.replicas.reconcile()
        self.controller.start()
        await self._ensure_root_user()
        await self._propose_at_start(mc.DropNodeMemberships(node_id=self.node_id))
        self.durability.start(self.partitions)
        encryption.check_at_start(self)
        self.limits.start()
        # Bind every listener first so the node registers its real ports, then serve.
        host = self.config.host
        tcp = await serve_binary(self, host, self.config.tcp_port, ssl=tls.context_for(self, "tcp"),
                                 start_serving=False)
        self._servers.append(tcp)
        self.ports["tcp"] = tcp.sockets[0].getsockname()[1]
        await self._start_extra_transports()
        await self._propose_at_start(mc.RegisterNode(node=self._cluster_node(raft_address)))
        for server in self._servers:
            await server.start_serving()
        if self.config.retention_cleaner_enabled:
            self._cleaner = asyncio.get_running_loop().create_task(run_cleaner(self))
        log.info("node %s ready: tcp %s:%s, data in %s", self.node_id, host, self.ports["tcp"], self.data_dir)

    async def _propose_at_start(self, cmd: mc.Command, timeout: float = 120.0) -> None:
        """Propose a start-up command, riding out metadata leader changes.

        Both start-up commands are idempotent, so a retry after an unknown outcome
        is safe; a node must not exit because the Raft leader moved while it started.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await self.meta.propose(cmd)
                return
            except MetadataUnavailable as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                log.info("start-up: %s not committed yet (%s); retrying", type(cmd).__name__, exc.reason)
                await asyncio.sleep(0.5)

    def _cluster_node(self, raft_address: str) -> ClusterNode:
        return ClusterNode(
            id=self.node_id,
            name=f"whippet-node-{self.node_id}",
            host=self.config.advertised_host or self.config.host,
            tcp_port=self.ports.get("tcp", 0),
            quic_port=self.ports.get("quic", 0),
            http_port=self.ports.get("http", 0),
            ws_port=self.ports.get("ws", 0),
            raft_address=raft_address,
        )

    async def _start_extra_transports(self) -> None:
        """HTTP, WebSocket and QUIC: each lives in ``node/transports/<name>.py`` and exposes
        ``async def start(node, host, port) -> (bound_port, async_closer)``."""
        import importlib
        import importlib.util

        cfg = self.config
        for name, enabled, port in (
            ("http", cfg.http_enabled, cfg.http_port),
            ("ws", cfg.ws_enabled, cfg.ws_port),
            ("quic", cfg.quic_enabled, cfg.quic_port),
        ):
            module_name = f"whippet.node.transports.{name}"
            if not enabled or importlib.util.find_spec(module_name) is None:
                continue
            module = importlib.import_module(module_name)
            self.ports[name], closer = await module.start(self, cfg.host, port)
            self._closers.append(closer)

    async def stop(self) -> None:
        """Hand partition leaderships to in-sync peers, then close everything in reverse order."""
        if self._cleaner is not None:
            self._cleaner.cancel()
        if self.config.cluster_members() and self.fatal_error is None:
            moved = await self.replicas.hand_over_all()
            if moved:
                log.info("handed over %d partition leaderships", moved)
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        for closer in reversed(self._closers):
            await closer()
        self._closers.clear()
        await self.limits.stop()
        await self.controller.stop()
        await self.replicas.stop()
        await self.durability.stop()
        self.partitions.sync_all()
        self.partitions.close_all()
        await self.meta.close()
        self._unlock_data_dir()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def _fatal(self, exc: BaseException) -> None:
        """A failed fsync: the node cannot promise durability any more, so it stops."""
        log.critical("fatal storage error, stopping: %s", exc)
        self.fatal_error = exc
        asyncio.get_running_loop().create_task(self.stop())

    def _lock_data_dir(self) -> None:
        fd = os.open(self.data_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SystemExit(f"data dir {self.data_dir} is in use by another node") from None
        self._lock_fd = fd

    def _unlock_data_dir(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _raft_address(self) -> str:
        """This node's Raft identity: configured, else the one chosen on first start.

        The address is stored in the metadata snapshots, so it must not change
        across restarts; a single node that was given no Raft port picks a free one
        once and keeps it in ``metadata/raft-address``.
        """
        members = self.config.cluster_members()
        if members:
            return members[self.node_id]
        host = self.config.cluster_bind_host
        if self.config.cluster_raft_port:
            return f"{host}:{self.config.cluster_raft_port}"
        remembered = self.data_dir / "metadata" / "raft-address"
        if remembered.exists():
            return remembered.read_text().strip()
        address = f"{host}:{_free_port(host)}"
        remembered.write_text(address + "\n")
        return address

    async def _ensure_root_user(self) -> None:
        with self.meta.lock:
            if self.meta.machine.users():
                return
        cfg = self.config
        username, password, printed = "iggy", "iggy", False
        if cfg.auth_root_username:
            username, password = cfg.auth_root_username, cfg.auth_root_password
        elif not cfg.auth_default_root_credentials:
            password, printed = auth.random_password(), True
        cmd = mc.CreateUser(
            username=username,
            password_hash=await auth.hash_password_async(password),
            status=1,
            permissions=ROOT_PERMISSIONS,
            created_at=now_us(),
        )
        try:
            await self._propose_at_start(cmd)
        except UserAlreadyExists:  # another node of the cluster created it first (or our retry)
            with self.meta.lock:
                users = [u for u in self.meta.machine.users() if u.username == username]
            if not users or users[0].password_hash != cmd.password_hash:
                return
        if printed:
            print(f"Root user created: username={username} password={password}", flush=True)

    # --- metadata events (on the loop, in apply order) ---
    def _on_event(self, event: Any) -> None:
        name = type(event).__name__
        try:
            if name in (
                "TopicCreated", "PartitionsCreated", "PartitionsPlaced", "PartitionLeaderChanged",
                "StateRestored", "NodeRegistered",
            ):
                self.replicas.reconcile()
            elif name == "PartitionsDeleted":
                self.replicas.reconcile()
                for pid in event.partition_ids:
                    self.partitions.remove_partition(event.stream_id, event.topic_id, pid)
            elif name == "TopicDeleted":
                self.replicas.reconcile()
                self.partitions.remove_topic(event.stream_id, event.topic_id)
                self.balanced_counters.pop((event.stream_id, event.topic_id), None)
            elif name == "StreamDeleted":
                self.replicas.reconcile()
                self.partitions.remove_stream(event.stream_id)
                for topic_id in event.topic_ids:
                    self.balanced_counters.pop((event.stream_id, topic_id), None)
            elif name in ("TopicPurged", "StreamPurged"):
                handles = (
                    self.partitions.of_topic(event.stream_id, event.topic_id)
                    if name == "TopicPurged"
                    else self.partitions.of_stream(event.stream_id)
                )
                self.partitions.purge(handles)
                for handle in handles:
                    self.replicas.purged(handle.key)
        except Exception:  # a failing reaction must not stop metadata delivery
            log.exception("applying metadata event %s failed", name)

    async def _run_forwarded(self, request: Any) -> bytes:
        """A client request another node forwarded here (``replication.service.Forward``)."""
        session = Session(
            client_id=request.client_id, address=f"node-{request.origin_node_id}", transport=TRANSPORT_TCP,
            user_id=request.user_id if request.has_user else None, node_id=request.origin_node_id,
            hops=request.hops,
        )
        reply = await dispatch(self, session, request.code, memoryview(request.payload))
        return bytes(reply) if isinstance(reply, (bytes, bytearray)) else b"".join(bytes(part) for part in reply)

    def session_closed(self, session: Session) -> None:
        self.clients.close(session)
        with self.meta.lock:
            member_of = self.meta.machine.memberships(self.node_id, session.client_id)
        if member_of:
            task = asyncio.get_running_loop().create_task(
                self.meta.propose(mc.DropClientMemberships(node_id=self.node_id, client_id=session.client_id))
            )
            task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        level = logging.INFO if isinstance(exc, IggyError) else logging.ERROR
        log.log(level, "background metadata change failed: %r", exc)


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
