"""The servers a bench run measures, each started on loopback with its data on disk.

* whippet: ``python -m whippet.node`` with a chosen fsync policy;
* NATS JetStream: Debian's ``nats-server -js`` with a file store (streams are
  created R1, file storage, by the driver);
* Redis: Debian's ``redis-server`` with ``appendonly yes``, ``appendfsync everysec``.

Nothing is installed here: a missing binary makes :func:`available` false and the
run skips that system with a note (``make bench`` installs the Debian packages
when it runs as root). Every process is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from whippet.procs import free_port

__all__ = ["Server", "available", "free_port", "start", "start_cluster"]

_BINARIES = {"nats": "nats-server", "redis": "redis-server"}


def available(system: str) -> bool:
    binary = _BINARIES.get(system)
    return binary is None or shutil.which(binary) is not None


@dataclass
class Server:
    system: str
    label: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    others: tuple[subprocess.Popen[bytes], ...] = ()  # the other members of a cluster
    stop_hook: object = None  # a cluster helper with its own stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        if self.stop_hook is not None:
            self.stop_hook.stop()  # type: ignore[attr-defined]
        for proc in (self.proc, *self.others):
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not open port {port} in {timeout}s")


def start(system: str, root: Path, *, fsync: str = "interval", dedup: bool = False) -> Server:
    """Start ``system`` ("whippet", "nats", "redis") with its data under ``root``; ``dedup``
    turns whippet's deduplication on."""
    port = free_port()
    data = root / f"{system}-{fsync}{'-dedup' if dedup else ''}" if system == "whippet" else root / system
    data.mkdir(parents=True, exist_ok=True)
    if system == "whippet":
        cmd = [
            sys.executable, "-m", "whippet.node", "--data-dir", str(data), "--tcp-port", str(port),
            "--http-port", "0", "--quic-port", "0", "--ws-port", "0", "--fsync", fsync,
            "--with-default-root-credentials", "--log-level", "WARNING",
        ]
        label = f"whippet (fsync {fsync}{', ids + dedup' if dedup else ''})"
    elif system == "nats":
        cmd = ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(data)]
        label = "NATS JetStream (file, R1)"
    elif system == "redis":
        cmd = [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--appendonly", "yes",
            "--appendfsync", "everysec", "--save", "", "--protected-mode", "no",
        ]
        label = "Redis Streams (AOF everysec)"
    else:
        raise ValueError(f"unknown system {system!r}")
    log = root / f"{data.name}.log"
    env = {**os.environ, "WHIPPET_DEDUP_ENABLED": "true" if dedup else "false"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(system, label, port, proc)
    try:
        _wait_port(port, proc, log)
    except BaseException:
        server.stop()
        raise
    return server


def start_cluster(system: str, root: Path, size: int = 3) -> Server:
    """A ``size``-node cluster on loopback: whippet (RF ``size``, quorum acks, fsync interval) or
    NATS (JetStream with routes; the driver creates streams with ``size`` replicas)."""
    if system == "whippet":
        from whippet.procs import Cluster

        cluster = Cluster(root / "whippet-cluster", size=size, replication_factor=size,
                          extra_env={"WHIPPET_STORAGE_FSYNC": "interval", "WHIPPET_LOG_LEVEL": "WARNING"}).start()
        first = cluster[1]
        return Server("whippet", f"whippet {size}-node RF{size}", first.tcp_port, stop_hook=cluster)
    if system != "nats":
        raise ValueError(f"no cluster mode for {system!r}")
    client_ports = [free_port() for _ in range(size)]
    route_ports = [free_port() for _ in range(size)]
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in route_ports)
    procs = []
    for i in range(size):
        data = root / f"nats-cluster-{i}"
        data.mkdir(parents=True, exist_ok=True)
        cmd = ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(client_ports[i]), "-sd", str(data),
               "--server_name", f"n{i}", "--cluster_name", "bench", "--cluster", f"nats://127.0.0.1:{route_ports[i]}",
               "--routes", routes]
        with open(root / f"nats-cluster-{i}.log", "ab") as out:
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT))
    server = Server("nats", f"NATS JetStream {size}-node R{size}", client_ports[0], procs[0], others=tuple(procs[1:]))
    try:
        for port, proc in zip(client_ports, procs):
            _wait_port(port, proc, root / "nats-cluster-0.log")
        time.sleep(2.0)  # JetStream meta-leader election across the routes
    except BaseException:
        server.stop()
        raise
    return server
