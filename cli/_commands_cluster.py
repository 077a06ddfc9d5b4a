"""``whippet`` views of the running cluster: cluster status, partitions, group lag, message tail.

They read whippet's own commands where the data lives on partition leaders
(GET_PARTITION_STATES, 9005: in-sync set, watermarks, sizes), so any node the CLI
connects to answers for the whole cluster. Against an Iggy 0.8 server, which has
no such command, ``partition list`` and ``group lag`` say so and stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from whippet.cli._commands import _missing, command
from whippet.cli._output import Printer, message_rows
from whippet.sdk import Client
from whippet.wire.primitives import Consumer, PollingStrategy
from whippet.wire.responses import ClusterMetadata, PartitionState, PartitionStates

__all__: list[str] = []

_ROLES = {0: "leader", 1: "follower"}
_STATUSES = {0: "healthy", 1: "starting", 2: "stopping", 3: "unreachable", 4: "maintenance"}


def _ids(values: list[int]) -> str:
    return ",".join(map(str, values)) or "-"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _follower_lag(p: PartitionState) -> int:
    """How far the slowest follower is behind the leader's log end (0 when none lags)."""
    return max((p.log_end - f.log_end for f in p.followers), default=0)


def partition_row(p: PartitionState) -> list[Any]:
    leader = "-" if p.leader_node_id is None else p.leader_node_id
    in_sync = _ids(p.in_sync) if p.source_name == "leader" else f"? ({p.source_name})"
    return [p.partition_id, leader, p.epoch, _ids(p.replicas), in_sync, p.high_watermark, p.log_end,
            _follower_lag(p), _size(p.size_bytes), p.messages_count, p.segments_count]


PARTITION_HEADERS = ["Partition", "Leader", "Epoch", "Replicas", "In sync", "High watermark", "Log end",
                     "Follower lag", "Size", "Messages", "Segments"]


async def _all_states(c: Client) -> list[PartitionStates]:
    topics = []
    for s in await c.get_streams():
        for t in await c.get_topics(s.id):
            topics.append(await c.get_partition_states(s.id, t.id))
    return topics


def health(metadata: ClusterMetadata, topics: list[PartitionStates]) -> dict[str, Any]:
    """The numbers ``cluster status`` reports (also its JSON)."""
    problems: list[dict[str, Any]] = []
    total = 0
    for t in topics:
        for p in t.partitions:
            total += 1
            issue = None
            if p.leader_node_id is None:
                issue = "no leader"
            elif p.source_name == "metadata":
                issue = f"leader {p.leader_node_id} does not answer"
            elif p.under_replicated:
                issue = f"under-replicated: {len(p.in_sync)}/{len(p.replicas)} in sync"
            if issue:
                problems.append({"stream": t.stream_name, "topic": t.topic_name, "partition": p.partition_id,
                                 "issue": issue})
    leader = next((n.name for n in metadata.nodes if n.role == 0), None)
    return {
        "cluster": metadata.name,
        "raft_leader": leader,
        "nodes": [{"name": n.name, "address": f"{n.ip}:{n.tcp_port}", "http_port": n.http_port,
                   "role": _ROLES.get(n.role, str(n.role)), "status": _STATUSES.get(n.status, str(n.status))}
                  for n in metadata.nodes],
        "nodes_up": sum(1 for n in metadata.nodes if n.status == 0),
        "partitions": total,
        "partitions_without_leader": sum(1 for p in problems if p["issue"] == "no leader"),
        "partitions_under_replicated": sum(1 for p in problems if p["issue"].startswith("under-replicated")),
        "problems": problems,
    }


@command("cluster.status")
async def cluster_status(c: Client, a: argparse.Namespace, out: Printer) -> None:
    report = health(await c.get_cluster_metadata(), await _all_states(c))
    if out.json:
        out.data(report)
        return
    out.info(f"Cluster {report['cluster']}: {report['nodes_up']}/{len(report['nodes'])} nodes healthy, "
             f"Raft leader {report['raft_leader'] or 'none'}, {report['partitions']} partitions, "
             f"{report['partitions_without_leader']} without a leader, "
             f"{report['partitions_under_replicated']} under-replicated")
    out.table(["Node", "Address", "HTTP", "Role", "Status"],
              [(n["name"], n["address"], n["http_port"], n["role"], n["status"]) for n in report["nodes"]])
    if report["problems"]:
        out.table(["Stream", "Topic", "Partition", "Problem"],
                  [(p["stream"], p["topic"], p["partition"], p["issue"]) for p in report["problems"]])


