"""Ping, stats, clients, cluster metadata, snapshot (1, 10-12, 20-22)."""

from __future__ import annotations

import io
import json
import os
import platform
import resource
import shutil
import socket
import threading
import zipfile
from typing import TYPE_CHECKING

from whippet import SERVER_VERSION
from whippet.metadata.permissions import can_read_servers
from whippet.node.clock import now_us
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import permissions, require
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import InvalidClientId
from whippet.wire.responses import (
    ClientDetails,
    ClientInfo,
    ClusterMetadata,
    ClusterNode,
    Stats,
    encode_many,
)

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session

_NOT_LOGGED_IN = 0xFFFFFFFF


@handler(codes.PING)
async def ping(node: Node, session: Session, req: rq.Ping) -> Reply:
    return b""


def _client_details(node: Node, s: Session) -> ClientDetails:
    groups = node.meta.machine.memberships(s.node_id, s.client_id)
    info = ClientInfo(
        client_id=s.client_id,
        user_id=_NOT_LOGGED_IN if s.user_id is None else s.user_id,
        transport=s.transport,
        address=s.address,
        consumer_groups_count=len(groups),
    )
    return ClientDetails(client=info, consumer_groups=list(groups))


@handler(codes.GET_ME)
async def get_me(node: Node, session: Session, req: rq.GetMe) -> Reply:
    with node.meta.lock:
        return _client_details(node, session).encode()


@handler(codes.GET_CLIENT)
async def get_client(node: Node, session: Session, req: rq.GetClient) -> Reply:
    if req.client_id == 0:
        raise InvalidClientId()
    with node.meta.lock:
        require(can_read_servers(permissions(node, session)))
        other = node.clients.get(req.client_id)
        if other is None:
            return b""
        return _client_details(node, other).encode()


@handler(codes.GET_CLIENTS)
async def get_clients(node: Node, session: Session, req: rq.GetClients) -> Reply:
    with node.meta.lock:
        require(can_read_servers(permissions(node, session)))
        return encode_many(_client_details(node, s).client for s in node.clients.all())


def _memory() -> tuple[int, int, int]:
    """(this process's RSS, total, available) in bytes, from /proc where it exists."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    total = avail = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                name, value = line.split(":", 1)
                if name == "MemTotal":
                    total = int(value.split()[0]) * 1024
                elif name == "MemAvailable":
                    avail = int(value.split()[0]) * 1024
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pass
    return rss, total, avail


@handler(codes.GET_STATS)
async def get_stats(node: Node, session: Session, req: rq.GetStats) -> Reply:
    with node.meta.lock:
        require(can_read_servers(permissions(node, session)))
        streams = node.meta.machine.streams()
        topics = [t for s in streams for t in s.topics.values()]
        groups = sum(len(t.consumer_groups) for t in topics)
        partitions = sum(len(t.partitions) for t in topics)
    handles = node.partitions.handles()
    rss, total, avail = _memory()
    disk = shutil.disk_usage(node.data_dir)
    now = now_us()
    uname = platform.uname()
    major, minor, patch = (int(x) for x in SERVER_VERSION.split("."))
    stats = Stats(
        process_id=os.getpid(),
        cpu_usage=0.0,
        total_cpu_usage=0.0,
        memory_usage=rss,
        total_memory=total,
        available_memory=avail,
        run_time=now - node.started_at_us,
        start_time=node.started_at_us,
        read_bytes=int(node.metrics.bytes_out._value.get()),
        written_bytes=int(node.metrics.bytes_in._value.get()),
        messages_size_bytes=sum(h.log.size_bytes for h in handles),
        streams_count=len(streams),
        topics_count=len(topics),
        partitions_count=partitions,
        segments_count=sum(h.log.segments_count for h in handles),
        messages_count=sum(h.log.messages_count for h in handles),
        clients_count=len(node.clients),
        consumer_groups_count=groups,
        hostname=socket.gethostname(),
        os_name=uname.system,
        os_version=uname.version,
        kernel_version=uname.release,
        iggy_server_version=SERVER_VERSION,
        iggy_server_semver=major * 1_000_000 + minor * 1000 + patch,
        cache_metrics=[],
        threads_count=threading.active_count(),
        free_disk_space=disk.free,
        total_disk_space=disk.total,
    )
    return stats.encode()


_HEALTHY, _UNREACHABLE = 0, 3
_LEADER, _FOLLOWER = 0, 1


@handler(codes.GET_CLUSTER_METADATA)
async def get_cluster_metadata(node: Node, session: Session, req: rq.GetClusterMetadata) -> Reply:
    """Every registered node, with the metadata Raft leader as ``leader``.

    A 0.8 SDK connected to another node redirects itself to that leader, as it does
    on a real Iggy cluster; a one-node cluster answers like a 0.8 server without
    clustering ("single-node", one healthy leader), so the SDK never redirects.
    """
    with node.meta.lock:
        members = node.meta.machine.nodes()
    raft_leader = node.meta.leader_address
    nodes = [
        ClusterNode(
            name=m.name,
            ip=m.host,
            tcp_port=m.tcp_port,
            quic_port=m.quic_port,
            http_port=m.http_port,
            websocket_port=m.ws_port,
            role=_LEADER if (m.raft_address == raft_leader or len(members) == 1) else _FOLLOWER,
            status=_HEALTHY if node.replicas.alive(m.id) else _UNREACHABLE,
        )
        for m in sorted(members, key=lambda m: m.id)
    ]
    name = "single-node" if len(nodes) == 1 else node.config.cluster_name
    return ClusterMetadata(name=name, nodes=nodes).encode()


@handler(codes.GET_SNAPSHOT_FILE)
async def get_snapshot_file(node: Node, session: Session, req: rq.GetSnapshotFile) -> Reply:
    """A ZIP of diagnostics (config, raft status, partition summary) for support tickets."""
    with node.meta.lock:
        require(can_read_servers(permissions(node, session)))
        raft = node.meta.status()
    buf = io.BytesIO()
    compression = zipfile.ZIP_STORED if req.compression == 1 else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buf, "w", compression) as zf:
        zf.writestr("config.json", json.dumps(_public_config(node), indent=2, default=str))
        zf.writestr("raft.json", json.dumps(raft, indent=2, default=str))
        parts = [
            {"key": list(h.key), "next_offset": h.log.next_offset, "segments": h.log.segments_count,
             "size_bytes": h.log.size_bytes}
            for h in node.partitions.handles()
        ]
        zf.writestr("partitions.json", json.dumps(parts, indent=2))
    return buf.getvalue()


def _public_config(node: Node) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(node.config)
    for secret in ("auth_root_password", "cluster_secret"):
        data[secret] = "***" if data.get(secret) else ""
    return data
