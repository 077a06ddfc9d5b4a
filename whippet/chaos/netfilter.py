"""Real network partitions between node processes on loopback, with iptables.

Every node of a chaos cluster runs as its own Unix user (``whippet-c1`` ...), so
the kernel knows which node owns each packet. All rules live in one chain,
``WHIPPET-CHAOS``, jumped to from ``OUTPUT`` (loopback packets pass OUTPUT once,
owned by the sending socket):

* ``-m conntrack --ctstate NEW -m owner --uid-owner U -j CONNMARK --set-mark M``:
  every connection carries the mark of the node that opened it;
* cutting the link A<->B adds four DROP rules: A's packets on connections B
  opened (``--uid-owner A -m connmark --mark M_B``) and the reverse, plus A's
  packets to any port of B (its own connections to B, new or open) and the
  reverse. Both directions are cut while both processes keep running; deleting the
  rules heals the link and open TCP connections resume.

The harness's own connections (root, unmarked) are never touched: clients still
reach every node, as in Jepsen. Only IPv4 TCP is cut (nodes talk over 127.0.0.1).

One chaos run holds the machine at a time (``flock`` on :data:`LOCK_PATH`): two
runs would share the node users and cut each other's clusters. :func:`cleanup`
removes the chain whatever state it is in; ``python -m whippet.chaos cleanup``
calls it.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CHAIN",
    "LOCK_PATH",
    "Netfilter",
    "NetfilterError",
    "chain_rules",
    "cleanup",
    "cleanup_if_idle",
    "ensure_iptables",
    "ensure_users",
    "node_user",
]

CHAIN = "WHIPPET-CHAOS"
LOCK_PATH = Path("/run/lock/whippet-chaos.lock")
_MARK_BASE = 0x57C0_0000  # connmark of node i: base | i (a value no other tool here uses)


class NetfilterError(RuntimeError):
    """An iptables or useradd command failed; the message has its stderr."""


def node_user(node_id: int) -> str:
    return f"whippet-c{node_id}"


def _run(args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise NetfilterError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def ensure_users(node_ids: Iterable[int]) -> dict[int, str]:
    """Create the system user of each node when missing (idempotent); node id -> user name."""
    users: dict[int, str] = {}
    for i in node_ids:
        name = node_user(i)
        try:
            pwd.getpwnam(name)
        except KeyError:
            done = _run(["useradd", "--system", "--user-group", "--no-create-home",
                         "--shell", "/usr/sbin/nologin", name], check=False)
            if done.returncode not in (0, 9):  # 9: created meanwhile by another process
                raise NetfilterError(f"useradd {name}: {done.stderr.strip()}") from None
        users[i] = name
    return users


def ensure_iptables() -> str:
    """The iptables binary, installed from Debian's package when missing (we run as root)."""
    found = shutil.which("iptables")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-qq", "iptables"], ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "iptables"]):
        subprocess.run(cmd, capture_output=True, env=env, timeout=600)
        found = shutil.which("iptables")
        if found:
            return found
    raise NetfilterError("iptables is missing and apt-get could not install it")


def chain_rules() -> list[str]:
    """Every rule that mentions our chain (``iptables -S``), for cleanup checks."""
    out = _run(["iptables", "-w", "-S"], check=False).stdout
    return [line for line in out.splitlines() if CHAIN in line]


def cleanup() -> None:
    """Remove the jump from OUTPUT and the chain itself, whatever is left of them."""
    while _run(["iptables", "-w", "-D", "OUTPUT", "-j", CHAIN], check=False).returncode == 0:
        pass
    _run(["iptables", "-w", "-F", CHAIN], check=False)
    _run(["iptables", "-w", "-X", CHAIN], check=False)
    left = chain_rules()
    if left:
        raise NetfilterError(f"could not remove {CHAIN}: {left}")


def cleanup_if_idle() -> bool:
    """:func:`cleanup` unless another chaos run holds the lock (its chain is in use);
    True if it cleaned up."""
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        cleanup()
        return True
    finally:
        os.close(fd)


@dataclass
class Netfilter:
    """The chain of one chaos cluster: nodes' uids and ports, and the links cut now.

    ``ports`` maps a node id to every TCP port it listens on (client, HTTP, Raft,
    replication): a node's packets to one of them are its own connections to that node.
    """

    uids: Mapping[int, int]
    ports: Mapping[int, Iterable[int]]
    lock_timeout: float = 900.0
    cut: set[frozenset[int]] = field(default_factory=set)
    _lock_fd: int | None = None

    @classmethod
    def for_users(cls, users: Mapping[int, str], ports: Mapping[int, Iterable[int]]) -> Netfilter:
        return cls({i: pwd.getpwnam(u).pw_uid for i, u in users.items()}, ports)

    def install(self) -> None:
        """Take the machine-wide lock, then create the chain with its marking rules.

        Must run before the nodes start: a connection opened before its marking rule
        carries no mark and could not be cut.
        """
        ensure_iptables()
        self._lock()
        try:
            cleanup()  # a previous run killed with SIGKILL may have left its chain
            _run(["iptables", "-w", "-N", CHAIN])
            _run(["iptables", "-w", "-I", "OUTPUT", "1", "-j", CHAIN])
            for node, uid in sorted(self.uids.items()):
                _run(["iptables", "-w", "-A", CHAIN, "-m", "conntrack", "--ctstate", "NEW", "-m", "owner",
                      "--uid-owner", str(uid), "-j", "CONNMARK", "--set-mark", hex(_MARK_BASE | node)])
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        """Delete every rule and the chain, then release the lock (safe to call twice)."""
        try:
            cleanup()
            self.cut.clear()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _lock(self) -> None:
        LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(LOCK_PATH, os.O_CREAT | os.O_RDWR, 0o600)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise NetfilterError(f"another chaos run holds {LOCK_PATH}") from None
                time.sleep(0.5)

    def _link_rules(self, a: int, b: int) -> list[list[str]]:
        rules = []
        for x, y in ((a, b), (b, a)):
            ux = str(self.uids[x])
            rules.append(["-m", "owner", "--uid-owner", ux, "-m", "connmark", "--mark", hex(_MARK_BASE | y),
                          "-j", "DROP"])
            ports = ",".join(str(p) for p in sorted(set(self.ports[y])))
            rules.append(["-p", "tcp", "-m", "owner", "--uid-owner", ux, "-m", "multiport", "--dports", ports,
                          "-j", "DROP"])
        return rules

    def cut_links(self, links: Iterable[tuple[int, int]]) -> None:
        for a, b in links:
            key = frozenset((a, b))
            if a == b or key in self.cut:
                continue
            for rule in self._link_rules(a, b):
                _run(["iptables", "-w", "-A", CHAIN, *rule])
            self.cut.add(key)

    def heal(self) -> None:
        """Reconnect every cut link (the marking rules stay)."""
        for key in list(self.cut):
            a, b = sorted(key)
            for rule in self._link_rules(a, b):
                _run(["iptables", "-w", "-D", CHAIN, *rule], check=False)
            self.cut.discard(key)
