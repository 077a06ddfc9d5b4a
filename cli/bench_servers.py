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

import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Server", "available", "free_port", "start"]

_BINARIES = {"nats": "nats-server", "redis": "redis-server"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


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


def start(system: str, root: Path, *, fsync: str = "interval") -> Server:
    """Start ``system`` ("whippet", "nats", "redis") with its data under ``root``."""
    port = free_port()
    data = root / f"{system}-{fsync}" if system == "whippet" else root / system
    data.mkdir(parents=True, exist_ok=True)
    if system == "whippet":
        cmd = [
            sys.executable, "-m", "whippet.node", "--data-dir", str(data), "--tcp-port", str(port),
            "--http-port", "0", "--quic-port", "0", "--ws-port", "0", "--fsync", fsync,
            "--with-default-root-credentials", "--log-level", "WARNING",
        ]
        label = f"whippet (fsync {fsync})"
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
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    server = Server(system, label, port, proc)
    try:
        _wait_port(port, proc, log)
    except BaseException:
        server.stop()
        raise
    return server
