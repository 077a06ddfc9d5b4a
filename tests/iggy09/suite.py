"""Run the official apache-iggy 0.9.0 SDK test suite against whippet (``make test-iggy09``).

The suite is ``foreign/python/tests`` of the release sdist kept in
``shared/vendor/`` (never copied into this repository: it is unpacked into a
temporary directory at each run). Its tests talk to 127.0.0.1 on Iggy's default
ports (TCP 8090, QUIC 8080, HTTP 3000, WebSocket 8092) and some hard-code them,
so the node must listen exactly there. To run on a shared machine without
taking those ports from anyone, the runner re-executes itself in a new network
namespace (``unshare``, loopback only) when it can; elsewhere it uses the host's
ports and fails early if they are taken.

Modes: ``single`` (one node) and ``cluster`` (a 3-node ``whippet.procs.Cluster``
whose metadata *follower* holds the default ports, so the SDK starts on a
follower and follows the cluster metadata from there).

``test_tls.py`` needs Docker and is left out, as the issue allows. The one test
that restarts "the server binary" (``test_producer.py``) finds it at the
sdist's ``target/debug/iggy-server``; the runner puts a launcher there that
maps Iggy's environment (``IGGY_PATH``, ``IGGY_TCP_ADDRESS``) onto a whippet
node and writes ``runtime/current_config.toml`` as iggy-server does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = Path(os.environ.get("IGGY09_SDIST", ROOT.parent / "shared" / "vendor" / "apache_iggy-0.9.0.tar.gz"))
VENDOR_FALLBACKS = (ROOT.parent.parent / "shared" / "vendor" / "apache_iggy-0.9.0.tar.gz",
                    Path("/work/shared/vendor/apache_iggy-0.9.0.tar.gz"))
SDK_PYTHON = ROOT / ".venv-iggy09" / "bin" / "python"
DEFAULT_PORTS = {"tcp": 8090, "quic": 8080, "http": 3000, "ws": 8092}

_LAUNCHER = '''#!{python}
"""iggy-server stand-in for the 0.9 SDK suite: a whippet node configured from Iggy's environment."""
import os, socket, sys
from pathlib import Path
data = Path(os.environ["IGGY_PATH"])
host, _, port = os.environ.get("IGGY_TCP_ADDRESS", "127.0.0.1:8090").rpartition(":")
port = int(port)
if port == 0:
    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
(data / "runtime").mkdir(parents=True, exist_ok=True)
(data / "runtime" / "current_config.toml").write_text(f'[tcp]\\naddress = "{{host}}:{{port}}"\\n')
env = dict(os.environ, WHIPPET_HTTP_ENABLED="false", WHIPPET_QUIC_ENABLED="false", WHIPPET_WS_ENABLED="false")
os.execve(sys.executable, [sys.executable, "-m", "whippet.node", "--data-dir", str(data / "whippet"),
          "--host", host, "--tcp-port", str(port), "--with-default-root-credentials"], env)