@command("partition.list")
async def partition_list(c: Client, a: argparse.Namespace, out: Printer) -> None:
    states = await c.get_partition_states(a.stream_id, a.topic_id)
    out.info(f"Topic {states.topic_name} (ID {states.topic_id}) in stream {states.stream_name} "
             f"(ID {states.stream_id}): {len(states.partitions)} partitions")
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    out.table(PARTITION_HEADERS, [partition_row(p) for p in states.partitions], raw=states)


async def group_lag_rows(c: Client, stream: str, topic: str, group: str | int) -> list[dict[str, Any]]:
    """Per partition of the topic: the group's stored offset, the high watermark, the lag, the owner."""
    details = await c.get_consumer_group(stream, topic, group)
    if details is None:
        raise _missing(f"consumer group {group}")
    owner = {p: m.id for m in details.members for p in m.partitions}
    states = await c.get_partition_states(stream, topic)
    rows = []
    for p in states.partitions:
        stored = await c.get_consumer_offset(Consumer.group(details.group.id), stream, topic, p.partition_id)
        next_offset = stored.stored_offset + 1 if stored is not None else p.first_offset
        rows.append({
            "group": details.group.name, "partition": p.partition_id, "member": owner.get(p.partition_id),
            "stored_offset": None if stored is None else stored.stored_offset,
            "high_watermark": p.high_watermark, "lag": max(p.high_watermark - next_offset, 0),
        })
    return rows


@command("group.lag")
async def group_lag(c: Client, a: argparse.Namespace, out: Printer) -> None:
    groups = [a.group_id] if a.group_id else [g.name for g in await c.get_consumer_groups(a.stream_id, a.topic_id)]
    rows: list[dict[str, Any]] = []
    for g in groups:
        rows += await group_lag_rows(c, a.stream_id, a.topic_id, g)
    total = sum(r["lag"] for r in rows)
    out.info(f"{len(groups)} consumer group(s), total lag {total} messages")
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    out.table(["Group", "Partition", "Member", "Stored offset", "High watermark", "Lag"],
              [(r["group"], r["partition"], "-" if r["member"] is None else r["member"],
                "-" if r["stored_offset"] is None else r["stored_offset"], r["high_watermark"], r["lag"])
               for r in rows], raw=rows)


@command("message.tail")
async def message_tail(c: Client, a: argparse.Namespace, out: Printer) -> None:
    """Follow a topic (every partition, or ``-p``) until Ctrl-C, printing each message as it lands.

    Reads with offset polls and stores nothing, so stopping it changes no consumer
    position; Ctrl-C ends the loop, closes the connection and exits 0.
    """
    states = await c.get_partition_states(a.stream_id, a.topic_id)
    partitions = [a.partition_id] if a.partition_id is not None else [p.partition_id for p in states.partitions]
    by_id = {p.partition_id: p for p in states.partitions}
    if any(p not in by_id for p in partitions):
        raise _missing(f"partition {a.partition_id}")
    position = {p: (by_id[p].first_offset if a.from_beginning
                    else max(by_id[p].high_watermark - a.last, by_id[p].first_offset)) for p in partitions}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    seen = 0
    wait = 0.05
    out.info(f"Following {states.stream_name}/{states.topic_name} partitions {_ids(partitions)} (Ctrl-C stops)")
    try:
        while not stop.is_set():
            got = 0
            for p in partitions:
                polled = await c.poll_messages(a.stream_id, a.topic_id, p, Consumer.consumer(0),
                                               PollingStrategy.offset(position[p]), a.batch)
                if not polled.messages:
                    continue
                position[p] = polled.messages[-1].offset + 1
                got += len(polled.messages)
                if out.json:
                    for m in polled.messages:
                        out.line({"partition": p, **out.plain(m)})
                else:
                    for row in message_rows(polled.messages, p, a.full, a.show_headers):
                        out.line(" | ".join(str(x) for x in row))
            seen += got
            wait = 0.05 if got else min(wait * 2, 0.5)  # an idle topic is polled less often
            if not got:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
        print(f"stopped after {seen} message(s)", file=sys.stderr)
