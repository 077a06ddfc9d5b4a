"""Streams, topics, partitions, placement and nodes: happy paths and rejections."""

from __future__ import annotations

import pytest

from tests.unit.metadata.metadata_helpers import machine_with_topic, node, reject, topic_cmd
from whippet.metadata import commands as c
from whippet.metadata import events as e
from whippet.metadata.machine import MetadataMachine
from whippet.metadata.model import ClusterNode
from whippet.wire.errors import (
    InvalidCommand,
    InvalidPartitionsCount,
    PartitionNotFound,
    StreamIdNotFound,
    StreamNameAlreadyExists,
    TooManyPartitions,
    TopicIdNotFound,
    TopicNameAlreadyExists,
)


def test_create_stream_and_lookups() -> None:
    m = MetadataMachine()
    assert m.apply(c.CreateStream("a", 11)) == 0
    assert m.events == [e.StreamCreated(0)]
    assert m.apply(c.CreateStream("b", 12)) == 1
    s = m.stream("b")
    assert (s.id, s.name, s.created_at, s.topics) == (1, "b", 12, {})
    assert m.stream(1) is s
    assert [x.id for x in m.streams()] == [0, 1]
    for key in (2, "c", "A"):  # names are case-sensitive
        with pytest.raises(StreamIdNotFound):
            m.stream(key)


def test_stream_rejections() -> None:
    m = MetadataMachine()
    m.apply(c.CreateStream("a", 1))
    m.apply(c.CreateStream("b", 1))
    reject(m, c.CreateStream("a", 2), StreamNameAlreadyExists)
    reject(m, c.UpdateStream(0, "b"), StreamNameAlreadyExists)
    for cmd in (c.UpdateStream(9, "z"), c.DeleteStream(9), c.PurgeStream(9)):
        reject(m, cmd, StreamIdNotFound)


def test_update_delete_purge_stream() -> None:
    m = machine_with_topic()
    m.apply(c.UpdateStream(0, "s"))  # same name: accepted, nothing to do
    assert m.events == []
    m.apply(c.UpdateStream(0, "renamed"))
    assert m.events == [e.StreamUpdated(0)]
    assert m.stream("renamed").id == 0
    with pytest.raises(StreamIdNotFound):
        m.stream("s")
    m.apply(c.PurgeStream(0))
    assert m.events == [e.StreamPurged(0, (0,))]
    m.apply(c.DeleteStream(0))
    assert m.events == [e.StreamDeleted(0, (0,))]
    assert m.streams() == []
    assert m.apply(c.CreateStream("renamed", 2)) == 0  # name and id free again


def test_ids_reuse_most_recently_freed_first() -> None:
    m = MetadataMachine()
    for i in range(5):
        m.apply(c.CreateStream(f"s{i}", 0))
    m.apply(c.DeleteStream(1))
    m.apply(c.DeleteStream(3))
    assert m.apply(c.CreateStream("x", 0)) == 3
    assert m.apply(c.CreateStream("y", 0)) == 1
    assert m.apply(c.CreateStream("z", 0)) == 5
    # topics are per stream and follow the same rule
    for i in range(3):
        m.apply(topic_cmd(stream_id=0, name=f"t{i}"))
    assert m.apply(topic_cmd(stream_id=1, name="t0")) == 0
    m.apply(c.DeleteTopic(0, 0))
    m.apply(c.DeleteTopic(0, 2))
    assert m.apply(topic_cmd(stream_id=0, name="n1")) == 2
    assert m.apply(topic_cmd(stream_id=0, name="n2")) == 0
    assert m.apply(topic_cmd(stream_id=0, name="n3")) == 3


