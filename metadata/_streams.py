"""Command handlers for streams, topics, partitions and cluster nodes.

Each handler validates everything first and mutates only after the last check
that can fail, so a rejection leaves the state untouched. Handlers append the
events they cause to ``ev`` and return the command's result.
"""

from __future__ import annotations

from whippet.metadata import _lookup, _offsets
from whippet.metadata._groups import rebalance_topic
from whippet.metadata.commands import (
    ChangePartitionLeader,
    CreatePartitions,
    CreateStream,
    CreateTopic,
    DeletePartitions,
    DeleteStream,
    DeleteTopic,
    PurgeStream,
    PurgeTopic,
    RegisterNode,
    SetTopicAck,
    UpdateStream,
    UpdateTopic,
)
from whippet.metadata.events import (
    Event,
    NodeRegistered,
    PartitionLeaderChanged,
    PartitionPlacement,
    PartitionsCreated,
    PartitionsDeleted,
    PartitionsPlaced,
    StreamCreated,
    StreamDeleted,
    StreamPurged,
    StreamUpdated,
    TopicCreated,
    TopicDeleted,
    TopicPurged,
    TopicUpdated,
)
from whippet.metadata.model import MetadataState, Partition, Stream, Topic
from whippet.wire.ack import ACK_LEVELS
from whippet.wire.errors import (
    InvalidCommand,
    InvalidPartitionsCount,
    PartitionNotFound,
    StreamNameAlreadyExists,
    TooManyPartitions,
    TopicNameAlreadyExists,
)

MAX_PARTITIONS_PER_REQUEST = 1000


def placement(p: Partition) -> PartitionPlacement:
    return PartitionPlacement(p.id, tuple(p.replicas), p.leader, p.epoch)


def _place(st: MetadataState, partition_id: int, replication_factor: int) -> list[int]:
    """Replicas of a partition: round-robin over the sorted node ids, starting at
    ``partition_id``, ``replication_factor`` of them capped at the node count. The
    first replica leads. No registered node -> no replicas yet (placed by the
    next RegisterNode)."""
    ids = sorted(st.nodes)
    if not ids:
        return []
    return [ids[(partition_id + k) % len(ids)] for k in range(min(replication_factor, len(ids)))]


def _new_partitions(
    st: MetadataState, topic: Topic, first: int, count: int, created_at: int
) -> list[Partition]:
    out = []
    for pid in range(first, first + count):
        replicas = _place(st, pid, topic.replication_factor)
        out.append(Partition(pid, created_at, replicas, replicas[0] if replicas else -1, 0))
    return out


# --- streams -------------------------------------------------------------------------
def create_stream(st: MetadataState, cmd: CreateStream, ev: list[Event]) -> int:
    if cmd.name in st.stream_by_name:
        raise StreamNameAlreadyExists(f"stream name {cmd.name!r} already exists")
    sid = st.stream_ids.take()
    st.streams[sid] = Stream(sid, cmd.name, cmd.created_at)
    st.stream_by_name[cmd.name] = sid
    ev.append(StreamCreated(sid))
    return sid


def update_stream(st: MetadataState, cmd: UpdateStream, ev: list[Event]) -> None:
    s = _lookup.stream(st, cmd.stream_id)
    if s.name == cmd.name:
        return
    if cmd.name in st.stream_by_name:
        raise StreamNameAlreadyExists(f"stream name {cmd.name!r} already exists")
    del st.stream_by_name[s.name]
    s.name = cmd.name
    st.stream_by_name[s.name] = s.id
    ev.append(StreamUpdated(s.id))


def delete_stream(st: MetadataState, cmd: DeleteStream, ev: list[Event]) -> None:
    s = _lookup.stream(st, cmd.stream_id)
    del st.streams[s.id]
    del st.stream_by_name[s.name]
    st.stream_ids.release(s.id)
    ev.append(StreamDeleted(s.id, tuple(sorted(s.topics))))


def purge_stream(st: MetadataState, cmd: PurgeStream, ev: list[Event]) -> None:
    s = _lookup.stream(st, cmd.stream_id)
    for t in s.topics.values():
        _offsets.clear_topic(t)
    ev.append(StreamPurged(s.id, tuple(sorted(s.topics))))


# --- topics --------------------------------------------------------------------------
def create_topic(st: MetadataState, cmd: CreateTopic, ev: list[Event]) -> int:
    if cmd.partitions_count > MAX_PARTITIONS_PER_REQUEST:
        raise TooManyPartitions(f"{cmd.partitions_count} partitions > {MAX_PARTITIONS_PER_REQUEST}")
    if cmd.ack and cmd.ack not in ACK_LEVELS:
        raise InvalidCommand(f"unknown ack level {cmd.ack!r}")
    s = _lookup.stream(st, cmd.stream_id)
    if cmd.name in s.topic_by_name:
        raise TopicNameAlreadyExists(f"topic name {cmd.name!r} already exists in stream {s.id}")
    tid = s.topic_ids.take()
    topic = Topic(
        id=tid,
        stream_id=s.id,
        name=cmd.name,
        created_at=cmd.created_at,
        partitions=[],
        compression=cmd.compression,
        message_expiry=cmd.message_expiry,
        max_topic_size=cmd.max_topic_size,
        replication_factor=max(1, cmd.replication_factor),
        ack=cmd.ack,
        options=tuple(sorted(cmd.options)),
    )
    topic.partitions = _new_partitions(st, topic, 0, cmd.partitions_count, cmd.created_at)
    s.topics[tid] = topic
    s.topic_by_name[cmd.name] = tid
    ev.append(TopicCreated(s.id, tid, tuple(placement(p) for p in topic.partitions)))
    return tid


