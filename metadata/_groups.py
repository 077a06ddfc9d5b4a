"""Command handlers for consumer groups and their membership.

Assignment rule: **sticky and balanced**. On every membership or partition-count
change each member keeps the partitions it owns up to its quota (the partition
count spread as evenly as possible, the larger quotas going to the members that
already own more), and only the rest moves: a leaving member's partitions go to
the members under quota, a joining member takes the surplus of the others. So a
partition changes hands only when it must, and never between two members that
both stay (which is what lets commit-after-processing consumers see every message
once when a member leaves). Iggy 0.8 goes one step further on a join (a moved
partition waits until its old owner commits); here a join moves it at once.
Members are identified by (node_id, client_id): client ids are per node.
"""

from __future__ import annotations

from whippet.metadata import _lookup, _offsets
from whippet.metadata.commands import (
    CreateConsumerGroup,
    DeleteConsumerGroup,
    DropClientMemberships,
    DropNodeMemberships,
    JoinConsumerGroup,
    LeaveConsumerGroup,
)
from whippet.metadata.events import Event, GroupCreated, GroupDeleted, MembershipChanged
from whippet.metadata.model import ConsumerGroup, Member, MetadataState, Topic
from whippet.wire.errors import ConsumerGroupMemberNotFound, ConsumerGroupNameAlreadyExists


def rebalance(topic: Topic, group: ConsumerGroup) -> None:
    """Sticky, balanced assignment (see the module docstring); deterministic.

    Every call is a new generation of the group's assignment (0.9 clients compare it)."""
    group.generation += 1
    members = [group.members[mid] for mid in sorted(group.members)]
    n = len(topic.partitions)
    if not members:
        return
    base, extra = divmod(n, len(members))
    owned = {m.id: sorted(p for p in set(m.partitions) if p < n) for m in members}
    by_load = sorted(members, key=lambda m: (-len(owned[m.id]), m.id))
    quota = {m.id: base + (1 if rank < extra else 0) for rank, m in enumerate(by_load)}
    free: set[int] = set(range(n))
    for m in members:
        keep = owned[m.id][: quota[m.id]]
        m.partitions = keep
        free -= set(keep)
    pool = sorted(free)
    for m in sorted(members, key=lambda m: (len(m.partitions) - quota[m.id], m.id)):
        take = quota[m.id] - len(m.partitions)
        m.partitions = sorted(m.partitions + pool[:take])
        pool = pool[take:]


def rebalance_topic(topic: Topic, ev: list[Event]) -> None:
    """Reassign every group of ``topic`` after its partition count changed."""
    for gid in sorted(topic.consumer_groups):
        group = topic.consumer_groups[gid]
        rebalance(topic, group)
        if group.members:
            ev.append(MembershipChanged(topic.stream_id, topic.id, gid))


def _find(group: ConsumerGroup, node_id: int, client_id: int) -> Member | None:
    for m in group.members.values():
        if m.node_id == node_id and m.client_id == client_id:
            return m
    return None


def create_group(st: MetadataState, cmd: CreateConsumerGroup, ev: list[Event]) -> int:
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    if cmd.name in t.group_by_name:
        raise ConsumerGroupNameAlreadyExists(
            f"consumer group {cmd.name!r} already exists in topic {t.id}"
        )
    gid = t.group_ids.take()
    t.consumer_groups[gid] = ConsumerGroup(gid, cmd.name)
    t.group_by_name[cmd.name] = gid
    ev.append(GroupCreated(t.stream_id, t.id, gid))
    return gid


def delete_group(st: MetadataState, cmd: DeleteConsumerGroup, ev: list[Event]) -> None:
    g = _lookup.group(st, cmd.stream_id, cmd.topic_id, cmd.group_id)
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    del t.consumer_groups[g.id]
    del t.group_by_name[g.name]
    t.group_ids.release(g.id)
    _offsets.clear_group(t, g.id)
    ev.append(GroupDeleted(t.stream_id, t.id, g.id))


def join_group(st: MetadataState, cmd: JoinConsumerGroup, ev: list[Event]) -> int:
    """Idempotent: joining again returns the existing member id and changes nothing.
    Returns the member id."""
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    g = _lookup.group(st, cmd.stream_id, cmd.topic_id, cmd.group_id)
    existing = _find(g, cmd.node_id, cmd.client_id)
    if existing is not None:
        return existing.id
    mid = max(g.members) + 1 if g.members else 0
    g.members[mid] = Member(mid, cmd.node_id, cmd.client_id)
    rebalance(t, g)
    ev.append(MembershipChanged(t.stream_id, t.id, g.id))
    return mid


def leave_group(st: MetadataState, cmd: LeaveConsumerGroup, ev: list[Event]) -> None:
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    g = _lookup.group(st, cmd.stream_id, cmd.topic_id, cmd.group_id)
    member = _find(g, cmd.node_id, cmd.client_id)
    if member is None:
        raise ConsumerGroupMemberNotFound(
            f"client {cmd.client_id} on node {cmd.node_id} is not a member of group {g.id}"
        )
    del g.members[member.id]
    rebalance(t, g)
    ev.append(MembershipChanged(t.stream_id, t.id, g.id))


def _drop(st: MetadataState, ev: list[Event], node_id: int, client_id: int | None) -> None:
    for sid in sorted(st.streams):
        s = st.streams[sid]
        for tid in sorted(s.topics):
            t = s.topics[tid]
            for gid in sorted(t.consumer_groups):
                g = t.consumer_groups[gid]
                gone = [
                    m.id
                    for m in g.members.values()
                    if m.node_id == node_id and (client_id is None or m.client_id == client_id)
                ]
                if gone:
                    for mid in gone:
                        del g.members[mid]
                    rebalance(t, g)
                    ev.append(MembershipChanged(sid, tid, gid))


def drop_client(st: MetadataState, cmd: DropClientMemberships, ev: list[Event]) -> None:
    _drop(st, ev, cmd.node_id, cmd.client_id)


def drop_node(st: MetadataState, cmd: DropNodeMemberships, ev: list[Event]) -> None:
    _drop(st, ev, cmd.node_id, None)