def test_create_topic_places_partitions_round_robin() -> None:
    m = MetadataMachine()
    for i in (5, 2, 9):  # registration order does not matter: sorted ids 2, 5, 9
        m.apply(c.RegisterNode(node(i)))
    m.apply(c.CreateStream("s", 0))
    assert m.apply(c.CreateTopic(0, "t", 4, 2, 10, 20, 2, 99)) == 0
    t = m.topic(0, "t")
    assert [p.replicas for p in t.partitions] == [[2, 5], [5, 9], [9, 2], [2, 5]]
    assert [p.leader for p in t.partitions] == [2, 5, 9, 2]
    assert all(p.epoch == 0 and p.created_at == 99 for p in t.partitions)
    assert (t.compression, t.message_expiry, t.max_topic_size, t.replication_factor) == (
        2,
        10,
        20,
        2,
    )
    placements = tuple(
        e.PartitionPlacement(p.id, tuple(p.replicas), p.leader, 0) for p in t.partitions
    )
    assert m.events == [e.TopicCreated(0, 0, placements)]
    # replication factor is capped at the node count; 0 means 1
    m.apply(c.CreateTopic(0, "big", 2, 1, 0, 0, 7, 0))
    assert [len(p.replicas) for p in m.topic(0, "big").partitions] == [3, 3]
    m.apply(c.CreateTopic(0, "zero", 1, 1, 0, 0, 0, 0))
    assert m.topic(0, "zero").replication_factor == 1
    assert m.topic(0, "zero").partitions[0].replicas == [2]


def test_single_node_holds_everything() -> None:
    m = machine_with_topic(nodes=1, partitions=5)
    assert {(tuple(p.replicas), p.leader) for p in m.topic(0, 0).partitions} == {((0,), 0)}


def test_partitions_without_nodes_are_placed_on_registration() -> None:
    m = MetadataMachine()
    m.apply(c.CreateStream("s", 0))
    m.apply(topic_cmd(partitions=2))
    assert [(p.replicas, p.leader) for p in m.topic(0, 0).partitions] == [([], -1), ([], -1)]
    m.apply(c.RegisterNode(node(1)))
    assert [(p.replicas, p.leader) for p in m.topic(0, 0).partitions] == [([1], 1), ([1], 1)]
    placed = (e.PartitionPlacement(0, (1,), 1, 0), e.PartitionPlacement(1, (1,), 1, 0))
    assert m.events == [e.NodeRegistered(1), e.PartitionsPlaced(0, 0, placed)]
    m.apply(c.RegisterNode(node(0)))  # existing placements do not move
    assert m.events == [e.NodeRegistered(0)]
    assert m.topic(0, 0).partitions[0].replicas == [1]


def test_register_node_upserts() -> None:
    m = MetadataMachine()
    m.apply(c.RegisterNode(node(1)))
    moved = c.RegisterNode(ClusterNode(1, "n", "h", 1, 2, 3, 4, "h:5"))
    m.apply(moved)
    assert m.nodes() == [moved.node]
    assert m.node(1) == moved.node and m.node(2) is None


def test_topic_rejections() -> None:
    m = machine_with_topic()
    m.apply(topic_cmd(name="other"))
    reject(m, topic_cmd(stream_id=9), StreamIdNotFound)
    reject(m, topic_cmd(name="t"), TopicNameAlreadyExists)
    reject(m, topic_cmd(name="new", partitions=1001), TooManyPartitions)
    reject(m, c.UpdateTopic(0, 0, "other", 1, 0, 0, 1), TopicNameAlreadyExists)
    for cmd in (
        c.UpdateTopic(0, 9, "x", 1, 0, 0, 1),
        c.DeleteTopic(0, 9),
        c.PurgeTopic(0, 9),
        c.CreatePartitions(0, 9, 1, 0),
        c.DeletePartitions(0, 9, 1),
    ):
        reject(m, cmd, TopicIdNotFound)
    for cmd in (c.DeleteTopic(9, 0), c.UpdateTopic(9, 0, "x", 1, 0, 0, 1)):
        reject(m, cmd, StreamIdNotFound)
    with pytest.raises(TopicIdNotFound):
        m.topic(0, "T")


