"""Start and stop real ``whippet-node`` processes on loopback (tests and bench tools).

Every process is started on free ports with its own data dir, waited for until
its TCP port accepts, and stopped by PID (SIGTERM, then SIGKILL after a bound).
A :class:`Cluster` is N such processes sharing a member list, a secret and a
cluster CA (each member gets its own certificate, as ``make certs`` makes them).
"""

from __future__ import annotations

import os
import pwd
import random
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["NodeProcess", "Cluster", "free_port", "free_port_pair"]


_handed_out: set[int] = set()


def _port_window() -> range:
    """Ports just below the kernel's ephemeral range.

    A port the kernel picks for ``bind(0)`` lies inside the ephemeral range, so
    between our probe and the node's own bind any outgoing connection (a peer
    dialling a member that is not up yet) may take it: a CI run lost a Raft port
    that way. Ports below the range are never chosen by ``connect``.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(max(1024, low - 12000), low)


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):  # TCP listeners and QUIC's UDP
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port() -> int:
    """A loopback port free for TCP and UDP, outside the ephemeral range, and not
    handed out before by this process (so ports given to nodes not yet bound stay theirs)."""
    window = _port_window()
    if len(window) < 100:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    start = random.randrange(len(window))
    for i in range(len(window)):
        port = window[(start + i) % len(window)]
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError("no free loopback port")


@dataclass
class NodeProcess:
    data_dir: Path
    tcp_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    quic_port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    raft_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    #: Run the node as this Unix user (and its primary group); None = as the caller. The chaos
    #: suite gives every node its own user so iptables can tell their packets apart.
    user: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.tcp_port}"

    def start(self, timeout: float = 30.0) -> NodeProcess:
        self.spawn()
        return self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start the process without waiting (cluster members must start together)."""
        env = dict(os.environ)
        env.update(
            {
                "WHIPPET_CLUSTER_RAFT_PORT": str(self.raft_port),
                "WHIPPET_LOG_LEVEL": env.get("WHIPPET_LOG_LEVEL", "INFO"),
            }
        )
        env.update(self.extra_env)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        log = open(self.log_path, "ab")
        ids: dict[str, int] = {}
        python = [sys.executable, "-m", "whippet.node"]
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            ids = {"user": entry.pw_uid, "group": entry.pw_gid}
            _chown_tree(self.data_dir, entry.pw_uid, entry.pw_gid)
            env["HOME"] = str(self.data_dir)
            python = _python_for_others()
        args = [
            *python,
            "--data-dir", str(self.data_dir),
            "--tcp-port", str(self.tcp_port),
            "--http-port", str(self.http_port),
            "--quic-port", str(self.quic_port),
            "--ws-port", str(self.ws_port),
            "--with-default-root-credentials",
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, **ids)  # type: ignore[call-overload]
        log.close()

    def wait_ready(self, timeout: float = 30.0) -> NodeProcess:
        """Wait until the node serves its TCP port (it binds only once it is ready)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"node did not open its TCP port within {timeout}s:\n{self.read_log()}")

    def read_log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-8000:]

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def pause(self) -> None:
        """SIGSTOP: the process is alive but answers nothing (a partition, seen from outside)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """kill -9, as a crash does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give a node's data dir to its user (the caller may have created it, or a trial copied it)."""
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def _traversable_by_others(path: str) -> bool:
    """Whether a user other than the owner may reach ``path`` (every ancestor has o+x)."""
    p = Path(path).resolve()
    return all(os.stat(d).st_mode & 0o001 for d in [*reversed(p.parents)]) and bool(os.stat(p).st_mode & 0o005)


def _python_for_others() -> list[str]:
    """The command that runs ``python -m whippet.node`` as another user.

    Our own interpreter when that user can reach it. A pyenv interpreter under a private
    ``/root`` is not reachable: then the system interpreter of the same minor version runs
    isolated (``-I -S``: no user site, no distribution packages) with our environment's
    site-packages added, so the node imports exactly the packages (C extensions are ABI
    ``cp3XX``, valid across patch releases) and the code of the caller.
    """
    if _traversable_by_others(sys.executable):
        return [sys.executable, "-m", "whippet.node"]
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not (os.path.exists(system) and _traversable_by_others(system)):
        raise RuntimeError(f"no interpreter another user can run: {sys.executable} is private and {system} is missing")
    site = sysconfig.get_paths()["purelib"]
    boot = (
        f"import runpy, site; site.addsitedir({site!r}); "
        "runpy.run_module('whippet.node', run_name='__main__', alter_sys=True)"
    )
    return [system, "-I", "-S", "-c", boot]


def free_port_pair() -> int:
    """A port p with p+1 free too (Raft on p, replication gRPC on p+1)."""
    for _ in range(200):
        p = free_port()
        if p + 1 in _port_window() and p + 1 not in _handed_out and _bindable(p + 1):
            _handed_out.add(p + 1)
            return p
    raise RuntimeError("no free port pair")


