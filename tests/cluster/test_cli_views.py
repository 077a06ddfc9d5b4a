"""The CLI's cluster views answer on a real 3-node cluster: cluster status, partition list
(leaders, replicas, in-sync set, watermarks), group lag, message tail (Ctrl-C is a real
SIGINT and leaves nothing behind), JSON with 128-bit ids as strings and typed headers,
cut payloads unless --full, progress on stderr, and a leader that dies shows up."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster

WHIPPET = str(Path(sys.executable).with_name("whippet"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cli-views"), extra_env={"WHIPPET_DEDUP_ENABLED": "true"})
    c.start().wait_connected()
    yield c
    c.stop()


def _env(cluster: Cluster, node: int = 1) -> dict[str, str]:
    return {**os.environ, "WHIPPET_NODES": cluster[node].address, "WHIPPET_USERNAME": "iggy",
            "WHIPPET_PASSWORD": "iggy"}


def whippet(cluster: Cluster, line: str, expect: int = 0, node: int = 1, stdin: str | None = None) -> str:
    proc = subprocess.run([WHIPPET, *shlex.split(line)], capture_output=True, text=True, env=_env(cluster, node),
                          timeout=60, input=stdin)
    assert proc.returncode == expect, f"{line!r} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc.stdout


def whippet_json(cluster: Cluster, line: str, node: int = 1) -> Any:
    return json.loads(whippet(cluster, f"--output json {line}", node=node))


def test_views_of_a_three_node_cluster(cluster: Cluster) -> None:
    whippet(cluster, "stream create views")
    whippet(cluster, "topic create views events 3 none")
    status = whippet_json(cluster, "cluster status", node=2)
    assert status["nodes_up"] == 3 and len(status["nodes"]) == 3 and status["raft_leader"]
    assert status["partitions"] == 3 and status["problems"] == []
    text = whippet(cluster, "cluster status")
    assert "3/3 nodes healthy" in text and "0 without a leader, 0 under-replicated" in text

    whippet(cluster, "message send -p 0 views events one two three")
    # Any node answers for every partition: the in-sync set and watermarks come from the leaders.
    for node in (1, 2, 3):
        states = whippet_json(cluster, "partition list views events", node=node)
        parts = {p["partition_id"]: p for p in states["partitions"]}
        assert sorted(parts) == [0, 1, 2]
        assert {p["source"] for p in parts.values()} == {0}  # every answer came from a leader
        assert {p["leader_node_id"] for p in parts.values()} == {1, 2, 3}  # leadership is spread
        for p in parts.values():
            assert sorted(p["replicas"]) == [1, 2, 3] and sorted(p["in_sync"]) == [1, 2, 3]
        assert parts[0]["high_watermark"] == 3 and parts[0]["log_end"] == 3 and parts[1]["log_end"] == 0
    table = whippet(cluster, "partition list views events")
    assert "| Partition | Leader | Epoch | Replicas | In sync | High watermark |" in table
    assert "| 1,2,3    | 1,2,3   | 3              |" in table


def test_group_lag_moves_as_the_group_commits(cluster: Cluster) -> None:
    whippet(cluster, "stream create lag")
    whippet(cluster, "topic create lag t 2 none")
    whippet(cluster, "consumer-group create lag t readers")
    whippet(cluster, "message send -p 1 lag t a b c d e")
    rows = whippet_json(cluster, "consumer-group lag lag t readers", node=3)
    assert [(r["partition"], r["stored_offset"], r["high_watermark"], r["lag"]) for r in rows] == [
        (0, None, 0, 0), (1, None, 5, 5)]
    # The group commits offset 2 (3 messages processed); only a member may commit, so join first.
    commit = (
        "import asyncio\nfrom whippet.sdk import Client, ConsumerId\n"
        "async def main():\n"
        f"    async with Client(['{cluster[1].address}'], username='iggy', password='iggy') as c:\n"
        "        await c.join_consumer_group('lag', 't', 'readers')\n"
        "        await c.store_consumer_offset(ConsumerId.group('readers'), 'lag', 't', 1, 2)\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", commit], check=True, timeout=60)
    rows = whippet_json(cluster, "consumer-group lag lag t")
    assert [(r["partition"], r["stored_offset"], r["lag"]) for r in rows] == [(0, None, 0), (1, 2, 2)]
    assert "total lag 2 messages" in whippet(cluster, "consumer-group lag lag t readers")


def test_json_ids_are_strings_and_headers_are_decoded_and_tables_cut_payloads(cluster: Cluster) -> None:
    whippet(cluster, "stream create js")
    whippet(cluster, "topic create js t 1 none")
    big = "x" * 5000
    whippet(cluster, f"message send -p 0 -H trace:string:abc -H n:int32:7 js t {big}")
    polled = whippet_json(cluster, "message poll --offset 0 js t 0")
    (m,) = polled["messages"]
    assert isinstance(m["id"], str) and int(m["id"]) >= 2**64  # a random 128-bit id, exact as text
    assert m["user_headers"] == {"n": {"kind": "int32", "value": 7}, "trace": {"kind": "string", "value": "abc"}}
    assert m["payload"] == big  # JSON is never cut
    table = whippet(cluster, "message poll --offset 0 --show-headers js t 0")
    assert "x" * 80 + "... (5000 B)" in table and "x" * 81 not in table
    assert "trace=abc (string), n=7 (int32)" in table
    assert big in whippet(cluster, "message poll --offset 0 --full js t 0")


def test_long_operations_report_progress(cluster: Cluster) -> None:
    whippet(cluster, "stream create bulk")
    whippet(cluster, "topic create bulk t 1 none")
    lines = "".join(f"line {i}\n" for i in range(2500))
    proc = subprocess.run([WHIPPET, "--progress", "message", "send", "-p", "0", "bulk", "t"], input=lines,
                          capture_output=True, text=True, env=_env(cluster), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1] == "sent: 2500/2500"
    proc = subprocess.run([WHIPPET, "--progress", "message", "poll", "-o", "0", "-m", "2500", "bulk", "t", "0"],
                          capture_output=True, text=True, env=_env(cluster), timeout=60)
    assert proc.stderr.splitlines()[-1] == "polled: 2500/2500" and "line 2499" in proc.stdout


def _clients(cluster: Cluster) -> int:
    return len(whippet_json(cluster, "client list"))


def test_tail_follows_and_ctrl_c_leaves_a_clean_state(cluster: Cluster) -> None:
    whippet(cluster, "stream create tail")
    whippet(cluster, "topic create tail t 2 none")
    whippet(cluster, "message send -p 0 tail t old")
    before = _clients(cluster)
    tail = subprocess.Popen([WHIPPET, "message", "tail", "tail", "t"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(cluster))
    try:
        assert tail.stdout is not None
        assert "Following tail/t partitions 0,1" in tail.stdout.readline()
        whippet(cluster, "message send -p 1 tail t fresh-1", node=2)
        whippet(cluster, "message send -p 0 tail t fresh-0", node=3)
        got = [tail.stdout.readline(), tail.stdout.readline()]
        assert sorted(line.split(" | ")[0] for line in got) == ["0", "1"]
        assert {line.rstrip().rsplit(" | ", 1)[1] for line in got} == {"fresh-0", "fresh-1"}  # "old" was before
        tail.send_signal(signal.SIGINT)
        out, err = tail.communicate(timeout=20)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0
    assert err.strip() == "stopped after 2 message(s)" and "Traceback" not in err
    deadline = time.monotonic() + 10
    while _clients(cluster) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _clients(cluster) == before  # its session is gone
    # It stored nothing: no consumer offset for the tail's reader.
    assert whippet(cluster, "consumer-offset get 0 tail t 0", expect=5) == ""


def test_a_dead_leader_shows_in_the_views(cluster: Cluster) -> None:
    whippet(cluster, "stream create dead")
    whippet(cluster, "topic create dead t 3 none")
    cluster[3].kill()
    try:
        deadline = time.monotonic() + 20
        status = whippet_json(cluster, "cluster status")
        while time.monotonic() < deadline and status["nodes_up"] != 2:
            time.sleep(0.5)
            status = whippet_json(cluster, "cluster status")
        assert status["nodes_up"] == 2
        states = whippet_json(cluster, "partition list dead t")
        for p in states["partitions"]:  # failed over, or shown without the dead node in sync
            assert p["leader_node_id"] != 3 or p["source"] == 1
            if p["source"] == 0:
                assert 3 not in p["in_sync"]
    finally:
        cluster[3].start()


def test_version_and_completion() -> None:
    out = subprocess.run([WHIPPET, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("whippet 0.")
