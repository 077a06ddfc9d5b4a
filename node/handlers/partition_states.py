"""The live state of a topic's partitions (9005, whippet's own command), read on their leaders.

What a console or ``whippet partition list`` shows next to the placement (leader,
replicas): the in-sync set, each follower's progress, the high watermark, the log
end and the log's size. Only a partition's leader knows those, so the node asked
splits the request by leader: partitions it leads are answered from its own
leader state; the rest go to their leaders in one forwarded request each, over
the same path sends and polls take (``node.routing.forward``), all at once. A
forwarded request is answered where it lands, never forwarded again: a node that
no longer leads a partition answers its own replica's view marked ``stale``.

A leader that cannot be reached does not fail the answer: its partitions come
back with the metadata's placement and ``source`` = metadata, so a health page
still lists them. Needs the right to read the topic, as GetTopic does.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from whippet.metadata import permissions as perms
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import allowed_topic
from whippet.node.routing import forward
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import IggyError, PartitionNotFound
from whippet.wire.responses import PartitionState, PartitionStates, ReplicaProgress
from whippet.wire.responses_partitions import (
    SOURCE_LEADER,
    SOURCE_METADATA,
    SOURCE_NO_LEADER,
    SOURCE_STALE,
)

if TYPE_CHECKING:
    from whippet.metadata.model import Partition
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["get_partition_states"]


def _local_state(node: Node, key: tuple[int, int, int], part: Partition, leaders: dict[Any, Any]) -> PartitionState:
    """This node's view of one partition: complete when it leads it, its replica's otherwise.
    ``leaders`` is ``node.replicas.leaders()``, read once per request."""
    state = leaders.get(key)
    handle = node.partitions.find(*key)
    plog = handle.log if handle is not None else None
    leading = state is not None and part.leader == node.node_id
    if leading:
        assert state is not None
        source = SOURCE_LEADER
        in_sync = sorted(state.in_sync())
        followers = [ReplicaProgress(node_id=n, log_end=end) for n, end in sorted(state.follower_end.items())]
    else:
        source = SOURCE_NO_LEADER if part.leader < 0 else SOURCE_STALE
        in_sync, followers = [], []
    return PartitionState(
        partition_id=part.id,
        leader_node_id=part.leader if part.leader >= 0 else None,
        epoch=part.epoch,
        source=source,
        reported_by=node.node_id,
        replicas=list(part.replicas),
        in_sync=in_sync,
        followers=followers,
        high_watermark=node.replicas.high_watermark(key) if plog is not None else 0,
        log_end=plog.next_offset if plog is not None else 0,
        first_offset=plog.first_offset if plog is not None else 0,
        size_bytes=plog.size_bytes if plog is not None else 0,
        messages_count=plog.messages_count if plog is not None else 0,
        segments_count=plog.segments_count if plog is not None else 0,
    )


def _placement_only(node: Node, part: Partition, source: int) -> PartitionState:
    return PartitionState(
        partition_id=part.id, leader_node_id=part.leader if part.leader >= 0 else None, epoch=part.epoch,
        source=source, reported_by=node.node_id, replicas=list(part.replicas), in_sync=[], followers=[],
        high_watermark=0, log_end=0, first_offset=0, size_bytes=0, messages_count=0, segments_count=0,
    )


async def _ask_leader(
    node: Node, session: Session, leader: int, req: rq.GetPartitionStates, parts: list[Partition]
) -> list[PartitionState]:
    """The leader's answer for ``parts``; their placement (marked) when it cannot answer."""
    one = rq.GetPartitionStates(stream_id=req.stream_id, topic_id=req.topic_id, partitions=[p.id for p in parts])
    try:
        body = await forward(node, session, leader, codes.GET_PARTITION_STATES, one.encode())
        return PartitionStates.decode(body).partitions
    except IggyError:
        return [_placement_only(node, p, SOURCE_METADATA) for p in parts]


@handler(codes.GET_PARTITION_STATES)
async def get_partition_states(node: Node, session: Session, req: rq.GetPartitionStates) -> Reply:
    with node.meta.lock:
        topic = allowed_topic(node, session, req.stream_id, req.topic_id, perms.can_read_topic)
        stream = node.meta.machine.stream(topic.stream_id)
        wanted = set(req.partitions)
        if wanted - {p.id for p in topic.partitions}:
            raise PartitionNotFound(f"topic {topic.name} has no partition {min(wanted - {p.id for p in topic.partitions})}")
        parts = [p for p in topic.partitions if not wanted or p.id in wanted]
        sid, tid, sname, tname = stream.id, topic.id, stream.name, topic.name
    answered: dict[int, PartitionState] = {}
    remote: dict[int, list[Partition]] = defaultdict(list)
    leaders = node.replicas.leaders()
    for part in parts:
        if part.leader == node.node_id or part.leader < 0 or session.hops > 0:
            answered[part.id] = _local_state(node, (sid, tid, part.id), part, leaders)
        else:
            remote[part.leader].append(part)
    replies = await asyncio.gather(*(_ask_leader(node, session, leader, req, ps) for leader, ps in remote.items()))
    for states in replies:
        answered.update((s.partition_id, s) for s in states)
    ordered = [answered[p.id] for p in parts]
    return PartitionStates(stream_id=sid, topic_id=tid, stream_name=sname, topic_name=tname, partitions=ordered).encode()