'''


def _sdist() -> Path:
    for path in (VENDOR, *VENDOR_FALLBACKS):
        if path.exists():
            return path
    raise SystemExit(f"the 0.9.0 sdist is not at {VENDOR} (set IGGY09_SDIST)")


def _unpack(work: Path) -> Path:
    """The sdist's python package root (pyproject with the pytest settings, tests/)."""
    with tarfile.open(_sdist()) as tar:
        members = [m for m in tar.getmembers()
                   if "/foreign/python/tests/" in m.name or m.name.endswith("/foreign/python/pyproject.toml")
                   or m.name.count("/") == 1 and m.name.endswith("/pyproject.toml")]
        tar.extractall(work, members=members, filter="data")
    top = next(work.iterdir())
    launcher = top / "target" / "debug" / "iggy-server"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(_LAUNCHER.format(python=sys.executable))
    launcher.chmod(0o755)
    return top


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start(mode: str, root: Path) -> tuple[object, str]:
    """Start whippet; returns the handle and a description."""
    sys.path.insert(0, str(ROOT))
    from whippet.procs import Cluster, NodeProcess

    ports = {f"{k}_port": v for k, v in DEFAULT_PORTS.items()}
    if mode == "single":
        node = NodeProcess(root / "node", **ports).start()
        return node, f"one node on {node.address}"
    cluster = Cluster(root / "cluster", size=3, replication_factor=3)
    target = cluster.nodes[3]
    for name, port in ports.items():
        setattr(target, name, port)
    cluster.start().wait_connected(30)
    for _ in range(5):
        if _raft_leader_tcp_port(cluster) != DEFAULT_PORTS["tcp"]:
            return cluster, "3-node cluster, the suite connected to a metadata follower (node 3)"
        target.stop()  # it won the election: let another node lead, then rejoin as a follower
        time.sleep(1.0)
        target.start()
        cluster.wait_connected(30)
    raise SystemExit("could not make the default-port node a follower")


def _raft_leader_tcp_port(cluster: object) -> int:
    import asyncio

    from tests.support.client import TestClient
    from whippet.wire import requests as rq
    from whippet.wire.responses import ClusterMetadata

    async def ask() -> int:
        deadline = time.monotonic() + 20
        while True:
            c = await TestClient.connect(f"127.0.0.1:{DEFAULT_PORTS['tcp']}")
            try:
                meta = ClusterMetadata.decode(await c.call(rq.GetClusterMetadata()))
            finally:
                await c.close()
            leaders = [n.tcp_port for n in meta.nodes if n.role == 0]
            if len(meta.nodes) == 3 and len(leaders) == 1:
                return leaders[0]
            if time.monotonic() > deadline:
                raise SystemExit(f"no single metadata leader: {meta}")
            await asyncio.sleep(0.2)

    return asyncio.run(ask())


def _stop(handle: object) -> None:
    handle.stop()  # type: ignore[attr-defined]


def run(mode: str, pytest_args: list[str]) -> int:
    if not SDK_PYTHON.exists():
        raise SystemExit(f"{SDK_PYTHON} is missing: run `make .venv-iggy09/.installed`")
    busy = [p for p in DEFAULT_PORTS.values() if not _port_free(p)]
    if busy:
        raise SystemExit(f"default Iggy ports in use here: {busy} (run in a network namespace)")
    with tempfile.TemporaryDirectory(prefix="whippet-iggy09-") as tmp:
        work = Path(tmp)
        top = _unpack(work / "sdk")
        handle, what = _start(mode, work / "data")
        print(f"iggy09 suite: {what}", flush=True)
        try:
            args = [str(SDK_PYTHON), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "addopts=",
                    "--rootdir", str(top), "-c", str(top / "pyproject.toml"),
                    str(top / "foreign" / "python" / "tests"),
                    "--ignore", str(top / "foreign" / "python" / "tests" / "test_tls.py"), *pytest_args]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "IGGY_"))}
            return subprocess.call(args, cwd=top / "foreign" / "python", env=env)
        finally:
            _stop(handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("single", "cluster"), default="single")
    parser.add_argument("--host-network", action="store_true", help="do not enter a network namespace")
    parser.add_argument("pytest_args", nargs="*")
    a = parser.parse_args()
    if not a.host_network and shutil.which("unshare") and shutil.which("ip"):
        inner = ["ip link set lo up && exec \"$0\" \"$@\"", sys.executable, __file__, "--host-network",
                 "--mode", a.mode, "--", *a.pytest_args]
        flags = ["--net"] if os.geteuid() == 0 else ["--net", "--map-root-user"]
        probe = subprocess.run(["unshare", *flags, "true"], capture_output=True)
        if probe.returncode == 0:
            os.execvp("unshare", ["unshare", *flags, "sh", "-c", *inner])
        print(f"iggy09 suite: no network namespace ({probe.stderr.decode().strip()}); using the host's ports")
    sys.exit(run(a.mode, a.pytest_args))


if __name__ == "__main__":
    main()
