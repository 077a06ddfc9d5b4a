"""Requests of the stream, topic, partition, segment and consumer-group commands (§3.3-§3.5),
and whippet's own topic ack commands (9002/9003)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from whippet.wire import codes
from whippet.wire._codec import Identifier
from whippet.wire._fields import ACK, IDENT, NAME8, U8, U32, U64, WireStruct, counted

__all__ = [
    "GetConsumerAssignment",
    "GetPartitionStates",
    "GetStream",
    "GetStreams",
    "CreateStream",
    "DeleteStream",
    "UpdateStream",
    "PurgeStream",
    "GetTopic",
    "GetTopics",
    "CreateTopic",
    "DeleteTopic",
    "UpdateTopic",
    "PurgeTopic",
    "SetTopicAck",
    "GetTopicAck",
    "CreatePartitions",
    "DeletePartitions",
    "DeleteSegments",
    "GetConsumerGroup",
    "GetConsumerGroups",
    "CreateConsumerGroup",
    "DeleteConsumerGroup",
    "JoinConsumerGroup",
    "LeaveConsumerGroup",
]

_STREAM = (("stream_id", IDENT),)
_TOPIC = (("stream_id", IDENT), ("topic_id", IDENT))
_GROUP = (("stream_id", IDENT), ("topic_id", IDENT), ("group_id", IDENT))


@dataclass(frozen=True, slots=True)
class GetStream(WireStruct):
    CODE: ClassVar[int] = codes.GET_STREAM
    LAYOUT = _STREAM
    stream_id: Identifier


@dataclass(frozen=True, slots=True)
class GetStreams(WireStruct):
    CODE: ClassVar[int] = codes.GET_STREAMS


@dataclass(frozen=True, slots=True)
class CreateStream(WireStruct):
    CODE: ClassVar[int] = codes.CREATE_STREAM
    LAYOUT = (("name", NAME8),)
    name: str


@dataclass(frozen=True, slots=True)
class DeleteStream(WireStruct):
    CODE: ClassVar[int] = codes.DELETE_STREAM
    LAYOUT = _STREAM
    stream_id: Identifier


@dataclass(frozen=True, slots=True)
class UpdateStream(WireStruct):
    CODE: ClassVar[int] = codes.UPDATE_STREAM
    LAYOUT = (("stream_id", IDENT), ("name", NAME8))
    stream_id: Identifier
    name: str


@dataclass(frozen=True, slots=True)
class PurgeStream(WireStruct):
    CODE: ClassVar[int] = codes.PURGE_STREAM
    LAYOUT = _STREAM
    stream_id: Identifier


@dataclass(frozen=True, slots=True)
class GetTopic(WireStruct):
    CODE: ClassVar[int] = codes.GET_TOPIC
    LAYOUT = _TOPIC
    stream_id: Identifier
    topic_id: Identifier


@dataclass(frozen=True, slots=True)
class GetTopics(WireStruct):
    CODE: ClassVar[int] = codes.GET_TOPICS
    LAYOUT = _STREAM
    stream_id: Identifier


@dataclass(frozen=True, slots=True)
class CreateTopic(WireStruct):
    """Fixed part after the stream id: count @+0, compression @+4, expiry @+5,
    max size @+13, replication factor @+21, name @+22 (protocol §3.4).

    ``compression`` 1 none, 2 gzip; ``message_expiry``/``max_topic_size`` 0 = server
    default, u64::MAX = never/unlimited; ``replication_factor`` 0 means 1.

    ``options`` (the topic options a 0.9 client set, ``(key, kind, value)``) and
    ``ack`` (the ack level its ``durability`` option chose) are not on the 0.8
    wire: the 0.8 codec leaves them empty (``wire.v09.requests`` fills them).
    """

    CODE: ClassVar[int] = codes.CREATE_TOPIC
    LAYOUT = (
        ("stream_id", IDENT),
        ("partitions_count", U32),
        ("compression", U8),
        ("message_expiry", U64),
        ("max_topic_size", U64),
        ("replication_factor", U8),
        ("name", NAME8),
    )
    stream_id: Identifier
    partitions_count: int
    compression: int
    message_expiry: int
    max_topic_size: int
    replication_factor: int
    name: str
    options: tuple[tuple[str, int, bytes], ...] = ()
    ack: str = ""
    EXTRA: ClassVar[tuple[str, ...]] = ("options", "ack")


@dataclass(frozen=True, slots=True)
class DeleteTopic(WireStruct):
    CODE: ClassVar[int] = codes.DELETE_TOPIC
    LAYOUT = _TOPIC
    stream_id: Identifier
    topic_id: Identifier


@dataclass(frozen=True, slots=True)
class UpdateTopic(WireStruct):
    """``options``: the keys a 0.9 client patched, as sent (not on the 0.8 wire)."""

    CODE: ClassVar[int] = codes.UPDATE_TOPIC
    LAYOUT = (
        ("stream_id", IDENT),
        ("topic_id", IDENT),
        ("compression", U8),
        ("message_expiry", U64),
        ("max_topic_size", U64),
        ("replication_factor", U8),
        ("name", NAME8),
    )
    stream_id: Identifier
    topic_id: Identifier
    compression: int
    message_expiry: int
    max_topic_size: int
    replication_factor: int
    name: str
    options: tuple[tuple[str, int, bytes], ...] = ()
    EXTRA: ClassVar[tuple[str, ...]] = ("options",)


@dataclass(frozen=True, slots=True)
class PurgeTopic(WireStruct):
    CODE: ClassVar[int] = codes.PURGE_TOPIC
    LAYOUT = _TOPIC
    stream_id: Identifier
    topic_id: Identifier


@dataclass(frozen=True, slots=True)
class SetTopicAck(WireStruct):
    """whippet's own command (not in Iggy 0.8): the ack level sends to the topic wait for.

    ``ack`` is "leader", "quorum", "all", or "" for the node's ``cluster_ack``; on the
    wire one byte, 0 = "" (default), 1 leader, 2 quorum, 3 all. Empty answer.
    """

    CODE: ClassVar[int] = codes.SET_TOPIC_ACK
    LAYOUT = (*_TOPIC, ("ack", ACK))
    stream_id: Identifier
    topic_id: Identifier
    ack: str


@dataclass(frozen=True, slots=True)
class GetTopicAck(WireStruct):
    """whippet's own command: a topic's ack setting and the level in force (``responses.TopicAck``)."""

    CODE: ClassVar[int] = codes.GET_TOPIC_ACK
    LAYOUT = _TOPIC
    stream_id: Identifier
    topic_id: Identifier


@dataclass(frozen=True, slots=True)
class GetPartitionStates(WireStruct):
    """whippet's own command (9005): the live state of a topic's partitions, read on their leaders.

    ``partitions`` lists the partition ids wanted; empty means every partition of the
    topic. The answer is :class:`whippet.wire.responses.PartitionStates`.
    """

    CODE: ClassVar[int] = codes.GET_PARTITION_STATES
    LAYOUT = (*_TOPIC, ("partitions", counted(U32)))
    stream_id: Identifier
    topic_id: Identifier
    partitions: list[int]


@dataclass(frozen=True, slots=True)
class CreatePartitions(WireStruct):
    CODE: ClassVar[int] = codes.CREATE_PARTITIONS
    LAYOUT = (*_TOPIC, ("partitions_count", U32))
    stream_id: Identifier
    topic_id: Identifier
    partitions_count: int


@dataclass(frozen=True, slots=True)
class DeletePartitions(WireStruct):
    """Removes the ``partitions_count`` highest partition ids."""

    CODE: ClassVar[int] = codes.DELETE_PARTITIONS
    LAYOUT = (*_TOPIC, ("partitions_count", U32))
    stream_id: Identifier
    topic_id: Identifier
    partitions_count: int


@dataclass(frozen=True, slots=True)
class DeleteSegments(WireStruct):
    CODE: ClassVar[int] = codes.DELETE_SEGMENTS
    LAYOUT = (*_TOPIC, ("partition_id", U32), ("segments_count", U32))
    stream_id: Identifier
    topic_id: Identifier
    partition_id: int
    segments_count: int


@dataclass(frozen=True, slots=True)
class GetConsumerGroup(WireStruct):
    CODE: ClassVar[int] = codes.GET_CONSUMER_GROUP
    LAYOUT = _GROUP
    stream_id: Identifier
    topic_id: Identifier
    group_id: Identifier


@dataclass(frozen=True, slots=True)
class GetConsumerGroups(WireStruct):
    CODE: ClassVar[int] = codes.GET_CONSUMER_GROUPS
    LAYOUT = _TOPIC
    stream_id: Identifier
    topic_id: Identifier


@dataclass(frozen=True, slots=True)
class CreateConsumerGroup(WireStruct):
    CODE: ClassVar[int] = codes.CREATE_CONSUMER_GROUP
    LAYOUT = (*_TOPIC, ("name", NAME8))
    stream_id: Identifier
    topic_id: Identifier
    name: str


@dataclass(frozen=True, slots=True)
class DeleteConsumerGroup(WireStruct):
    CODE: ClassVar[int] = codes.DELETE_CONSUMER_GROUP
    LAYOUT = _GROUP
    stream_id: Identifier
    topic_id: Identifier
    group_id: Identifier


@dataclass(frozen=True, slots=True)
class JoinConsumerGroup(WireStruct):
    CODE: ClassVar[int] = codes.JOIN_CONSUMER_GROUP
    LAYOUT = _GROUP
    stream_id: Identifier
    topic_id: Identifier
    group_id: Identifier


@dataclass(frozen=True, slots=True)
class GetConsumerAssignment(WireStruct):
    """whippet's own command (9006): this session's member id and partitions in a group
    (``responses.ConsumerAssignment``), so a consumer can say which partitions it gained or lost."""

    CODE: ClassVar[int] = codes.GET_CONSUMER_ASSIGNMENT
    LAYOUT = _GROUP
    stream_id: Identifier
    topic_id: Identifier
    group_id: Identifier


@dataclass(frozen=True, slots=True)
class LeaveConsumerGroup(WireStruct):
    CODE: ClassVar[int] = codes.LEAVE_CONSUMER_GROUP
    LAYOUT = _GROUP
    stream_id: Identifier
    topic_id: Identifier
    group_id: Identifier
