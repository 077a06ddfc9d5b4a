"""Consumer groups: ids, membership, rebalancing and rejections."""

from __future__ import annotations

import pytest

from tests.unit.metadata.metadata_helpers import machine_with_topic, reject, topic_cmd
from whippet.metadata import commands as c
from whippet.metadata import events as e
from whippet.metadata.machine import MetadataMachine
from whippet.wire.errors import (
    ConsumerGroupIdNotFound,
    ConsumerGroupMemberNotFound,
    ConsumerGroupNameAlreadyExists,
    StreamIdNotFound,
    TopicIdNotFound,
)


def _assignment(m: MetadataMachine, gid: int = 0) -> dict[tuple[int, int], list[int]]:
    g = m.group(0, 0, gid)
    return {(x.node_id, x.client_id): x.partitions for x in g.members.values()}


def test_create_delete_group_ids_and_lookups() -> None:
    m = machine_with_topic()
    assert m.events == [e.GroupCreated(0, 0, 0)]
    assert m.apply(c.CreateConsumerGroup(0, 0, "g1")) == 1
    assert m.apply(c.CreateConsumerGroup(0, 0, "g2")) == 2
    assert m.group(0, 0, "g1").id == 1 and m.group("s", "t", 2).name == "g2"
    assert [g.id for g in m.groups(0, 0)] == [0, 1, 2]
    m.apply(c.DeleteConsumerGroup(0, 0, 0))
    assert m.events == [e.GroupDeleted(0, 0, 0)]
    m.apply(c.DeleteConsumerGroup(0, 0, 2))
    assert m.apply(c.CreateConsumerGroup(0, 0, "g")) == 2  # most recently freed first
    assert m.apply(c.CreateConsumerGroup(0, 0, "h")) == 0
    m.apply(topic_cmd(name="other"))
    assert m.apply(c.CreateConsumerGroup(0, 1, "g")) == 0  # ids and names are per topic


def test_group_rejections() -> None:
    m = machine_with_topic()
    m.apply(c.JoinConsumerGroup(0, 0, 0, 1, 5))
    reject(m, c.CreateConsumerGroup(0, 0, "g"), ConsumerGroupNameAlreadyExists)
    reject(m, c.CreateConsumerGroup(0, 9, "x"), TopicIdNotFound)
    reject(m, c.CreateConsumerGroup(9, 0, "x"), StreamIdNotFound)
    for cmd in (
        c.DeleteConsumerGroup(0, 0, 4),
        c.JoinConsumerGroup(0, 0, 4, 1, 5),
        c.LeaveConsumerGroup(0, 0, 4, 1, 5),
    ):
        reject(m, cmd, ConsumerGroupIdNotFound)
    reject(m, c.LeaveConsumerGroup(0, 0, 0, 1, 6), ConsumerGroupMemberNotFound)
    reject(
        m, c.LeaveConsumerGroup(0, 0, 0, 2, 5), ConsumerGroupMemberNotFound
    )  # same client, other node
    with pytest.raises(ConsumerGroupIdNotFound):
        m.group(0, 0, "G")


def test_join_is_idempotent_and_takes_only_the_surplus() -> None:
    m = machine_with_topic(partitions=5)
    assert m.apply(c.JoinConsumerGroup(0, 0, 0, 1, 100)) == 0
    assert m.events == [e.MembershipChanged(0, 0, 0)]
    assert _assignment(m) == {(1, 100): [0, 1, 2, 3, 4]}
    assert m.apply(c.JoinConsumerGroup(0, 0, 0, 1, 100)) == 0
    assert m.events == []
    assert m.apply(c.JoinConsumerGroup(0, 0, 0, 2, 100)) == 1  # client ids are per node
    assert m.apply(c.JoinConsumerGroup(0, 0, 0, 1, 7)) == 2
    # 5 partitions over 3 members: 2-2-1, and each join moved only the others' surplus.
    assert _assignment(m) == {(1, 100): [0, 1], (2, 100): [3, 4], (1, 7): [2]}
    assert m.member(0, 0, 0, 1, 7).id == 2  # type: ignore[union-attr]
    assert m.member(0, 0, 0, 3, 7) is None
    with pytest.raises(ConsumerGroupIdNotFound):
        m.member(0, 0, 9, 1, 7)


