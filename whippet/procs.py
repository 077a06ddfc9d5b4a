"""Start and stop real ``whippet-node`` processes on loopback for tests.

Every process is started on free ports with its own data dir, waited for until
its TCP port accepts, and stopped by PID (SIGTERM, then SIGKILL after a bound).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["NodeProcess", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        args = [
            sys.executable, "-m", "whippet.node",
            "--data-dir", str(self.data_dir),
            "--tcp-port", str(self.tcp_port),
            "--http-port", str(self.http_port),
            "--quic-port", str(self.quic_port),
            "--ws-port", str(self.ws_port),
            "--with-default-root-credentials",
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
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
