"""What the console pages show, gathered with wire commands run as the viewer.

Nothing here reads node internals: cluster health comes from GET_CLUSTER_METADATA
(roles, and each node's status as this node's peer pings see it) and
GET_PARTITION_STATES (9005: each partition as its leader sees it, whichever node
leads it), groups and their lag from the consumer-group and offset commands,
messages from polls by offset or timestamp that store nothing. So the console
shows what the user may see over TCP, no more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.batch import PolledMessage, parse_polled
from whippet.wire.errors import IggyError
from whippet.wire.header_values import decode_headers
from whippet.wire.primitives import Consumer, Identifier, PollingStrategy

if TYPE_CHECKING:
    from whippet.node.http.console.session import Viewer

__all__ = [
    "ClusterHealth",
    "GroupLag",
    "cluster_health",
    "group_lags",
    "messages",
    "render_payload",
    "topic_states",
]

ROLES = {0: "leader", 1: "follower"}
STATUSES = {0: "healthy", 1: "starting", 2: "stopping", 3: "unreachable", 4: "maintenance"}


def ident(value: int | str) -> Identifier:
    return Identifier.parse(str(value))


@dataclass
class ClusterHealth:
    metadata: rs.ClusterMetadata
    topics: list[rs.PartitionStates] = field(default_factory=list)

    @property
    def raft_leader(self) -> str | None:
        return next((n.name for n in self.metadata.nodes if n.role == 0), None)

    @property
    def nodes_up(self) -> int:
        return sum(1 for n in self.metadata.nodes if n.status == 0)

    @property
    def partitions(self) -> int:
        return sum(len(t.partitions) for t in self.topics)

    def problems(self) -> list[tuple[str, str, int, str]]:
        out = []
        for t in self.topics:
            for p in t.partitions:
                if p.leader_node_id is None:
                    out.append((t.stream_name, t.topic_name, p.partition_id, "no leader"))
                elif p.source_name == "metadata":
                    out.append((t.stream_name, t.topic_name, p.partition_id, f"leader {p.leader_node_id} does not answer"))
                elif p.under_replicated:
                    out.append((t.stream_name, t.topic_name, p.partition_id,
                                f"under-replicated: {len(p.in_sync)}/{len(p.replicas)} in sync"))
        return out


async def cluster_health(v: Viewer) -> ClusterHealth:
    health = ClusterHealth(rs.ClusterMetadata.decode(await v.run(rq.GetClusterMetadata())))
    for s in rs.decode_streams(await v.run(rq.GetStreams())):
        for t in rs.decode_topics(await v.run(rq.GetTopics(stream_id=ident(s.id)))):
            try:
                health.topics.append(await topic_states(v, s.id, t.id))
            except IggyError:  # a topic deleted meanwhile, or one the user may not read
                continue
    return health


async def topic_states(v: Viewer, stream: int | str, topic: int | str) -> rs.PartitionStates:
    return rs.PartitionStates.decode(
        await v.run(rq.GetPartitionStates(stream_id=ident(stream), topic_id=ident(topic), partitions=[]))
    )


@dataclass
class GroupLag:
    """One consumer group on one topic: its members, and per partition the owner,
    the stored offset and how many visible messages lie after it."""

    group: rs.ConsumerGroupDetails
    rows: list[tuple[int, int | None, int | None, int, int]]  # partition, member, stored, high watermark, lag

    @property
    def total(self) -> int:
        return sum(r[4] for r in self.rows)


async def group_lags(v: Viewer, stream: int | str, topic: int | str, only: int | str | None = None) -> list[GroupLag]:
    states = await topic_states(v, stream, topic)
    groups = rs.decode_consumer_groups(await v.run(rq.GetConsumerGroups(stream_id=ident(stream), topic_id=ident(topic))))
    out = []
    for g in groups:
        if only is not None and str(only) not in (str(g.id), g.name):
            continue
        body = await v.run(rq.GetConsumerGroup(stream_id=ident(stream), topic_id=ident(topic), group_id=ident(g.id)))
        if not body:
            continue
        details = rs.ConsumerGroupDetails.decode(body)
        owner = {p: m.id for m in details.members for p in m.partitions}
        rows = []
        for p in states.partitions:
            raw = await v.run(rq.GetConsumerOffset(consumer=Consumer.group(g.id), stream_id=ident(stream),
                                                   topic_id=ident(topic), partition_id=p.partition_id))
            stored = rs.ConsumerOffsetInfo.decode(raw).stored_offset if raw else None
            start = stored + 1 if stored is not None else p.first_offset
            rows.append((p.partition_id, owner.get(p.partition_id), stored, p.high_watermark,
                         max(p.high_watermark - start, 0)))
        out.append(GroupLag(details, rows))
    return out


async def messages(
    v: Viewer, stream: int | str, topic: int | str, partition: int, *, offset: int | None, timestamp_us: int | None,
    count: int,
) -> tuple[rs.PolledHead, list[PolledMessage]]:
    """Messages from an offset (or the first at/after a timestamp), without storing any offset."""
    strategy = PollingStrategy.timestamp(timestamp_us) if timestamp_us is not None else PollingStrategy.offset(offset or 0)
    body = await v.run(rq.PollMessages(consumer=Consumer.consumer(0), stream_id=ident(stream), topic_id=ident(topic),
                                       partition_id=partition, strategy=strategy, count=count, auto_commit=False))
    return parse_polled(body)


def render_payload(payload: bytes, fmt: str) -> str:
    """A payload as ``text`` (UTF-8, bad bytes replaced), ``json`` (indented, or a note and the
    text when it is not JSON) or ``hex`` (16 bytes a line)."""
    if fmt == "hex":
        return "\n".join(payload[i : i + 16].hex(" ") for i in range(0, len(payload), 16))
    text = payload.decode(errors="replace")
    if fmt == "json":
        try:
            return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
        except ValueError:
            return "(not JSON)\n" + text
    return text


def headers_of(message: PolledMessage) -> list[tuple[str, str, str]]:
    """(name, kind, value) of a message's headers; the raw bytes in hex when they are not valid."""
    if not message.user_headers:
        return []
    try:
        return [(k, h.kind_name, str(h)) for k, h in decode_headers(message.user_headers).items()]
    except IggyError:
        return [("(invalid headers)", "raw", message.user_headers.hex())]


def as_text(value: Any) -> str:
    return "-" if value is None else str(value)
