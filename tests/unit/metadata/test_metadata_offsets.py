"""Consumer offsets in the replicated metadata: store, delete, cleared by purge and group deletion."""

from __future__ import annotations

import pytest

from whippet.metadata import commands as c
from whippet.metadata.machine import MetadataMachine
from whippet.metadata.model import ClusterNode
from whippet.wire.errors import ConsumerOffsetNotFound, IggyError, PartitionNotFound


def _machine() -> MetadataMachine:
    m = MetadataMachine()
    m.apply(c.RegisterNode(ClusterNode(1, "n1", "127.0.0.1", 1, 2, 3, 4, "127.0.0.1:5")))
    m.apply(c.CreateStream("s", 1))
    m.apply(c.CreateTopic(0, "t", 2, 1, 0, 0, 1, 1))
    return m


def test_store_overwrite_delete() -> None:
    m = _machine()
    m.apply(c.StoreConsumerOffset(0, 0, 1, 1, 42, 5))
    m.apply(c.StoreConsumerOffset(0, 0, 1, 1, 42, 9))
    assert m.partition(0, 0, 1).offsets == {(1, 42): 9}
    m.apply(c.DeleteConsumerOffset(0, 0, 1, 1, 42))
    with pytest.raises(ConsumerOffsetNotFound):
        m.apply(c.DeleteConsumerOffset(0, 0, 1, 1, 42))
    with pytest.raises(PartitionNotFound):
        m.apply(c.StoreConsumerOffset(0, 0, 9, 1, 42, 1))
    with pytest.raises(IggyError):
        m.apply(c.StoreConsumerOffset(0, 0, 0, 3, 42, 1))


def test_purge_and_group_delete_clear_offsets_and_snapshot_keeps_them() -> None:
    m = _machine()
    gid = m.apply(c.CreateConsumerGroup(0, 0, "g"))
    m.apply(c.StoreConsumerOffset(0, 0, 0, 2, gid, 3))
    m.apply(c.StoreConsumerOffset(0, 0, 0, 1, 7, 4))
    restored = MetadataMachine.restore(m.snapshot())
    assert restored.partition(0, 0, 0).offsets == {(2, gid): 3, (1, 7): 4}
    m.apply(c.DeleteConsumerGroup(0, 0, gid))
    assert m.partition(0, 0, 0).offsets == {(1, 7): 4}
    m.apply(c.PurgeTopic(0, 0))
    assert m.partition(0, 0, 0).offsets == {}


def test_a_store_proposed_before_an_applied_one_is_refused() -> None:
    """Chaos seed 5 (5 nodes): a store proposed by a partition leader cut off from the
    metadata leader committed after the heal, over a newer acknowledged one, and the
    consumer's stored offset went back. Stores now carry (leader epoch, sequence)."""
    from whippet.metadata.commands import decode_command
    from whippet.wire.errors import NotLeader

    m = _machine()
    m.apply(c.StoreConsumerOffset(0, 0, 1, 1, 42, 100, leader_epoch=3, seq=7))
    late = c.StoreConsumerOffset(0, 0, 1, 1, 42, 60, leader_epoch=3, seq=5)
    with pytest.raises(NotLeader):
        m.apply(decode_command(late.encode()))
    with pytest.raises(NotLeader):
        m.apply(c.StoreConsumerOffset(0, 0, 1, 1, 42, 60, leader_epoch=2, seq=90))  # an old leader
    assert m.partition(0, 0, 1).offsets == {(1, 42): 100}
    m.apply(c.StoreConsumerOffset(0, 0, 1, 1, 42, 10, leader_epoch=4, seq=1))  # a new leader may rewind
    assert m.partition(0, 0, 1).offsets == {(1, 42): 10}
    restored = MetadataMachine.restore(m.snapshot())
    assert restored.partition(0, 0, 1).offsets_fence == (4, 1)
    m.apply(c.StoreConsumerOffset(0, 0, 1, 1, 42, 11))  # written before fences existed: unfenced
    assert m.partition(0, 0, 1).offsets == {(1, 42): 11}
