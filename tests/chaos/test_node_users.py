"""`NodeProcess(user=...)`: the node runs as that Unix user, owns its data dir, and serves
as usual; kill -9 and a restart keep the user. Without a user nothing changes."""

from __future__ import annotations

import os
import pwd
import tempfile
from pathlib import Path

import pytest

from whippet.chaos.netfilter import ensure_users
from whippet.procs import NodeProcess


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])  # real uid
    raise AssertionError("no Uid line")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (useradd, setuid)")
def test_node_runs_as_its_user_across_a_restart() -> None:
    user = ensure_users([1])[1]
    uid = pwd.getpwnam(user).pw_uid
    root = Path(tempfile.mkdtemp(prefix="whippet-chaos-test-"))
    os.chmod(root, 0o711)  # the user must reach its data dir
    node = NodeProcess(data_dir=root / "node-1", user=user)
    try:
        node.start(60)
        assert node.proc is not None and _uid_of(node.proc.pid) == uid
        owners = {p.stat().st_uid for p in node.data_dir.rglob("*")}
        assert owners == {uid}, "everything the node wrote is its user's"
        node.kill()
        node.start(60)
        assert _uid_of(node.proc.pid) == uid
    finally:
        node.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def test_without_a_user_the_node_runs_as_the_caller(node) -> None:  # type: ignore[no-untyped-def]
    assert node.user is None and _uid_of(node.proc.pid) == os.geteuid()
