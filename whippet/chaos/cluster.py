"""A chaos cluster: real node processes as their own users, behind the iptables chain.

Roles (metadata Raft leader, partition leaders, replicas) are read from the nodes
themselves, over each node's HTTP ``/metrics``: every node reports its own Raft role
and term and, for each partition it holds, whether it leads it, its log end and its
high watermark. The harness (root) is never cut off, so it can always ask.

Replica logs are read from the data dirs once the nodes are stopped, with
``whippet.storage``: each partition directory is copied first, so the recovery that
opening a log runs never touches what the node will open on its next start.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import re
import shutil
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from whippet.chaos.netfilter import Netfilter, ensure_users
from whippet.chaos.schedule import Roles
from whippet.procs import Cluster, NodeProcess
from whippet.storage.log import LogConfig, PartitionLog
from whippet.wire.batch import parse_polled
from whippet.wire.responses import PolledHead

__all__ = ["NODE_ENV", "ChaosCluster", "Metrics", "Record", "read_replica"]

#: As deploy/local's configs: replication factor 3, quorum acks, fsync always, dedup on.
NODE_ENV = {
    "WHIPPET_DEDUP_ENABLED": "true",
    "WHIPPET_STORAGE_FSYNC": "always",
    "WHIPPET_CLUSTER_ACK": "quorum",
    "WHIPPET_TOPIC_REPLICATION_FACTOR": "3",
    "WHIPPET_QUIC_ENABLED": "false",
    "WHIPPET_WS_ENABLED": "false",
}

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')

#: (offset, message id on the wire, payload) of one stored record.
Record = tuple[int, int, bytes]


@dataclass(frozen=True)
class Metrics:
    """One scrape: (name, sorted labels) -> value."""

    values: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    @classmethod
    def parse(cls, text: str) -> Metrics:
        values = {}
        for line in text.splitlines():
            m = _LINE.match(line)
            if m and not line.startswith("#"):
                labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
                try:
                    values[(m.group(1), labels)] = float(m.group(3))
                except ValueError:
                    continue
        return cls(values)

    def get(self, name: str, **labels: object) -> float | None:
        return self.values.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))))

    def partition(self, name: str, stream: int, topic: int, partition: int) -> float | None:
        return self.get(name, partition=partition, stream=stream, topic=topic)


class ChaosCluster:
    """``size`` nodes as users ``whippet-c<i>``, data under ``root`` (o+x on every ancestor)."""

    def __init__(self, root: Path, size: int) -> None:
        self.root = root
        users = ensure_users(range(1, size + 1))
        self.cluster = Cluster(root, size=size, replication_factor=3, extra_env=dict(NODE_ENV), users=users)
        ports = {i: [n.tcp_port, n.http_port, n.quic_port, n.ws_port, n.raft_port, n.raft_port + 1]
                 for i, n in self.cluster.nodes.items()}
        self.net = Netfilter.for_users(users, ports)
        #: Nodes the nemesis killed (or the harness stopped) on purpose: their exit is no crash.
        self.down: set[int] = set()
        self.paused: set[int] = set()
        self.stream_id = 0
        self.topic_id = 0
        atexit.register(self._at_exit)

    @property
    def nodes(self) -> dict[int, NodeProcess]:
        return self.cluster.nodes

    def addresses(self) -> list[str]:
        return [n.address for n in self.nodes.values()]

    def start(self, timeout: float = 180.0) -> None:
        self.net.install()
        self.cluster.start(timeout)
        self.cluster.wait_connected(timeout)

    # --- process control (blocking; the nemesis calls these in threads) ---
    def kill(self, node: int) -> None:
        self.down.add(node)
        self.resume(node)
        self.nodes[node].kill()

    def restart(self, node: int, timeout: float = 120.0) -> None:
        """Start a killed node again (same data dir, same user) and wait until it serves."""
        proc = self.nodes[node]
        if proc.proc is not None and proc.proc.poll() is None:
            self.down.discard(node)
            return
        proc.spawn()
        proc.wait_ready(timeout)  # still "down" until it serves: an exit while starting is the restart's to report
        self.down.discard(node)

    def pause(self, node: int) -> None:
        if node not in self.down:
            self.paused.add(node)
            self.nodes[node].pause()

    def resume(self, node: int) -> None:
        if node in self.paused:
            self.paused.discard(node)
            self.nodes[node].resume()

    def crashed(self) -> dict[int, int]:
        """Nodes that exited on their own: node id -> exit code."""
        out = {}
        for i, n in self.nodes.items():
            if i not in self.down and n.proc is not None and n.proc.poll() is not None:
                out[i] = n.proc.returncode
        return out

    def stop(self, timeout: float = 20.0) -> dict[int, int | None]:
        """SIGTERM every node, one after another, SIGKILL after ``timeout``: node id -> exit
        code (None: it had to be killed; recorded, not an anomaly of the checker)."""
        codes = {}
        for i, n in self.nodes.items():
            self.resume(i)
            self.down.add(i)
            codes[i] = n.stop(timeout)
        return codes

    def start_all(self, timeout: float = 180.0) -> dict[int, str]:
        """Whole-cluster restart after :meth:`stop` (members must start together).

        Returns the nodes that exited while starting (node id -> the error), which stay
        down; the others serve when this returns.
        """
        for n in self.nodes.values():
            n.spawn()
        failed = {}
        for i, n in self.nodes.items():
            try:
                n.wait_ready(timeout)
                self.down.discard(i)
            except RuntimeError as exc:
                failed[i] = str(exc)
        if not failed:
            with contextlib.suppress(RuntimeError):
                self.cluster.wait_connected(timeout)
        return failed

    def close(self) -> None:
        """Stop every node by PID and remove every rule; safe to call twice."""
        try:
            self.stop()
        finally:
            self.net.remove()
            atexit.unregister(self._at_exit)

    def _at_exit(self) -> None:
        """Last resort when the interpreter exits without :meth:`close` (a second SIGINT)."""
        for n in self.nodes.values():
            with contextlib.suppress(Exception):
                n.resume()
                n.kill()
        self.net.remove()

    # --- reading the nodes' own view ---
    def scrape(self, node: int, timeout: float = 3.0) -> Metrics | None:
        n = self.nodes[node]
        if node in self.down or node in self.paused or n.proc is None or n.proc.poll() is not None:
            return None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{n.http_port}/metrics", timeout=timeout) as r:
                return Metrics.parse(r.read().decode())
        except OSError:
            return None

    def views(self) -> dict[int, Metrics]:
        out = {}
        for i in self.nodes:
            m = self.scrape(i)
            if m is not None:
                out[i] = m
        return out

    def raft_leader(self, views: dict[int, Metrics]) -> int | None:
        leaders = [(m.get("whippet_raft_term") or 0.0, i) for i, m in views.items()
                   if m.get("whippet_raft_role", role="leader") == 1.0]
        return max(leaders)[1] if leaders else None

    def partition_view(self, views: dict[int, Metrics], partition: int) -> tuple[list[int], list[int]]:
        """(nodes that say they lead the partition, nodes that hold a replica of it)."""
        key = (self.stream_id, self.topic_id, partition)
        leaders = [i for i, m in views.items() if m.partition("whippet_partition_is_leader", *key) == 1.0]
        replicas = [i for i, m in views.items() if m.partition("whippet_partition_log_end_offset", *key) is not None]
        return leaders, replicas

    def leaders(self) -> dict[int, list[int]]:
        """Partition -> the nodes claiming to lead it (more than one during a split brain)."""
        views = self.views()
        return {p: self.partition_view(views, p)[0] for p in range(self._partitions(views))}

    def _partitions(self, views: dict[int, Metrics]) -> int:
        ids = {int(dict(labels)["partition"]) for m in views.values() for (name, labels) in m.values
               if name == "whippet_partition_log_end_offset"}
        return max(ids) + 1 if ids else 0

    def roles(self, partition: int, pick: int) -> Roles:
        views = self.views()
        nodes = tuple(sorted(self.nodes))
        raft = self.raft_leader(views)
        leaders, replicas = self.partition_view(views, partition)
        if raft is None:
            raft = nodes[pick % len(nodes)]
        leader = leaders[0] if len(leaders) == 1 else (
            raft if raft in leaders else (leaders[0] if leaders else (replicas[0] if replicas else nodes[0])))
        followers = tuple(r for r in sorted(replicas) if r != leader)
        return Roles(nodes=nodes, raft_leader=raft, leader=leader, followers=followers, pick=pick)

    def quiescent(self, partitions: int) -> tuple[bool, dict[str, object]]:
        """Every node up, one leader per partition, and every replica at the leader's end
        with the high watermark there too (nothing in flight, nothing behind)."""
        views = self.views()
        state: dict[str, object] = {"up": sorted(views)}
        if len(views) != len(self.nodes):
            return False, state
        ok = True
        for p in range(partitions):
            key = (self.stream_id, self.topic_id, p)
            leaders, replicas = self.partition_view(views, p)
            ends = {i: views[i].partition("whippet_partition_log_end_offset", *key) for i in replicas}
            hws = {i: views[i].partition("whippet_partition_high_watermark", *key) for i in replicas}
            state[f"p{p}"] = {"leaders": leaders, "ends": ends, "hw": hws}
            if len(leaders) != 1 or len(replicas) < 3:
                ok = False
                continue
            end = ends[leaders[0]]
            if any(e != end for e in ends.values()) or hws[leaders[0]] != end:
                ok = False
        return ok, state

    async def wait_quiescent(self, partitions: int, timeout: float) -> tuple[bool, float, dict[str, object]]:
        """Poll :meth:`quiescent` until it holds twice in a row; (reached, seconds, last state)."""
        start = time.monotonic()
        streak = 0
        state: dict[str, object] = {}
        while time.monotonic() - start < timeout:
            ok, state = await asyncio.to_thread(self.quiescent, partitions)
            streak = streak + 1 if ok else 0
            if streak >= 2:
                return True, time.monotonic() - start, state
            await asyncio.sleep(0.5)
        return False, time.monotonic() - start, state

    def replica_logs(self) -> dict[int, dict[int, list[Record]]]:
        """Node -> partition -> its stored records (nodes must be stopped)."""
        out: dict[int, dict[int, list[Record]]] = {}
        for i, n in self.nodes.items():
            base = n.data_dir / "partitions" / "streams" / str(self.stream_id) / "topics" / str(self.topic_id)
            base = base / "partitions"
            out[i] = {}
            if base.is_dir():
                for d in sorted(base.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1):
                    if d.name.isdigit():
                        out[i][int(d.name)] = read_replica(d)
        return out


def read_replica(directory: Path) -> list[Record]:
    """Every record of one partition replica, from a copy of its directory."""
    with tempfile.TemporaryDirectory(prefix="whippet-chaos-read-") as tmp:
        copy = Path(tmp) / "p"
        shutil.copytree(directory, copy)
        plog = PartitionLog.open(copy, LogConfig())
        try:
            out: list[Record] = []
            offset = plog.first_offset
            while offset < plog.next_offset:
                read = plog.read(offset, 10_000)
                if read.count == 0:
                    break
                head = PolledHead(partition_id=0, current_offset=0, count=read.count).encode()
                _, msgs = parse_polled(head + read.data)
                out += [(m.offset, m.id, m.payload) for m in msgs]
                offset = msgs[-1].offset + 1
            return out
        finally:
            plog.close()