@dataclass
class Cluster:
    root: Path
    size: int = 3
    replication_factor: int = 3
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: dict[int, NodeProcess] = field(default_factory=dict)
    #: Node id -> the Unix user that node runs as (see ``NodeProcess.user``); empty = the caller.
    users: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        raft = {i: free_port_pair() for i in range(1, self.size + 1)}
        members = ",".join(f"{i}@127.0.0.1:{port}" for i, port in raft.items())
        for i in raft:
            env = {
                "WHIPPET_NODE_ID": str(i),
                "WHIPPET_CLUSTER_NODES": members,
                "WHIPPET_CLUSTER_SECRET": "test-cluster-secret",
                "WHIPPET_TOPIC_REPLICATION_FACTOR": str(self.replication_factor),
                **self._member_certificate(i),
                **self.extra_env,
            }
            self.nodes[i] = NodeProcess(
                data_dir=self.root / f"node-{i}", raft_port=raft[i], extra_env=env, user=self.users.get(i)
            )

    def add_node(self, node_id: int, timeout: float = 60.0) -> NodeProcess:
        """Scale out: start one more node whose member list includes itself; the running
        members keep their old list and admit it into the metadata group when it asks."""
        raft = free_port_pair()
        members = self.nodes[next(iter(self.nodes))].extra_env["WHIPPET_CLUSTER_NODES"]
        members = f"{members},{node_id}@127.0.0.1:{raft}"
        env = {**self.nodes[next(iter(self.nodes))].extra_env, "WHIPPET_NODE_ID": str(node_id),
               "WHIPPET_CLUSTER_NODES": members, **self._member_certificate(node_id)}
        node = NodeProcess(data_dir=self.root / f"node-{node_id}", raft_port=raft, extra_env=env)
        self.nodes[node_id] = node
        return node.start(timeout)

    def _member_certificate(self, node_id: int) -> dict[str, str]:
        """The cluster_tls_* settings of member ``node_id``, unless ``extra_env`` runs the cluster
        without TLS. Certificates come from ``whippet.node.certs`` run as a command (as ``make
        certs`` does), from one cluster CA in ``root/certs``: ids 1..``node_id`` (re)issued."""
        if self.extra_env.get("WHIPPET_CLUSTER_INSECURE", "").lower() in ("1", "true", "yes", "on"):
            return {}
        certs = self.root / "certs"
        cluster = self.extra_env.get("WHIPPET_CLUSTER_NAME", "whippet")
        if not (certs / "cluster" / f"node-{node_id}.pem").exists():
            subprocess.run([sys.executable, "-m", "whippet.node.certs", "--out", str(certs), "--cluster", cluster,
                            "--nodes", str(max(node_id, self.size))], check=True, capture_output=True, timeout=60)
        key = certs / "cluster" / f"node-{node_id}.key"
        user = self.users.get(node_id)
        if user is not None:  # the key is 0600: the node's own Unix user must own it
            entry = pwd.getpwnam(user)
            os.chown(key, entry.pw_uid, entry.pw_gid)
        return {
            "WHIPPET_CLUSTER_TLS_CA_FILE": str(certs / "cluster" / "ca.pem"),
            "WHIPPET_CLUSTER_TLS_CERT_FILE": str(certs / "cluster" / f"node-{node_id}.pem"),
            "WHIPPET_CLUSTER_TLS_KEY_FILE": str(key),
        }

    def start(self, timeout: float = 60.0) -> Cluster:
        for n in self.nodes.values():
            n.spawn()
        for n in self.nodes.values():
            n.wait_ready(timeout)
        return self

    def wait_connected(self, timeout: float = 15.0) -> Cluster:
        """Wait until every running node reports every other member up (``whippet_peer_up``).

        A node counts a peer it has never heard from as still starting, not dead (a
        start-up grace), so a crash measured right after start would measure that grace.
        """
        deadline = time.monotonic() + timeout
        running = {i: n for i, n in self.nodes.items() if n in self.alive()}
        while time.monotonic() < deadline:
            if all({f'whippet_peer_up{{peer="{p}"}} 1.0' for p in running if p != i} <= _peers_up(n)
                   for i, n in running.items()):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"cluster members did not all see each other within {timeout}s")
    def stop(self) -> None:
        for n in self.nodes.values():
            n.resume()
            n.stop()

    def __getitem__(self, node_id: int) -> NodeProcess:
        return self.nodes[node_id]

    def alive(self) -> list[NodeProcess]:
        return [n for n in self.nodes.values() if n.proc is not None and n.proc.poll() is None]


def _peers_up(node: NodeProcess) -> set[str]:
    """The ``whippet_peer_up ... 1.0`` lines of a node's /metrics (empty if unreachable)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return set()
    return {line for line in text.splitlines() if line.startswith("whippet_peer_up{") and line.endswith(" 1.0")}
