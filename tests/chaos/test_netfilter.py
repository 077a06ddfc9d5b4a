"""The partition technique on real sockets: two processes running as two node users, a
TCP connection opened by each towards the other, then a cut link. Both directions die
(open and new connections) while both processes keep running, the harness (root) still
reaches both, healing restores the open connections, and nothing of the chain remains."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from whippet.chaos import netfilter
from whippet.procs import _traversable_by_others, free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (iptables, useradd)")

# One process per user: an echo server on its own port, and a peer holding one connection
# to the other user's server. On stdin: "send" (echo on the open connection) or "new" (a
# fresh connection); it answers "ok" or "timeout" per line.
_PEER = r"""
import socket, sys, threading, time
listen, target = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen)); srv.listen()
def serve(c):
    while True:
        d = c.recv(100)
        if not d: return
        c.sendall(d)
threading.Thread(target=lambda: [threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
                                 for _ in iter(int, 1)], daemon=True).start()
print("listening", flush=True)
sys.stdin.readline()  # "connect": the other side listens now
conn = socket.create_connection(("127.0.0.1", target), timeout=5)
print("connected", flush=True)
pending = 0
for line in sys.stdin:
    cmd, wait = line.split()
    try:
        if cmd == "send":
            conn.settimeout(float(wait)); conn.sendall(b"x"); pending += 1
            got = 0
            while got < pending:
                got += len(conn.recv(100))
            pending = 0
        else:
            with socket.create_connection(("127.0.0.1", target), timeout=float(wait)) as c:
                c.settimeout(float(wait)); c.sendall(b"y"); assert c.recv(1) == b"y"
        print("ok", flush=True)
    except (OSError, AssertionError):
        print("timeout", flush=True)
"""


def _python() -> list[str]:
    if _traversable_by_others(sys.executable):
        return [sys.executable]
    return [f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}", "-I", "-S"]


class Peer:
    def __init__(self, user: str, listen: int, target: int) -> None:
        self.proc = subprocess.Popen([*_python(), "-c", _PEER, str(listen), str(target)], user=user, group=user,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.readline() == "listening"

    def readline(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def ask(self, cmd: str, wait: float = 1.5) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{cmd} {wait}\n")
        self.proc.stdin.flush()
        return self.readline()


@pytest.fixture
def peers() -> Iterator[tuple[netfilter.Netfilter, Peer, Peer]]:
    users = netfilter.ensure_users([1, 2])
    p1, p2 = free_port(), free_port()
    net = netfilter.Netfilter.for_users(users, {1: [p1], 2: [p2]})
    net.install()
    started: list[Peer] = []
    try:
        a, b = Peer(users[1], p1, p2), Peer(users[2], p2, p1)
        started += [a, b]
        for peer in (a, b):
            assert peer.proc.stdin is not None
            peer.proc.stdin.write("connect\n")
            peer.proc.stdin.flush()
        assert a.readline() == "connected" and b.readline() == "connected"
        yield net, a, b
    finally:
        for peer in started:
            peer.proc.kill()
            peer.proc.wait(10)
        net.remove()


def _root_reaches(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
        c.sendall(b"r")
        return c.recv(1) == b"r"


def test_cut_link_drops_both_directions_and_heals(peers) -> None:
    net, a, b = peers
    assert [a.ask("send"), b.ask("send"), a.ask("new"), b.ask("new")] == ["ok"] * 4
    net.cut_links([(1, 2)])
    assert [a.ask("send"), b.ask("send"), a.ask("new"), b.ask("new")] == ["timeout"] * 4
    assert a.proc.poll() is None and b.proc.poll() is None, "both processes keep running"
    assert _root_reaches(min(net.ports[1])) and _root_reaches(min(net.ports[2])), "the harness is not cut"
    net.heal()
    # The bytes sent during the cut are retransmitted; TCP backs off, so allow a while.
    assert a.ask("send", wait=20) == "ok" and b.ask("send", wait=20) == "ok"
    assert a.ask("new") == "ok" and b.ask("new") == "ok"


def test_nothing_of_the_chain_remains() -> None:
    users = netfilter.ensure_users([1, 2])
    net = netfilter.Netfilter.for_users(users, {1: [free_port()], 2: [free_port()]})
    net.install()
    net.cut_links([(1, 2)])
    assert any("DROP" in r for r in netfilter.chain_rules())
    net.remove()
    assert netfilter.chain_rules() == []
    net.install()  # and the explicit command cleans up a chain left behind (e.g. after SIGKILL)
    net.cut_links([(1, 2)])
    done = subprocess.run([sys.executable, "-m", "whippet.chaos", "cleanup"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert netfilter.chain_rules() == []
    net.remove()


def test_last_resort_cleanup_spares_a_chain_in_use() -> None:
    users = netfilter.ensure_users([1, 2])
    net = netfilter.Netfilter.for_users(users, {1: [free_port()], 2: [free_port()]})
    net.install()  # holds the machine-wide lock, as a running trial does
    try:
        held = subprocess.run([sys.executable, "-c", "from whippet.chaos import netfilter as n; "
                               "print(n.cleanup_if_idle())"], capture_output=True, text=True, timeout=60)
        assert held.stdout.strip() == "False" and netfilter.chain_rules() != []
    finally:
        net.remove()
    assert netfilter.cleanup_if_idle() is True and netfilter.chain_rules() == []