def test_update_delete_purge_topic() -> None:
    m = machine_with_topic()
    m.apply(c.UpdateTopic(0, 0, "t", 2, 5, 6, 0))  # same name is fine
    t = m.topic(0, 0)
    assert (t.name, t.compression, t.message_expiry, t.max_topic_size, t.replication_factor) == (
        "t",
        2,
        5,
        6,
        1,
    )
    m.apply(c.UpdateTopic(0, 0, "t2", 2, 5, 6, 3))
    assert m.events == [e.TopicUpdated(0, 0)]
    assert m.topic(0, "t2") is t and t.replication_factor == 3
    m.apply(c.PurgeTopic(0, 0))
    assert m.events == [e.TopicPurged(0, 0, (0, 1, 2))]
    m.apply(c.DeleteTopic(0, 0))
    assert m.events == [e.TopicDeleted(0, 0, (0, 1, 2))]
    assert m.topics(0) == []


def test_create_and_delete_partitions() -> None:
    m = machine_with_topic(nodes=2, partitions=2)
    m.apply(c.CreatePartitions(0, 0, 3, 77))
    t = m.topic(0, 0)
    assert [p.id for p in t.partitions] == [0, 1, 2, 3, 4]
    assert [p.leader for p in t.partitions] == [0, 1, 0, 1, 0]
    assert t.partitions[4].created_at == 77
    assert m.events[0] == e.PartitionsCreated(
        0, 0, tuple(e.PartitionPlacement(i, (i % 2,), i % 2, 0) for i in (2, 3, 4))
    )
    m.apply(c.DeletePartitions(0, 0, 2))
    assert [p.id for p in t.partitions] == [0, 1, 2]
    assert m.events[0] == e.PartitionsDeleted(0, 0, (3, 4))
    m.apply(c.CreatePartitions(0, 0, 1, 78))  # ids stay contiguous
    assert [p.id for p in t.partitions] == [0, 1, 2, 3]
    assert m.partition(0, 0, 3).created_at == 78
    with pytest.raises(PartitionNotFound):
        m.partition(0, 0, 4)


def test_partition_count_rejections() -> None:
    m = machine_with_topic(partitions=3)
    reject(m, c.CreatePartitions(0, 0, 0, 0), TooManyPartitions)
    reject(m, c.CreatePartitions(0, 0, 1001, 0), TooManyPartitions)
    reject(m, c.DeletePartitions(0, 0, 0), TooManyPartitions)
    reject(m, c.DeletePartitions(0, 0, 4), InvalidPartitionsCount)
    m.apply(c.DeletePartitions(0, 0, 3))
    assert m.topic(0, 0).partitions == []


def test_change_partition_leader() -> None:
    m = machine_with_topic(nodes=3, partitions=2)
    m.apply(c.UpdateTopic(0, 0, "t", 1, 0, 0, 3))
    m.apply(c.CreatePartitions(0, 0, 1, 0))  # partition 2: replicas [2, 0, 1]
    assert m.apply(c.ChangePartitionLeader(0, 0, 2, 1, 0)) == 1
    p = m.partition(0, 0, 2)
    assert (p.leader, p.epoch) == (1, 1)
    assert m.events == [e.PartitionLeaderChanged(0, 0, e.PartitionPlacement(2, (2, 0, 1), 1, 1))]
    reject(m, c.ChangePartitionLeader(0, 0, 2, 0, 0), InvalidCommand)  # stale epoch
    reject(m, c.ChangePartitionLeader(0, 0, 0, 1, 0), InvalidCommand)  # not a replica
    reject(m, c.ChangePartitionLeader(0, 0, 3, 0, 0), PartitionNotFound)
    reject(m, c.ChangePartitionLeader(0, 5, 0, 0, 0), TopicIdNotFound)


def test_unknown_command_type_is_rejected() -> None:
    m = MetadataMachine()
    reject(m, c.Command(), InvalidCommand)