def test_leave_rebalances_and_member_ids_grow_from_max() -> None:
    m = machine_with_topic(partitions=4)
    for client in (10, 11, 12):
        m.apply(c.JoinConsumerGroup(0, 0, 0, 0, client))
    m.apply(c.LeaveConsumerGroup(0, 0, 0, 0, 11))
    assert m.events == [e.MembershipChanged(0, 0, 0)]
    # Sticky: the leaver's partition goes to a member under quota; the others keep theirs.
    assert _assignment(m) == {(0, 10): [0, 1], (0, 12): [2, 3]}
    assert m.apply(c.JoinConsumerGroup(0, 0, 0, 0, 13)) == 3  # max(0, 2) + 1
    m.apply(c.LeaveConsumerGroup(0, 0, 0, 0, 13))
    m.apply(c.LeaveConsumerGroup(0, 0, 0, 0, 12))
    assert m.apply(c.JoinConsumerGroup(0, 0, 0, 0, 14)) == 1
    m.apply(c.LeaveConsumerGroup(0, 0, 0, 0, 10))
    m.apply(c.LeaveConsumerGroup(0, 0, 0, 0, 14))
    assert m.apply(c.JoinConsumerGroup(0, 0, 0, 0, 15)) == 0  # empty group starts at 0


def test_partition_count_change_rebalances_every_group() -> None:
    m = machine_with_topic(partitions=2)
    m.apply(c.CreateConsumerGroup(0, 0, "empty"))
    m.apply(c.JoinConsumerGroup(0, 0, 0, 0, 1))
    m.apply(c.JoinConsumerGroup(0, 0, 0, 0, 2))
    m.apply(c.CreatePartitions(0, 0, 3, 0))
    assert m.events[-1] == e.MembershipChanged(0, 0, 0)  # the empty group has no event
    assert _assignment(m) == {(0, 1): [0, 2, 3], (0, 2): [1, 4]}
    m.apply(c.DeletePartitions(0, 0, 4))
    assert _assignment(m) == {(0, 1): [0], (0, 2): []}
    m.apply(c.DeletePartitions(0, 0, 1))
    assert _assignment(m) == {(0, 1): [], (0, 2): []}


def test_a_leave_never_moves_a_partition_between_members_that_stay() -> None:
    for partitions in range(1, 9):
        for members in range(2, 6):
            for leaver in range(members):
                m = machine_with_topic(partitions=partitions)
                for client in range(members):
                    m.apply(c.JoinConsumerGroup(0, 0, 0, 0, client))
                before = _assignment(m)
                m.apply(c.LeaveConsumerGroup(0, 0, 0, 0, leaver))
                after = _assignment(m)
                for key, owned in after.items():
                    assert set(before[key]) <= set(owned), (partitions, members, leaver)
                sizes = sorted(len(p) for p in after.values())
                assert sizes[-1] - sizes[0] <= 1 and sum(sizes) == partitions


def test_memberships_and_drops() -> None:
    m = machine_with_topic(partitions=2)
    m.apply(topic_cmd(name="t2"))
    m.apply(c.CreateConsumerGroup(0, 1, "g"))
    m.apply(c.CreateConsumerGroup(0, 0, "g2"))
    m.apply(c.JoinConsumerGroup(0, 0, 0, 1, 5))
    m.apply(c.JoinConsumerGroup(0, 1, 0, 1, 5))
    m.apply(c.JoinConsumerGroup(0, 0, 1, 1, 6))
    m.apply(c.JoinConsumerGroup(0, 0, 1, 2, 5))
    assert m.memberships(1, 5) == [(0, 0, 0), (0, 1, 0)]
    assert m.memberships(9, 9) == []
    m.apply(c.DropClientMemberships(1, 5))
    assert m.events == [e.MembershipChanged(0, 0, 0), e.MembershipChanged(0, 1, 0)]
    assert m.memberships(1, 5) == [] and m.memberships(2, 5) == [(0, 0, 1)]
    m.apply(c.DropClientMemberships(1, 5))  # nothing left: no error, no events
    assert m.events == []
    m.apply(c.DropNodeMemberships(1))
    assert m.events == [e.MembershipChanged(0, 0, 1)]
    assert _assignment(m, 1) == {(2, 5): [0, 1]}


def test_deleting_topic_or_stream_drops_memberships() -> None:
    m = machine_with_topic()
    m.apply(c.JoinConsumerGroup(0, 0, 0, 1, 5))
    m.apply(c.DeleteTopic(0, 0))
    assert m.memberships(1, 5) == []
