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
