"""Shared builders for the metadata tests."""

from __future__ import annotations

from typing import Any

import pytest

from whippet.metadata import commands as c
from whippet.metadata.machine import MetadataMachine
from whippet.metadata.model import ClusterNode
from whippet.wire.errors import IggyError
from whippet.wire.permissions import (
    GlobalPermissions,
    Permissions,
    StreamPermissions,
    TopicPermissions,
)


def node(i: int) -> ClusterNode:
    return ClusterNode(
        i, f"node-{i}", f"10.0.0.{i}", 8090 + i, 8080 + i, 3000 + i, 8092 + i, f"10.0.0.{i}:9000"
    )


def topic_cmd(
    stream_id: int = 0, name: str = "t", partitions: int = 3, rf: int = 1
) -> c.CreateTopic:
    return c.CreateTopic(stream_id, name, partitions, 1, 0, 0, rf, 1_000)


def machine_with_topic(nodes: int = 1, partitions: int = 3) -> MetadataMachine:
    """Nodes 0..nodes-1, stream 0 "s", topic 0 "t", group 0 "g"."""
    m = MetadataMachine()
    for i in range(nodes):
        m.apply(c.RegisterNode(node(i)))
    m.apply(c.CreateStream("s", 1))
    m.apply(topic_cmd(partitions=partitions))
    m.apply(c.CreateConsumerGroup(0, 0, "g"))
    return m


def reject(m: MetadataMachine, cmd: c.Command, exc: type[IggyError]) -> IggyError:
    """Apply ``cmd``, expect ``exc``, and check nothing changed."""
    before = m.snapshot()
    with pytest.raises(exc) as info:
        m.apply(cmd)
    assert m.snapshot() == before
    assert m.events == []
    return info.value


PERMS = Permissions(
    global_=GlobalPermissions(read_streams=True, poll_messages=True),
    streams={
        3: StreamPermissions(manage_stream=True, topics={1: TopicPermissions(send_messages=True)}),
        7: StreamPermissions(read_topics=True),
    },
)

#: one instance of every command, with values that exercise every field type
ALL_COMMANDS: list[Any] = [
    c.CreateStream("orders", 1_700_000_000_000_000),
    c.UpdateStream(1, "orders-2"),
    c.DeleteStream(2),
    c.PurgeStream(0),
    c.CreateTopic(1, "t", 1000, 2, 60_000_000, (1 << 64) - 1, 3, 5),
    c.UpdateTopic(1, 2, "t2", 1, 0, 0, 0),
    c.DeleteTopic(1, 2),
    c.PurgeTopic(1, 2),
    c.CreatePartitions(1, 2, 10, 6),
    c.DeletePartitions(1, 2, 1),
    c.ChangePartitionLeader(1, 2, 3, 4, 5),
    c.CreateUser("ünïcode-user", "$argon2id$v=19$m=19456,t=2,p=1$abc$def", 1, PERMS, 7),
    c.CreateUser("plain", "h", 2, None, 8),
    c.UpdateUser(3, "new", None),
    c.UpdateUser(3, None, 2),
    c.UpdatePermissions(3, PERMS),
    c.UpdatePermissions(3, None),
    c.ChangePassword(3, "h2"),
    c.DeleteUser(3),
    c.CreatePersonalAccessToken(3, "tok", "ab" * 32, 0),
    c.DeletePersonalAccessToken(3, "tok"),
    c.CreateConsumerGroup(1, 2, "g"),
    c.DeleteConsumerGroup(1, 2, 0),
    c.JoinConsumerGroup(1, 2, 0, 1, 0xDEADBEEF),
    c.LeaveConsumerGroup(1, 2, 0, 1, 0xDEADBEEF),
    c.DropClientMemberships(1, 0xDEADBEEF),
    c.DropNodeMemberships(1),
    c.StoreConsumerOffset(0, 0, 0, 1, 7, 3),
    c.DeleteConsumerOffset(0, 0, 0, 2, 1),
    c.RegisterNode(node(2)),
    c.SetTopicAck(1, 2, "all"),
    c.SetTopicAck(1, 2, ""),
    c.CreateTopic(1, "t", 1, 1, 0, 0, 1, 5, (("durability", 2, b"persisted"), ("segment_size", 12, b"\0" * 8)), "all"),
    c.UpdateTopic(1, 2, "t2", 2, 0, 0, 0, (("compression_algorithm", 2, b"gzip"),)),
    c.ClientRequest("0f" * 16, 7, (1 << 64) - 1, c.CreateStream("s", 1)),
]
