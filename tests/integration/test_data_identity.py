"""A node cannot take another node's data: the data dir says whose it is (issue 11).

Real processes: node 3 writes its data dir; a node started on it as node 1 (the issue's
single node on cluster node 3's directory) stops at once with one line naming both, and
not one byte of the directory changes. A data dir from before the stamp gets one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.support.client import TestClient
from whippet.procs import NodeProcess
from whippet.wire import requests as rq

pytestmark = pytest.mark.asyncio


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


async def test_node_1_cannot_open_node_3s_data(tmp_path: Path) -> None:
    data = tmp_path / "node-3"
    owner = NodeProcess(data_dir=data, extra_args=["--node-id", "3"]).start()
    try:
        c = await TestClient.connect(owner.address)
        await c.create_stream("belongs-to-3")
        await c.create_topic("belongs-to-3", "t", partitions=2)
        await c.send("belongs-to-3", "t", 0, [b"m"] * 5)
        await c.close()
    finally:
        owner.stop()
    assert json.loads((data / "identity").read_text()) == {"format": 1, "cluster": "whippet", "node_id": 3}
    before = _files(data)

    intruder = NodeProcess(data_dir=data)  # node 1, the default
    intruder.spawn()
    assert intruder.proc is not None
    assert intruder.proc.wait(60) == 2
    lines = [line for line in intruder.read_log().splitlines() if line.startswith("whippet-node:")]
    assert lines == [f"whippet-node: data dir {data} belongs to node 3 of cluster whippet; this node is node 1 of "
                     "cluster whippet (check --data-dir / node_id / cluster_name)"]
    assert _files(data) == before  # nothing rewritten: no journal entry, no epoch file

    other_cluster = NodeProcess(data_dir=data, extra_args=["--node-id", "3"],
                                extra_env={"WHIPPET_CLUSTER_NAME": "elsewhere"})
    other_cluster.spawn()
    assert other_cluster.proc is not None and other_cluster.proc.wait(60) == 2
    assert "belongs to node 3 of cluster whippet; this node is node 3 of cluster elsewhere" in other_cluster.read_log()
    assert _files(data) == before

    again = NodeProcess(data_dir=data, extra_args=["--node-id", "3"]).start()  # the owner still opens it
    try:
        c = await TestClient.connect(again.address)
        _, msgs = await c.poll("belongs-to-3", "t", 0)
        assert len(msgs) == 5
        await c.close()
    finally:
        again.stop()


async def test_a_data_dir_from_before_the_stamp_gets_one(tmp_path: Path) -> None:
    data = tmp_path / "old"
    first = NodeProcess(data_dir=data, extra_args=["--node-id", "2"]).start()
    c = await TestClient.connect(first.address)
    await c.create_stream("old")
    await c.close()
    first.stop()
    (data / "identity").unlink()  # as a data dir written before this release
    second = NodeProcess(data_dir=data, extra_args=["--node-id", "2"]).start()
    try:
        c = await TestClient.connect(second.address)
        assert b"old" in await c.call(rq.GetStreams())
        await c.close()
    finally:
        second.stop()
    assert json.loads((data / "identity").read_text())["node_id"] == 2
