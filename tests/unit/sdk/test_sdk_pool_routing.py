"""The reconnect policy (pool rotation, bounded backoff with jitter) and the routing table, without sockets."""

from __future__ import annotations

import random

import pytest

from whippet.sdk.options import Backoff, NodeAddress
from whippet.sdk.pool import NodePool
from whippet.sdk.routing import RoutingTable
from whippet.wire.responses import (
    ClusterMetadata,
    ClusterNode,
    LeaderNode,
    PartitionLeader,
    PartitionLeaders,
    TopicLeaders,
)

A, B, C = NodeAddress("a", 1), NodeAddress("b", 2), NodeAddress("c", 3)


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    b = Backoff(initial=0.1, maximum=1.0, jitter=0.5)
    assert [b.delay(n, 0.0) for n in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert b.delay(10, 0.999) <= 1.5


def test_pool_is_shuffled_rotates_and_waits_only_after_a_full_round() -> None:
    orders = {tuple(NodePool([A, B, C], Backoff(), random.Random(seed)).addresses) for seed in range(20)}
    assert len(orders) > 1  # seeds are shuffled, so clients spread over the nodes
    pool = NodePool([A, B, C], Backoff(initial=1.0, jitter=0.0, retries=2), random.Random(1))
    tried = []
    for _ in range(3):
        assert pool.delay() == 0.0
        entry = pool.next(0.0)
        tried.append(entry.address)
        pool.failed(entry)
    assert sorted(tried) == [A, B, C]
    assert pool.delay() == 1.0  # every node failed once: back off
    for _ in range(3):
        pool.failed(pool.next(0.0))
    assert pool.exhausted()
    pool.succeeded(pool.next(0.0))
    assert not pool.exhausted() and pool.delay() == 0.0


def test_pool_merges_discovered_nodes_but_never_drops_seeds() -> None:
    pool = NodePool([A], Backoff(), random.Random(0))
    assert pool.merge([A, B, C]) == [B, C]
    assert set(pool.addresses) == {A, B, C}
    pool.merge([C])
    assert set(pool.addresses) == {A, C}  # B was discovered and is gone; seed A stays
    pool.prefer(C)
    assert pool.next(0.0).address == C


def _metadata(*nodes: tuple[str, int, int, int]) -> ClusterMetadata:
    return ClusterMetadata(
        "c", [ClusterNode(name, "127.0.0.1", tcp, tcp + 1, 0, 0, role, status) for name, tcp, role, status in nodes]
    )


def _leaders(home: int, *topics: tuple[int, int, str, str, list[tuple[int, int | None, int]]]) -> PartitionLeaders:
    return PartitionLeaders(
        node_id=home,
        nodes=[LeaderNode(1, "n1"), LeaderNode(2, "n2"), LeaderNode(3, "n3")],
        topics=[TopicLeaders(s, t, sn, tn, [PartitionLeader(*p) for p in parts]) for s, t, sn, tn, parts in topics],
    )


N1, N2 = NodeAddress("127.0.0.1", 100), NodeAddress("127.0.0.1", 200)


def test_routing_routes_to_known_healthy_leaders_other_than_home() -> None:
    table = RoutingTable("tcp")
    table.update(_metadata(("n1", 100, 0, 0), ("n2", 200, 1, 0), ("n3", 300, 1, 3)))
    assert table.metadata_leader().name == "n1"  # type: ignore[union-attr]
    assert table.leader_for("s", "t", 0) is None  # nothing reported: use the connected node
    table.set_partition_leaders(_leaders(3, (1, 2, "s", "t", [(0, 2, 1), (1, 3, 1), (2, 1, 0), (3, None, 4)])))
    assert table.home_node == "n3"
    # ids and names, in any mix, reach the same partition
    for stream, topic in (("s", "t"), (1, 2), ("1", "t"), ("s", "2")):
        assert table.leader_for(stream, topic, 0, now=0.0) == N2
    assert table.leader_for("s", "t", 1) is None  # n3 is the home node (and unreachable anyway)
    assert table.leader_for("s", "t", 2) == N1
    assert table.leader_for("s", "t", 3) is None  # no leader right now
    assert table.leader_for("s", "t", 9) is None and table.leader_for("s", "x", 0) is None
    assert table.leader_for("s", "t", None) is None  # the node picks the partition
    table.set_partition_leaders(_leaders(2, (1, 2, "s", "t", [(0, 2, 1)])))
    assert table.leader_for("s", "t", 0) is None  # now n2 is home: no second connection to it


def test_routing_forgets_skips_down_nodes_and_keeps_the_newer_epoch() -> None:
    table = RoutingTable("tcp")
    table.update(_metadata(("n1", 100, 0, 0), ("n2", 200, 1, 0), ("n3", 300, 1, 0)))
    table.set_partition_leaders(_leaders(3, (1, 2, "s", "t", [(0, 2, 5), (1, 1, 0)])))
    table.mark_down(N2, until=10.0)
    assert table.leader_for("s", "t", 0, now=9.9) is None
    assert table.leader_for("s", "t", 0, now=10.0) == N2
    # a lagging node reports the old leader at an older epoch: the newer route stays
    table.set_partition_leaders(_leaders(3, (1, 2, "s", "t", [(0, 1, 4), (1, 2, 1)])))
    assert table.leader_for("s", "t", 0, now=11.0) == N2
    assert table.leader_for("s", "t", 1, now=11.0) == N2
    table.forget("s", "t", 0)  # a not-leader answer
    assert table.leader_for("s", "t", 0, now=11.0) is None
    table.set_partition_leaders(_leaders(3, (1, 2, "s", "t", [(0, 1, 4)])))  # accepted again after a forget
    assert table.leader_for("s", "t", 0, now=11.0) == N1
    assert list(table.routes()) == [(1, 2, 0, "n1", 4)]  # a complete answer dropped partition 1


def test_routing_merges_one_topic_and_replaces_on_a_complete_answer() -> None:
    table = RoutingTable("tcp")
    table.update(_metadata(("n1", 100, 0, 0), ("n2", 200, 1, 0)))
    table.set_partition_leaders(_leaders(1, (1, 1, "a", "t", [(0, 2, 0)])))
    table.set_partition_leaders(_leaders(1, (1, 2, "a", "u", [(0, 2, 0)])), complete=False)
    assert table.leader_for("a", "t", 0) == N2 and table.leader_for("a", "u", 0) == N2
    table.set_partition_leaders(_leaders(1, (1, 2, "a", "renamed", [])), complete=False)
    assert table.leader_for("a", "u", 0) is None  # its partitions and old name are gone
    table.set_partition_leaders(_leaders(1))
    assert table.leader_for("a", "t", 0) is None and not list(table.routes())


def test_routing_asks_for_an_unknown_topic_at_most_once_a_second_and_never_on_a_0_8_node() -> None:
    table = RoutingTable("tcp")
    assert table.should_ask("s", "t", now=5.0)
    assert not table.should_ask("s", "t", now=5.5)
    assert table.should_ask("s", "t", now=6.0)
    table.update(_metadata(("n1", 100, 0, 0), ("n2", 200, 1, 0)))
    table.set_partition_leaders(_leaders(1, (1, 1, "s", "t", [(0, 2, 0)])))
    assert not table.should_ask("s", "t", now=9.0) and not table.should_ask(1, 1, now=9.0)
    table.leaders_not_offered()  # a 0.8 server answered InvalidCommand
    assert table.leader_for("s", "t", 0) is None and not table.should_ask("x", "y", now=20.0)


def test_routing_uses_the_transport_port_and_drops_leaders_of_vanished_nodes() -> None:
    table = RoutingTable("quic")
    table.update(_metadata(("n1", 100, 0, 0), ("n2", 200, 1, 0)))
    assert table.addresses() == [NodeAddress("127.0.0.1", 101), NodeAddress("127.0.0.1", 201)]
    table.set_partition_leaders(_leaders(1, (1, 1, "s", "t", [(0, 2, 0)])))
    assert table.leader_for("s", "t", 0) == NodeAddress("127.0.0.1", 201)
    version = table.version
    table.update(_metadata(("n1", 100, 0, 0)))
    assert table.leader_for("s", "t", 0) is None and table.version > version
    ws = RoutingTable("ws")
    ws.update(ClusterMetadata("c", [ClusterNode("n1", "0.0.0.0", 1, 2, 3, 4, 0, 0)]))
    assert ws.addresses() == [NodeAddress("127.0.0.1", 4)]
