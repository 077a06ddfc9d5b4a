"""The cluster metadata as plain data: what the state machine holds.

Everything here is mutated only by :class:`~whippet.metadata.machine.MetadataMachine`
(on the Raft apply thread, under the store's lock). Readers hold the same lock and
treat these objects as read-only: they are live views, not copies.

Ids follow Iggy 0.8 (protocol reference section 2): streams, topics (per stream),
consumer groups (per topic) and users are slab keys from 0 where the most recently
freed key is reused first (:class:`IdSlab`); partition ids are list positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from whippet.wire.permissions import Permissions

__all__ = [
    "ROOT_USER_ID",
    "USER_ACTIVE",
    "USER_INACTIVE",
    "AppliedRequest",
    "ClusterNode",
    "ConsumerGroup",
    "OptionEntry",
    "IdSlab",
    "Member",
    "MetadataState",
    "Partition",
    "PersonalAccessToken",
    "Stream",
    "Topic",
    "User",
]

USER_ACTIVE = 1
USER_INACTIVE = 2
ROOT_USER_ID = 0
#: a resource option as a 0.9 client set it: (key, value kind, value bytes)
OptionEntry = tuple[str, int, bytes]


@dataclass(slots=True)
class IdSlab:
    """Key allocation of Rust's ``slab`` crate, which Iggy's ids come from.

    A freed key goes on a stack; the next key is the top of that stack (the most
    recently freed) or, when it is empty, the high-water mark. Persisted as is in
    snapshots, because the free order cannot be rebuilt from the live keys.
    """

    high: int = 0
    free: list[int] = field(default_factory=list)

    def next_key(self) -> int:
        """The key the next :meth:`take` returns (no change)."""
        return self.free[-1] if self.free else self.high

    def take(self) -> int:
        if self.free:
            return self.free.pop()
        key = self.high
        self.high += 1
        return key

    def release(self, key: int) -> None:
        self.free.append(key)


@dataclass(slots=True)
class Partition:
    """One partition's placement: which nodes hold replicas and which one leads.

    ``epoch`` grows by one on every leader change, so a stale leader can be fenced.
    """

    id: int
    created_at: int
    replicas: list[int]
    leader: int
    epoch: int = 0
    #: stored consumer offsets, (kind, consumer id) -> offset; kind 1 consumer, 2 group.
    #: Replicated with the metadata so they survive a partition leader failover.
    offsets: dict[tuple[int, int], int] = field(default_factory=dict)
    #: (leader epoch, sequence) of the last offset change applied: a store proposed
    #: earlier (a late commit after a partition heals) is refused, so a stored offset
    #: never goes back to a value an acknowledged store replaced
    offsets_fence: tuple[int, int] = (0, 0)


@dataclass(slots=True)
class Member:
    """A consumer group member: one client session (``client_id``) on one node."""

    id: int
    node_id: int
    client_id: int
    partitions: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ConsumerGroup:
    id: int
    name: str
    members: dict[int, Member] = field(default_factory=dict)
    #: bumped on every reassignment, so a member can tell a stale assignment (0.9 SyncConsumerGroup)
    generation: int = 0


@dataclass(slots=True)
class Topic:
    id: int
    stream_id: int
    name: str
    created_at: int
    partitions: list[Partition]
    compression: int
    message_expiry: int
    max_topic_size: int
    replication_factor: int
    #: the topic's producer ack level (one of ``wire.ack.ACK_LEVELS``); "" = the node's default
    ack: str = ""
    #: the options a 0.9 client set explicitly (sorted by key); the rest are derived
    options: tuple[OptionEntry, ...] = ()
    consumer_groups: dict[int, ConsumerGroup] = field(default_factory=dict)
    group_ids: IdSlab = field(default_factory=IdSlab)
    group_by_name: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Stream:
    id: int
    name: str
    created_at: int
    topics: dict[int, Topic] = field(default_factory=dict)
    topic_ids: IdSlab = field(default_factory=IdSlab)
    topic_by_name: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class User:
    id: int
    username: str
    password_hash: str
    status: int
    permissions: Permissions | None
    created_at: int


@dataclass(frozen=True, slots=True)
class PersonalAccessToken:
    """A PAT as stored: only the hash of the raw token (BLAKE3 hex) is kept."""

    user_id: int
    name: str
    token_hash: str
    expiry_at: int  # µs since the epoch; 0 = never


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """A server node as clients and peers see it (ports of each transport)."""

    id: int
    name: str
    host: str
    tcp_port: int
    quic_port: int
    http_port: int
    ws_port: int
    raft_address: str


@dataclass(slots=True)
class MetadataState:
    """The whole replicated state; ``*_by_name`` maps are derived indexes."""

    streams: dict[int, Stream] = field(default_factory=dict)
    stream_ids: IdSlab = field(default_factory=IdSlab)
    stream_by_name: dict[str, int] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    user_ids: IdSlab = field(default_factory=IdSlab)
    user_by_name: dict[str, int] = field(default_factory=dict)
    pats: dict[int, dict[str, PersonalAccessToken]] = field(default_factory=dict)
    pat_by_hash: dict[str, PersonalAccessToken] = field(default_factory=dict)
    nodes: dict[int, ClusterNode] = field(default_factory=dict)
    #: 0.9 clients' last applied metadata write: client id (32 hex digits) -> outcome,
    #: oldest first (bounded; see ``metadata._client_requests``)
    client_requests: dict[str, AppliedRequest] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AppliedRequest:
    """The last metadata write a 0.9 client had applied, so a retry gets its outcome again."""

    request: int
    checksum: int
    #: what the command returned (a new id, or None)
    result: int | None
