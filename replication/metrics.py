"""Replication and Raft series, read from the node's state when Prometheus scrapes.

Nothing here runs on the send or poll path: the collector walks the partitions
this node holds (bounded by the partition count) at scrape time. Names and labels
are documented in docs/METRICS.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from whippet.replication.manager import ReplicaManager

__all__ = ["ReplicationCollector"]

_PART = ["stream", "topic", "partition"]
_ROLES = ("leader", "follower", "candidate")


class ReplicationCollector(Collector):
    def __init__(self, manager: ReplicaManager) -> None:
        self._m = manager

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        m = self._m
        meta = m.meta
        leaders = m.leaders()
        hw = GaugeMetricFamily("whippet_partition_high_watermark", "Committed, visible offset bound", labels=_PART)
        leader = GaugeMetricFamily("whippet_partition_is_leader", "1 where this node leads", labels=_PART)
        isr = GaugeMetricFamily("whippet_partition_in_sync_replicas", "In-sync replicas (leader's view)", labels=_PART)
        replicas = GaugeMetricFamily("whippet_partition_replicas", "Assigned replicas", labels=_PART)
        lag = GaugeMetricFamily(
            "whippet_replication_lag_messages", "Leader log end minus a follower's fetch offset",
            labels=[*_PART, "follower"],
        )
        under = 0
        with meta.lock:
            placements = {
                (s.id, t.id, p.id): tuple(p.replicas)
                for s in meta.machine.streams()
                for t in s.topics.values()
                for p in t.partitions
                if m.node_id in p.replicas
            }
        for key, assigned in sorted(placements.items()):
            labels = [str(k) for k in key]
            replicas.add_metric(labels, len(assigned))
            state = leaders.get(key)
            leader.add_metric(labels, 1 if state is not None else 0)
            hw.add_metric(labels, m.high_watermark(key))
            if state is None:
                continue
            in_sync = len(state.in_sync())
            isr.add_metric(labels, in_sync)
            if in_sync < len(assigned):
                under += 1
            for follower, end in sorted(state.follower_end.items()):
                lag.add_metric([*labels, str(follower)], max(state.log_end - end, 0))
        yield from (hw, leader, isr, replicas, lag)
        yield GaugeMetricFamily(
            "whippet_under_replicated_partitions", "Partitions led here missing in-sync replicas", value=under
        )
        yield CounterMetricFamily(
            "whippet_partition_leader_changes", "Partition leaderships gained or lost", value=m.leader_changes
        )
        status = meta.status()
        role = GaugeMetricFamily("whippet_raft_role", "This node's metadata Raft role", labels=["role"])
        for name in _ROLES:
            role.add_metric([name], 1 if status.get("role") == name else 0)
        yield role
        yield GaugeMetricFamily("whippet_raft_term", "Raft term", value=status.get("term") or 0)
        yield GaugeMetricFamily("whippet_raft_commit_index", "Raft commit index", value=status.get("commit_index") or 0)
        yield CounterMetricFamily(
            "whippet_raft_leader_changes", "Metadata Raft leader changes seen", value=m.raft_leader_changes
        )
        yield GaugeMetricFamily(
            "whippet_cluster_members", "Members of the Raft group", value=len(status.get("partners") or []) + 1
        )
        peer_up = GaugeMetricFamily(
            "whippet_peer_up", "1 if this node heard from the peer within the last second", labels=["peer"]
        )
        with meta.lock:
            peers = sorted(n.id for n in meta.machine.nodes() if n.id != m.node_id)
        for peer in peers:
            peer_up.add_metric([str(peer)], 1 if m.heard_from(peer) else 0)
        yield peer_up
