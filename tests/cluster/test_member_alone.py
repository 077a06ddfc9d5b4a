"""A member started alone says, every few seconds, which peers it is waiting for (issue 9),
and joins once they come up."""

from __future__ import annotations

import time
from pathlib import Path

from whippet.procs import Cluster


def test_a_lone_member_logs_the_peers_it_waits_for(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    alone = cluster[1]
    try:
        alone.spawn()
        deadline = time.monotonic() + 20
        while "waiting" not in alone.read_log() and time.monotonic() < deadline:
            time.sleep(0.2)
        text = alone.read_log()
        lines = [line for line in text.splitlines() if "waiting" in line and "metadata group" in line]
        assert lines, text[-2000:]
        for peer in (cluster[2], cluster[3]):
            assert f"127.0.0.1:{peer.raft_port}" in lines[-1]
        for peer in (cluster[2], cluster[3]):
            peer.spawn()
        for node in cluster.nodes.values():
            node.wait_ready(60)
    finally:
        cluster.stop()
