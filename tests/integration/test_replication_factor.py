"""A replication factor above the node count is refused with Iggy's InvalidReplicationFactor (2018)
on every transport and in the CLI, and `topic get` shows only a factor the topic really has.

One node here (a one-node cluster has one node to hold replicas); the 3-node case is in
tests/cluster/test_basic.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from whippet.sdk import Client
from whippet.wire.errors import InvalidReplicationFactor

pytestmark = pytest.mark.asyncio

PORTS = {"tcp": "tcp_port", "quic": "quic_port", "ws": "ws_port"}
WHIPPET = str(Path(sys.executable).with_name("whippet"))


@pytest.fixture
def node(node_factory):  # type: ignore[no-untyped-def]
    """One node whose default factor (3) is above its node count."""
    return node_factory(extra_env={"WHIPPET_TOPIC_REPLICATION_FACTOR": "3"})


@pytest.mark.parametrize("kind", list(PORTS))
async def test_binary_transports_refuse_a_factor_above_the_node_count(node, kind: str) -> None:  # type: ignore[no-untyped-def]
    async with Client([f"127.0.0.1:{getattr(node, PORTS[kind])}"], username="iggy", password="iggy",
                      transport=kind) as c:  # type: ignore[arg-type]
        await c.create_stream("s")
        with pytest.raises(InvalidReplicationFactor) as info:
            await c.create_topic("s", "t", 1, replication_factor=2)
        assert info.value.status == 2018
        assert await c.get_topics("s") == []  # nothing was created
        created = await c.create_topic("s", "t", 1, replication_factor=0)  # 0: the default, capped
        assert created.topic.replication_factor == 1
        with pytest.raises(InvalidReplicationFactor):
            await c.update_topic("s", "t", "t", replication_factor=5)
        await c.update_topic("s", "t", "t", replication_factor=1)
        shown = await c.get_topic("s", "t")
        assert shown is not None and shown.topic.replication_factor == 1


async def test_http_refuses_a_factor_above_the_node_count(node) -> None:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{node.http_port}"
    topic = {"name": "t", "partitions_count": 1, "compression_algorithm": "none", "message_expiry": 0,
             "max_topic_size": 0}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/users/login", json={"username": "iggy", "password": "iggy"}) as r:
            auth = {"Authorization": f"Bearer {(await r.json())['access_token']['token']}"}
        async with s.post(f"{base}/streams", json={"name": "s"}, headers=auth) as r:
            assert r.status == 200
        async with s.post(f"{base}/streams/s/topics", json={**topic, "replication_factor": 2}, headers=auth) as r:
            body = await r.json()
            assert (r.status, body["id"], body["code"]) == (400, 2018, "invalid_replication_factor")
        async with s.get(f"{base}/streams/s/topics", headers=auth) as r:
            assert await r.json() == []
        async with s.post(f"{base}/streams/s/topics", json={**topic, "replication_factor": None}, headers=auth) as r:
            assert r.status == 200 and (await r.json())["replication_factor"] == 1
        async with s.put(f"{base}/streams/s/topics/t", json={**topic, "replication_factor": 4}, headers=auth) as r:
            assert r.status == 400 and (await r.json())["id"] == 2018
        async with s.get(f"{base}/streams/s/topics/t", headers=auth) as r:
            assert (await r.json())["replication_factor"] == 1


async def test_the_cli_refuses_a_factor_above_the_node_count_in_one_line(node) -> None:  # type: ignore[no-untyped-def]
    def whippet(line: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "WHIPPET_NODES": node.address}
        return subprocess.run([WHIPPET, "-u", "iggy", "-p", "iggy", *line.split()], capture_output=True, text=True,
                              env=env, timeout=60, check=False)

    assert whippet("stream create s").returncode == 0
    refused = whippet("topic create s t 1 none -r 3")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]  # one line
    assert "invalid_replication_factor 2018" in refused.stderr and "Traceback" not in refused.stderr
    assert whippet("topic list s").stdout.count("| t ") == 0
    assert whippet("topic create s t 1 none").returncode == 0
    assert "| Replication factor  | 1 " in whippet("topic get s t").stdout