def update_topic(st: MetadataState, cmd: UpdateTopic, ev: list[Event]) -> None:
    """Changing ``replication_factor`` applies to partitions created later; existing
    placements stay (moving replicas would need data movement)."""
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    s = st.streams[t.stream_id]
    if cmd.name != t.name and cmd.name in s.topic_by_name:
        raise TopicNameAlreadyExists(f"topic name {cmd.name!r} already exists in stream {s.id}")
    del s.topic_by_name[t.name]
    t.name = cmd.name
    s.topic_by_name[t.name] = t.id
    t.compression = cmd.compression
    t.message_expiry = cmd.message_expiry
    t.max_topic_size = cmd.max_topic_size
    t.replication_factor = max(1, cmd.replication_factor)
    if cmd.options:
        patched = {key for key, _, _ in cmd.options}
        t.options = tuple(sorted([e for e in t.options if e[0] not in patched] + list(cmd.options)))
    ev.append(TopicUpdated(s.id, t.id))


def set_topic_ack(st: MetadataState, cmd: SetTopicAck, ev: list[Event]) -> None:
    """The topic's producer ack level; "" returns it to the node's ``cluster_ack``."""
    if cmd.ack and cmd.ack not in ACK_LEVELS:
        raise InvalidCommand(f"unknown ack level {cmd.ack!r}: must be {', '.join(ACK_LEVELS)} or empty")
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    if t.ack != cmd.ack:
        t.ack = cmd.ack
        ev.append(TopicUpdated(t.stream_id, t.id))


def delete_topic(st: MetadataState, cmd: DeleteTopic, ev: list[Event]) -> None:
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    s = st.streams[t.stream_id]
    del s.topics[t.id]
    del s.topic_by_name[t.name]
    s.topic_ids.release(t.id)
    ev.append(TopicDeleted(s.id, t.id, tuple(range(len(t.partitions)))))


def purge_topic(st: MetadataState, cmd: PurgeTopic, ev: list[Event]) -> None:
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    _offsets.clear_topic(t)
    ev.append(TopicPurged(t.stream_id, t.id, tuple(range(len(t.partitions)))))


# --- partitions ------------------------------------------------------------------------
def create_partitions(st: MetadataState, cmd: CreatePartitions, ev: list[Event]) -> None:
    if not 1 <= cmd.count <= MAX_PARTITIONS_PER_REQUEST:
        raise TooManyPartitions(f"partitions count must be 1..{MAX_PARTITIONS_PER_REQUEST}")
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    new = _new_partitions(st, t, len(t.partitions), cmd.count, cmd.created_at)
    t.partitions.extend(new)
    ev.append(PartitionsCreated(t.stream_id, t.id, tuple(placement(p) for p in new)))
    rebalance_topic(t, ev)


def delete_partitions(st: MetadataState, cmd: DeletePartitions, ev: list[Event]) -> None:
    """Removes the ``count`` highest partition ids, as Iggy does."""
    if cmd.count == 0:
        raise TooManyPartitions("partitions count must be at least 1")
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    if cmd.count > len(t.partitions):
        raise InvalidPartitionsCount(f"topic {t.id} has only {len(t.partitions)} partitions")
    keep = len(t.partitions) - cmd.count
    removed = tuple(p.id for p in t.partitions[keep:])
    del t.partitions[keep:]
    ev.append(PartitionsDeleted(t.stream_id, t.id, removed))
    rebalance_topic(t, ev)


def change_partition_leader(st: MetadataState, cmd: ChangePartitionLeader, ev: list[Event]) -> int:
    """Returns the partition's new epoch."""
    t = _lookup.topic(st, cmd.stream_id, cmd.topic_id)
    if cmd.partition_id >= len(t.partitions):
        raise PartitionNotFound(f"partition {cmd.partition_id} not found in topic {t.id}")
    p = t.partitions[cmd.partition_id]
    if p.epoch != cmd.expected_epoch:
        raise InvalidCommand(f"stale partition epoch {cmd.expected_epoch}, current is {p.epoch}")
    if cmd.leader not in p.replicas:
        raise InvalidCommand(f"node {cmd.leader} is not a replica of partition {p.id}")
    p.leader = cmd.leader
    p.epoch += 1
    ev.append(PartitionLeaderChanged(t.stream_id, t.id, placement(p)))
    return p.epoch


# --- nodes -----------------------------------------------------------------------------
def register_node(st: MetadataState, cmd: RegisterNode, ev: list[Event]) -> None:
    """Adds or updates a node. Existing placements are not moved; partitions
    created while no node was registered get placed now."""
    st.nodes[cmd.node.id] = cmd.node
    ev.append(NodeRegistered(cmd.node.id))
    for sid in sorted(st.streams):
        s = st.streams[sid]
        for tid in sorted(s.topics):
            t = s.topics[tid]
            placed = []
            for p in t.partitions:
                if not p.replicas:
                    p.replicas = _place(st, p.id, t.replication_factor)
                    p.leader = p.replicas[0]
                    placed.append(placement(p))
            if placed:
                ev.append(PartitionsPlaced(sid, tid, tuple(placed)))
