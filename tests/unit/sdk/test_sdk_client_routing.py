"""The client's routing against scripted nodes (no sockets): which node each request reaches,
a 0.8 server without GET_PARTITION_LEADERS, a dead leader's link, a not-leader answer."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest

from whippet.sdk import Client
from whippet.sdk.options import Backoff, NodeAddress
from whippet.wire import codes
from whippet.wire.errors import ConnectionClosed, InvalidCommand, NotLeader
from whippet.wire.primitives import Consumer, Partitioning, PollingStrategy
from whippet.wire.responses import (
    Appended,
    ClusterMetadata,
    ClusterNode,
    IdentityInfo,
    LeaderNode,
    PartitionLeader,
    PartitionLeaders,
    PolledHead,
    TopicLeaders,
)

pytestmark = pytest.mark.asyncio

HOME, OTHER = NodeAddress("127.0.0.1", 1), NodeAddress("127.0.0.1", 2)


class Cluster:
    """Two scripted nodes: node 1 (home, leads partition 1) and node 2 (leads partition 0)."""

    def __init__(self, *, offers_leaders: bool = True) -> None:
        self.offers_leaders = offers_leaders
        self.seen: list[tuple[int, int]] = []  # (node port, command code)
        self.down: set[int] = set()
        self.fail: dict[tuple[int, int], list[BaseException]] = {}  # (port, code) -> errors to raise once each
        self.leader_of_0 = 2
        self.epoch = 1
        self.status_of_2 = 0  # as node 1 reports it (0 healthy, 3 unreachable)

    def answer(self, port: int, code: int) -> bytes:
        self.seen.append((port, code))
        if errors := self.fail.get((port, code)):
            raise errors.pop(0)
        if code == codes.LOGIN_USER:
            return IdentityInfo(user_id=0).encode()
        if code == codes.GET_CLUSTER_METADATA:
            nodes = [ClusterNode(f"n{i}", "127.0.0.1", i, 0, 0, 0, 0 if i == 1 else 1,
                                 self.status_of_2 if (port, i) == (1, 2) else 0) for i in (1, 2)]
            return ClusterMetadata("c", nodes).encode()
        if code == codes.GET_PARTITION_LEADERS:
            if not self.offers_leaders:
                raise InvalidCommand()
            parts = [PartitionLeader(0, self.leader_of_0, self.epoch), PartitionLeader(1, 1, 0)]
            return PartitionLeaders(port, [LeaderNode(1, "n1"), LeaderNode(2, "n2")],
                                    [TopicLeaders(0, 0, "s", "t", parts)]).encode()
        if code == codes.SEND_MESSAGES_APPENDED:
            return Appended(partition_id=0, first_offset=0, stored=1, duplicates=0).encode()
        if code == codes.POLL_MESSAGES:
            return PolledHead(partition_id=0, current_offset=0, count=0).encode()
        return b""

    def on(self, code: int) -> list[int]:
        return [port for port, c in self.seen if c == code]

    async def open(self, address: NodeAddress, *args: Any) -> Any:
        if address.port in self.down:
            raise ConnectionRefusedError(address)
        return _Transport(self, address.port)


class _Transport:
    def __init__(self, cluster: Cluster, port: int) -> None:
        self.cluster, self.port, self.address, self.closed = cluster, port, f"127.0.0.1:{port}", False

    async def request(self, code: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
        if self.closed or self.port in self.cluster.down:
            self.closed = True
            raise ConnectionClosed("down")
        return self.cluster.answer(self.port, code)

    async def request_raw(self, frame: bytes | bytearray | memoryview) -> bytes:
        return await self.request(struct.unpack_from("<I", frame, 4)[0])

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    c = Cluster()
    monkeypatch.setattr("whippet.sdk._core.open_transport", c.open)
    return c


def _client() -> Client:
    return Client([str(HOME)], username="iggy", password="iggy", backoff=Backoff(initial=0.01, retries=2))


async def _send(client: Client, partition: int) -> None:
    await client.send_messages("s", "t", [b"m"], Partitioning.partition_id(partition))


async def test_partition_requests_go_to_the_leader_and_group_requests_stay_home(cluster: Cluster) -> None:
    async with _client() as client:
        for p in (0, 1, 0):
            await _send(client, p)
        await client.send_messages("s", "t", [b"m"])  # balanced: the node picks, so home
        await client.poll_messages("s", "t", 0, 7, PollingStrategy.next(), 1)
        await client.poll_messages("s", "t", 0, Consumer.group("g"), PollingStrategy.next(), 1)
        await client.store_consumer_offset(7, "0", "0", 0, 1)  # ids instead of names: same partition
        await client.store_consumer_offset(Consumer.group("g"), "s", "t", 0, 1)
    assert cluster.on(codes.SEND_MESSAGES_APPENDED) == [2, 1, 2, 1]
    assert cluster.on(codes.POLL_MESSAGES) == [2, 1]
    assert cluster.on(codes.STORE_CONSUMER_OFFSET) == [2, 1]
    assert cluster.on(codes.LOGIN_USER) == [1, 2]  # the leader's link logs in too
    assert cluster.on(codes.GET_PARTITION_LEADERS) == [1]  # learned at connect; no per-topic ask needed


async def test_a_0_8_server_answering_invalid_command_gets_everything_as_before(cluster: Cluster) -> None:
    cluster.offers_leaders = False
    async with _client() as client:
        for p in (0, 1, 0):
            await _send(client, p)
        await _send_to_new_topic(client)
        assert not client.routing.leaders_offered
    assert cluster.on(codes.SEND_MESSAGES_APPENDED) == [1, 1, 1, 1]
    assert cluster.on(codes.GET_PARTITION_LEADERS) == [1]  # asked once, never per topic afterwards


async def _send_to_new_topic(client: Client) -> None:
    await client.send_messages("s", "other", [b"m"], Partitioning.partition_id(0))


async def test_an_unknown_topic_is_asked_for_once_before_its_first_request(cluster: Cluster) -> None:
    async with _client() as client:
        await _send_to_new_topic(client)
        await _send_to_new_topic(client)
    assert cluster.on(codes.GET_PARTITION_LEADERS) == [1, 1]  # connect, then "s"/"other" once


async def test_a_dead_leader_sends_its_partitions_home_at_once(cluster: Cluster) -> None:
    async with _client() as client:
        await _send(client, 0)
        cluster.down.add(2)  # kill -9 of node 2
        await _send(client, 0)  # written on the dead link: retried through home
        await _send(client, 0)  # node 2 is skipped for a while: home directly
    assert cluster.on(codes.SEND_MESSAGES_APPENDED) == [2, 1, 1]


async def test_a_not_leader_answer_refreshes_and_follows_the_new_leader(cluster: Cluster) -> None:
    async with _client() as client:
        await _send(client, 0)
        cluster.fail[(2, codes.SEND_MESSAGES_APPENDED)] = [NotLeader()]
        cluster.leader_of_0, cluster.epoch = 1, 2  # moved to node 1 (the home node)
        await _send(client, 0)
        await _send(client, 0)
    assert cluster.on(codes.SEND_MESSAGES_APPENDED) == [2, 2, 1, 1]
    assert cluster.on(codes.GET_PARTITION_LEADERS) == [1, 1]  # connect, then the refresh after not-leader


async def test_a_home_leader_cut_off_from_the_cluster_is_not_asked_again(cluster: Cluster) -> None:
    """Seed 10 of the fault suite: the home node leads partition 1, is cut off, refuses (no
    quorum) and, hearing nothing, still names itself leader. The retry goes to the other
    node, which forwards to the new leader, instead of back home until the heal."""
    async with _client() as client:
        await _send(client, 1)
        cluster.fail[(1, codes.SEND_MESSAGES_APPENDED)] = [NotLeader(), NotLeader(), NotLeader()]
        await _send(client, 1)
        await _send(client, 1)  # a new request starts at the route again
    assert cluster.on(codes.SEND_MESSAGES_APPENDED) == [1, 1, 2, 1, 2]


async def test_a_home_cut_off_that_calls_every_other_node_unreachable_is_not_asked_again(cluster: Cluster) -> None:
    """Fault suite, seed 214: the home node, cut off, reports the other nodes unreachable,
    so the table has no usable node but home and partition 0 (led by node 2) goes home;
    home refuses (it waits for no failover it cannot hear of). The retry must go to node 2
    all the same: of two views, the refusing node's is the one to doubt. Before, the
    client asked home again and again until the heal, on every partition."""
    cluster.status_of_2 = 3
    async with _client() as client:
        cluster.fail[(1, codes.SEND_MESSAGES_APPENDED)] = [NotLeader()]
        await _send(client, 0)
    assert cluster.on(codes.SEND_MESSAGES_APPENDED) == [1, 2]


async def test_when_every_node_refused_the_round_starts_again(cluster: Cluster) -> None:
    async with _client() as client:
        await _send(client, 1)
        cluster.fail[(1, codes.SEND_MESSAGES_APPENDED)] = [NotLeader(), NotLeader()]
        cluster.fail[(2, codes.SEND_MESSAGES_APPENDED)] = [NotLeader()]
        await _send(client, 1)
    assert cluster.on(codes.SEND_MESSAGES_APPENDED) == [1, 1, 2, 1, 2]


async def test_callers_that_connect_at_once_share_one_home_connection(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A producer's partition loops all call connect() before their first send: one
    bootstrap, not one per caller (the others' connections were left open, unread)."""
    opened: list[int] = []

    async def slow_open(address: NodeAddress, *args: Any) -> Any:
        await asyncio.sleep(0)  # let the other callers reach connect() meanwhile
        opened.append(address.port)
        return await cluster.open(address, *args)

    monkeypatch.setattr("whippet.sdk._core.open_transport", slow_open)
    client = _client()
    try:
        await asyncio.gather(*(client.connect() for _ in range(4)))
    finally:
        await client.close()
    assert opened == [1]
    assert cluster.on(codes.LOGIN_USER) == [1]
