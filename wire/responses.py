"""Payloads of OK responses (protocol §3, §6.1), for the server to encode and the SDK to decode.

Fixed layouts are :class:`WireStruct` dataclasses like the requests; the details
responses that append a list to a header (stream + topics, topic + partitions,
group + members, client + groups, user + permissions) decode by hand because the
list length comes from the header or from the end of the payload. Field names are
Iggy's. Lists are plain ``list``; ``encode`` writes any sequence.

Counts in a header (``topics_count``, ``partitions_count``, ``members_count``,
``consumer_groups_count``) are encoded as given: the builder keeps them equal to
the list lengths, and decoders of the count-checked lists reject a mismatch with
:class:`InvalidFormat`, as the SDK does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Self, TypeVar

from whippet.wire._codec import Reader, Writer
from whippet.wire._fields import (
    NAME8,
    U8,
    U32,
    U64,
    WireStruct,
    counted,
)
from whippet.wire.errors import InvalidFormat
from whippet.wire.permissions import Permissions
from whippet.wire.primitives import decode_permissions, encode_permissions
from whippet.wire.responses_partitions import (
    NO_MEMBER,
    ConsumerAssignment,
    PartitionState,
    PartitionStates,
    ReplicaProgress,
)
from whippet.wire.responses_system import (
    NO_LEADER,
    NO_USER_ID,
    CacheMetric,
    ClientDetails,
    ClientInfo,
    ClusterMetadata,
    ClusterNode,
    LeaderNode,
    PartitionLeader,
    PartitionLeaders,
    Stats,
    TopicAck,
    TopicLeaders,
)

__all__ = [
    "NO_USER_ID",
    "NO_LEADER",
    "StreamInfo",
    "StreamDetails",
    "TopicInfo",
    "PartitionInfo",
    "TopicDetails",
    "UserInfo",
    "UserDetails",
    "ClientInfo",
    "ClientDetails",
    "ConsumerGroupInfo",
    "ConsumerGroupMember",
    "ConsumerGroupDetails",
    "CacheMetric",
    "Stats",
    "ClusterNode",
    "ClusterMetadata",
    "LeaderNode",
    "PartitionLeader",
    "TopicLeaders",
    "PartitionLeaders",
    "TopicAck",
    "NO_MEMBER",
    "ConsumerAssignment",
    "PartitionState",
    "PartitionStates",
    "ReplicaProgress",
    "ConsumerOffsetInfo",
    "PersonalAccessTokenInfo",
    "RawPersonalAccessToken",
    "IdentityInfo",
    "PolledHead",
    "Appended",
    "encode_many",
    "decode_many",
    "decode_streams",
    "decode_topics",
    "decode_users",
    "decode_clients",
    "decode_consumer_groups",
    "decode_personal_access_tokens",
]

T = TypeVar("T", bound=WireStruct)


@dataclass(frozen=True, slots=True)
class StreamInfo(WireStruct):
    """StreamResponse: id @0, created_at @4, topics_count @12, size_bytes @16,
    messages_count @24, name @32."""

    LAYOUT = (
        ("id", U32),
        ("created_at", U64),
        ("topics_count", U32),
        ("size_bytes", U64),
        ("messages_count", U64),
        ("name", NAME8),
    )
    id: int
    created_at: int
    topics_count: int
    size_bytes: int
    messages_count: int
    name: str


@dataclass(frozen=True, slots=True)
class TopicInfo(WireStruct):
    """TopicHeader: id @0, created_at @4, partitions_count @12, message_expiry @16,
    compression @24, max_topic_size @25, replication_factor @33, size_bytes @34,
    messages_count @42, name @50."""

    LAYOUT = (
        ("id", U32),
        ("created_at", U64),
        ("partitions_count", U32),
        ("message_expiry", U64),
        ("compression", U8),
        ("max_topic_size", U64),
        ("replication_factor", U8),
        ("size_bytes", U64),
        ("messages_count", U64),
        ("name", NAME8),
    )
    id: int
    created_at: int
    partitions_count: int
    message_expiry: int
    compression: int
    max_topic_size: int
    replication_factor: int
    size_bytes: int
    messages_count: int
    name: str


@dataclass(frozen=True, slots=True)
class PartitionInfo(WireStruct):
    """PartitionResponse (40 bytes): id @0, created_at @4, segments_count @12,
    current_offset @16, size_bytes @24, messages_count @32."""

    LAYOUT = (
        ("id", U32),
        ("created_at", U64),
        ("segments_count", U32),
        ("current_offset", U64),
        ("size_bytes", U64),
        ("messages_count", U64),
    )
    id: int
    created_at: int
    segments_count: int
    current_offset: int
    size_bytes: int
    messages_count: int


def _read_rest(r: Reader, cls: type[T]) -> list[T]:
    out = []
    while r.remaining() > 0:
        out.append(cls.read(r))
    return out


def _check_count(what: str, declared: int, got: int) -> None:
    if declared != got:
        raise InvalidFormat(f"{what} says {declared} but the payload holds {got}")


@dataclass(frozen=True, slots=True)
class StreamDetails(WireStruct):
    """GetStream: a StreamInfo, then TopicInfo x topics_count to the end, sorted by id."""

    stream: StreamInfo
    topics: list[TopicInfo]

    @classmethod
    def read(cls, r: Reader) -> Self:
        stream = StreamInfo.read(r)
        topics = _read_rest(r, TopicInfo)
        _check_count("topics_count", stream.topics_count, len(topics))
        return cls(stream, topics)

    def write(self, w: Writer) -> None:
        self.stream.write(w)
        for topic in self.topics:
            topic.write(w)


@dataclass(frozen=True, slots=True)
class TopicDetails(WireStruct):
    """GetTopic/CreateTopic: a TopicInfo, then PartitionInfo x partitions_count to the end."""

    topic: TopicInfo
    partitions: list[PartitionInfo]

    @classmethod
    def read(cls, r: Reader) -> Self:
        topic = TopicInfo.read(r)
        partitions = _read_rest(r, PartitionInfo)
        _check_count("partitions_count", topic.partitions_count, len(partitions))
        return cls(topic, partitions)

    def write(self, w: Writer) -> None:
        self.topic.write(w)
        for partition in self.partitions:
            partition.write(w)


@dataclass(frozen=True, slots=True)
class UserInfo(WireStruct):
    """UserResponse: id @0, created_at @4, status @12 (1 active, 2 inactive), username @13."""

    LAYOUT = (("id", U32), ("created_at", U64), ("status", U8), ("username", NAME8))
    id: int
    created_at: int
    status: int
    username: str


@dataclass(frozen=True, slots=True)
class UserDetails(WireStruct):
    """A UserInfo, then ``01 len u32 permissions`` or ``00 00 00 00`` for none.

    The no-permissions form is a u32 zero; a reader takes one flag byte and skips
    three more, so both sides agree on 4 bytes.
    """

    user: UserInfo
    permissions: Permissions | None

    @classmethod
    def read(cls, r: Reader) -> Self:
        user = UserInfo.read(r)
        if r.u8() == 0:
            r.skip(3)
            return cls(user, None)
        block = r.raw(r.u32())
        return cls(user, decode_permissions(Reader(block)))

    def write(self, w: Writer) -> None:
        self.user.write(w)
        if self.permissions is None:
            w.u32(0)
        else:
            block = encode_permissions(self.permissions)
            w.u8(1).u32(len(block)).raw(block)


@dataclass(frozen=True, slots=True)
class ConsumerGroupInfo(WireStruct):
    """Group: id @0, partitions_count @4, members_count @8, name @12."""

    LAYOUT = (("id", U32), ("partitions_count", U32), ("members_count", U32), ("name", NAME8))
    id: int
    partitions_count: int
    members_count: int
    name: str


@dataclass(frozen=True, slots=True)
class ConsumerGroupMember(WireStruct):
    """Member: id, partitions_count, then that many partition ids.

    The count on the wire is the length of ``partitions``."""

    LAYOUT = (("id", U32), ("partitions", counted(U32)))
    id: int
    partitions: list[int]


@dataclass(frozen=True, slots=True)
class ConsumerGroupDetails(WireStruct):
    """GetConsumerGroup: a ConsumerGroupInfo, then members_count x ConsumerGroupMember."""

    group: ConsumerGroupInfo
    members: list[ConsumerGroupMember]

    @classmethod
    def read(cls, r: Reader) -> Self:
        group = ConsumerGroupInfo.read(r)
        members = [ConsumerGroupMember.read(r) for _ in range(group.members_count)]
        return cls(group, members)

    def write(self, w: Writer) -> None:
        self.group.write(w)
        for member in self.members:
            member.write(w)


@dataclass(frozen=True, slots=True)
class ConsumerOffsetInfo(WireStruct):
    LAYOUT = (("partition_id", U32), ("current_offset", U64), ("stored_offset", U64))
    partition_id: int
    current_offset: int
    stored_offset: int


@dataclass(frozen=True, slots=True)
class PersonalAccessTokenInfo(WireStruct):
    """One entry of GetPersonalAccessTokens; ``expiry_at`` µs, 0 = never."""

    LAYOUT = (("name", NAME8), ("expiry_at", U64))
    name: str
    expiry_at: int


@dataclass(frozen=True, slots=True)
class RawPersonalAccessToken(WireStruct):
    """The token returned once by CreatePersonalAccessToken."""

    LAYOUT = (("token", NAME8),)
    token: str


@dataclass(frozen=True, slots=True)
class IdentityInfo(WireStruct):
    """LoginUser / LoginWithPersonalAccessToken: the user id."""

    LAYOUT = (("user_id", U32),)
    user_id: int


@dataclass(frozen=True, slots=True)
class PolledHead(WireStruct):
    """The 16-byte head of every poll response, followed by ``count`` records (§4.1)."""

    SIZE: ClassVar[int] = 16
    LAYOUT = (("partition_id", U32), ("current_offset", U64), ("count", U32))
    partition_id: int
    current_offset: int
    count: int


@dataclass(frozen=True, slots=True)
class Appended(WireStruct):
    """The answer of SEND_MESSAGES_APPENDED (9004, whippet's own): where a batch went.

    ``stored`` messages were appended at ``first_offset`` .. ``first_offset + stored - 1``
    of ``partition_id``; ``duplicates`` were dropped by deduplication (a retry of messages
    already stored). The send was acknowledged at the topic's ack level either way.
    """

    SIZE: ClassVar[int] = 20
    LAYOUT = (("partition_id", U32), ("first_offset", U64), ("stored", U32), ("duplicates", U32))
    partition_id: int
    first_offset: int
    stored: int
    duplicates: int


def encode_many(items: Iterable[WireStruct]) -> bytes:
    """Concatenate items for the list responses, which have no count prefix."""
    w = Writer()
    for item in items:
        item.write(w)
    return w.getvalue()


def decode_many(cls: type[T], payload: bytes | bytearray | memoryview) -> list[T]:
    """Read ``cls`` items back to back until the payload ends."""
    return _read_rest(Reader(payload), cls)


def decode_streams(payload: bytes | bytearray | memoryview) -> list[StreamInfo]:
    return decode_many(StreamInfo, payload)


def decode_topics(payload: bytes | bytearray | memoryview) -> list[TopicInfo]:
    return decode_many(TopicInfo, payload)


def decode_users(payload: bytes | bytearray | memoryview) -> list[UserInfo]:
    return decode_many(UserInfo, payload)


def decode_clients(payload: bytes | bytearray | memoryview) -> list[ClientInfo]:
    """GetClients: ClientInfo entries only; the 0.8 server sends no group entries here."""
    return decode_many(ClientInfo, payload)


def decode_consumer_groups(payload: bytes | bytearray | memoryview) -> list[ConsumerGroupInfo]:
    return decode_many(ConsumerGroupInfo, payload)


def decode_personal_access_tokens(
    payload: bytes | bytearray | memoryview,
) -> list[PersonalAccessTokenInfo]:
    return decode_many(PersonalAccessTokenInfo, payload)
