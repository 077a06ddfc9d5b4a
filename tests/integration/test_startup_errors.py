"""A busy port stops the node with one line naming the port and the setting, as a bad setting does."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from whippet.procs import free_port


def _start(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whippet.node", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("setting", ["tcp", "http", "ws"])
def test_a_busy_tcp_port_is_one_line(tmp_path: Path, setting: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = {name: str(free_port()) for name in ("tcp", "http", "ws", "quic")}
        ports[setting] = str(port)
        result = _start(tmp_path, *(arg for name, p in ports.items() for arg in (f"--{name}-port", p)))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        f"whippet-node: {setting}_port={port}: TCP port {port} on 127.0.0.1 is already in use "
        "(another whippet-node or program listens there; stop it or choose another port)"
    ]
    assert not (tmp_path / "data" / "metadata").exists()  # stopped before opening anything


def test_a_busy_quic_port_names_udp(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = _start(tmp_path, "--tcp-port", str(free_port()), "--http-port", str(free_port()),
                        "--ws-port", str(free_port()), "--quic-port", str(port))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"whippet-node: quic_port={port}: UDP port {port} on 127.0.0.1 is already in use "
        "(another whippet-node or program listens there; stop it or choose another port)"
    ]
