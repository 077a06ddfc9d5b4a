"""A real cluster of node processes on loopback: free ports, one data dir each, shared secret."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.nodeproc import NodeProcess, free_port

__all__ = ["Cluster", "free_port_pair"]


def free_port_pair() -> int:
    """A port p with p+1 free too (Raft on p, replication gRPC on p+1)."""
    for _ in range(200):
        p = free_port()
        if p >= 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    raise RuntimeError("no free port pair")


@dataclass
class Cluster:
    root: Path
    size: int = 3
    replication_factor: int = 3
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: dict[int, NodeProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        raft = {i: free_port_pair() for i in range(1, self.size + 1)}
        members = ",".join(f"{i}@127.0.0.1:{port}" for i, port in raft.items())
        for i in raft:
            env = {
                "WHIPPET_NODE_ID": str(i),
                "WHIPPET_CLUSTER_NODES": members,
                "WHIPPET_CLUSTER_SECRET": "test-cluster-secret",
                "WHIPPET_TOPIC_REPLICATION_FACTOR": str(self.replication_factor),
                "WHIPPET_DEDUP_ENABLED": "true",
                **self.extra_env,
            }
            self.nodes[i] = NodeProcess(data_dir=self.root / f"node-{i}", raft_port=raft[i], extra_env=env)

    def start(self, timeout: float = 60.0) -> Cluster:
        for n in self.nodes.values():
            n.spawn()
        for n in self.nodes.values():
            n.wait_ready(timeout)
        return self

    def stop(self) -> None:
        for n in self.nodes.values():
            n.resume()
            n.stop()

    def __getitem__(self, node_id: int) -> NodeProcess:
        return self.nodes[node_id]

    def alive(self) -> list[NodeProcess]:
        return [n for n in self.nodes.values() if n.proc is not None and n.proc.poll() is None]
