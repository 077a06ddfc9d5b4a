"""The reconnect policy (pool rotation, bounded backoff with jitter) and the routing table, without sockets."""

from __future__ import annotations

import random

import pytest
from whippet.sdk.options import Backoff, NodeAddress
from whippet.sdk.pool import NodePool
from whippet.sdk.routing import RoutingTable
from whippet.wire.responses import ClusterMetadata, ClusterNode

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


def test_routing_routes_to_known_healthy_leaders_only() -> None:
    table = RoutingTable("tcp")
    table.update(_metadata(("n1", 100, 0, 0), ("n2", 200, 1, 0), ("n3", 300, 1, 3)))
    assert table.metadata_leader().name == "n1"  # type: ignore[union-attr]
    assert table.leader_for("s", "t", 0) is None  # nothing reported: use the connected node
    table.set_partition_leaders([("s", "t", 0, "n2"), ("s", "t", 1, "n3"), (1, 2, 0, "n1")])
    assert table.leader_for("s", "t", 0) == NodeAddress("127.0.0.1", 200)
    assert table.leader_for("s", "t", 1) is None  # n3 is unreachable
    assert table.leader_for(1, 2, 0) == NodeAddress("127.0.0.1", 100)
    assert table.leader_for("s", "t", None) is None
    table.forget("s", "t", 0)
    assert table.leader_for("s", "t", 0) is None
    table.forget_node(NodeAddress("127.0.0.1", 100))
    assert table.leader_for(1, 2, 0) is None


def test_routing_uses_the_transport_port_and_drops_leaders_of_vanished_nodes() -> None:
    table = RoutingTable("quic")
    table.update(_metadata(("n1", 100, 0, 0), ("n2", 200, 1, 0)))
    assert table.addresses() == [NodeAddress("127.0.0.1", 101), NodeAddress("127.0.0.1", 201)]
    table.set_partition_leaders([("s", "t", 0, "n2")])
    version = table.version
    table.update(_metadata(("n1", 100, 0, 0)))
    assert table.leader_for("s", "t", 0) is None and table.version > version
