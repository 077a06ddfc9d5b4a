"""The metadata state machine: pure, deterministic, single-writer.

:meth:`MetadataMachine.apply` is the only mutator. It reads nothing but the command
and the current state (no clock, no randomness, no I/O), so every Raft member that
applies the same log reaches the same state and the same results. A deterministic
rejection raises an :class:`~whippet.wire.errors.IggyError` and leaves the state
unchanged (handlers check everything before they mutate); every member rejects the
same command the same way.

Concurrency: not thread-safe. The Raft binding applies commands on its own thread
under its lock; readers take that lock (``with store.lock: store.machine.stream(1)``)
and treat returned objects as read-only live views.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whippet.metadata import _client_requests, _groups, _lookup, _offsets, _streams, _users
from whippet.metadata import commands as c
from whippet.metadata.events import Event
from whippet.metadata.model import (
    ClusterNode,
    ConsumerGroup,
    Member,
    MetadataState,
    Partition,
    PersonalAccessToken,
    Stream,
    Topic,
    User,
)
from whippet.metadata.snapshot import decode_state, encode_state
from whippet.wire.errors import InvalidCommand

__all__ = ["MetadataMachine"]

Key = int | str
_Handler = Callable[[MetadataState, Any, list[Event]], Any]

_HANDLERS: dict[type[c.Command], _Handler] = {
    c.CreateStream: _streams.create_stream,
    c.UpdateStream: _streams.update_stream,
    c.DeleteStream: _streams.delete_stream,
    c.PurgeStream: _streams.purge_stream,
    c.CreateTopic: _streams.create_topic,
    c.UpdateTopic: _streams.update_topic,
    c.DeleteTopic: _streams.delete_topic,
    c.PurgeTopic: _streams.purge_topic,
    c.SetTopicAck: _streams.set_topic_ack,
    c.CreatePartitions: _streams.create_partitions,
    c.DeletePartitions: _streams.delete_partitions,
    c.ChangePartitionLeader: _streams.change_partition_leader,
    c.RegisterNode: _streams.register_node,
    c.CreateUser: _users.create_user,
    c.UpdateUser: _users.update_user,
    c.UpdatePermissions: _users.update_permissions,
    c.ChangePassword: _users.change_password,
    c.DeleteUser: _users.delete_user,
    c.CreatePersonalAccessToken: _users.create_pat,
    c.DeletePersonalAccessToken: _users.delete_pat,
    c.CreateConsumerGroup: _groups.create_group,
    c.DeleteConsumerGroup: _groups.delete_group,
    c.JoinConsumerGroup: _groups.join_group,
    c.LeaveConsumerGroup: _groups.leave_group,
    c.DropClientMemberships: _groups.drop_client,
    c.DropNodeMemberships: _groups.drop_node,
    c.StoreConsumerOffset: _offsets.store_offset,
    c.DeleteConsumerOffset: _offsets.delete_offset,
}


class MetadataMachine:
    """Streams, topics, partitions, consumer groups, users, tokens and nodes.

    Results of :meth:`apply`: the new id for CreateStream, CreateTopic,
    CreateConsumerGroup and CreateUser; the member id for JoinConsumerGroup; the
    new epoch for ChangePartitionLeader; ``None`` otherwise. ``events`` holds the
    events of the last :meth:`apply` (empty after a rejection).
    """

    def __init__(self, state: MetadataState | None = None) -> None:
        self.state = state if state is not None else MetadataState()
        self.events: list[Event] = []

    # --- mutation -----------------------------------------------------------------------
    def apply(self, cmd: c.Command) -> Any:
        """Apply one command.

        Raises:
            IggyError: a deterministic rejection; the state is unchanged.
        """
        self.events = []
        events: list[Event] = []
        if isinstance(cmd, c.ClientRequest):
            result = _client_requests.apply_client_request(
                self.state, cmd, lambda inner: self._apply_one(inner, events)
            )
        else:
            result = self._apply_one(cmd, events)
        self.events = events
        return result

    def _apply_one(self, cmd: c.Command, events: list[Event]) -> Any:
        handler = _HANDLERS.get(type(cmd))
        if handler is None:
            raise InvalidCommand(f"not a metadata command: {type(cmd).__name__}")
        return handler(self.state, cmd, events)

    # --- snapshots --------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole state as deterministic bytes (see :mod:`.snapshot`)."""
        return encode_state(self.state)

    @classmethod
    def restore(cls, data: bytes) -> MetadataMachine:
        """Raises StateFileCorrupted if ``data`` is damaged."""
        return cls(decode_state(data))

    # --- lookups (reads) --------------------------------------------------------------------
    def stream(self, key: Key) -> Stream:
        """By id or name; raises StreamIdNotFound (1009)."""
        return _lookup.stream(self.state, key)

    def streams(self) -> list[Stream]:
        return [s for _, s in sorted(self.state.streams.items())]

    def topic(self, stream_key: Key, topic_key: Key) -> Topic:
        """Raises StreamIdNotFound or TopicIdNotFound (2010)."""
        return _lookup.topic(self.state, stream_key, topic_key)

    def topics(self, stream_key: Key) -> list[Topic]:
        return [t for _, t in sorted(self.stream(stream_key).topics.items())]

    def partition(self, stream_key: Key, topic_key: Key, partition_id: int) -> Partition:
        """Raises StreamIdNotFound, TopicIdNotFound or PartitionNotFound (3007)."""
        return _lookup.partition(self.state, stream_key, topic_key, partition_id)

    def group(self, stream_key: Key, topic_key: Key, group_key: Key) -> ConsumerGroup:
        """Raises StreamIdNotFound, TopicIdNotFound or ConsumerGroupIdNotFound (5000)."""
        return _lookup.group(self.state, stream_key, topic_key, group_key)

    def groups(self, stream_key: Key, topic_key: Key) -> list[ConsumerGroup]:
        return [g for _, g in sorted(self.topic(stream_key, topic_key).consumer_groups.items())]

    def member(
        self, stream_id: Key, topic_id: Key, group_id: Key, node_id: int, client_id: int
    ) -> Member | None:
        """The client's membership, or None; raises if the group does not exist."""
        for m in self.group(stream_id, topic_id, group_id).members.values():
            if m.node_id == node_id and m.client_id == client_id:
                return m
        return None

    def memberships(self, node_id: int, client_id: int) -> list[tuple[int, int, int]]:
        """(stream_id, topic_id, group_id) of every group the client is in, sorted."""
        out = []
        for sid, s in sorted(self.state.streams.items()):
            for tid, t in sorted(s.topics.items()):
                for gid, g in sorted(t.consumer_groups.items()):
                    if any(
                        m.node_id == node_id and m.client_id == client_id
                        for m in g.members.values()
                    ):
                        out.append((sid, tid, gid))
        return out

    def user(self, key: Key) -> User:
        """By id or username; raises ResourceNotFound (20)."""
        return _lookup.user(self.state, key)

    def users(self) -> list[User]:
        return [u for _, u in sorted(self.state.users.items())]

    def pats(self, user_id: int) -> list[PersonalAccessToken]:
        """The user's tokens sorted by name (empty for an unknown user)."""
        return [p for _, p in sorted(self.state.pats.get(user_id, {}).items())]

    def pat_by_hash(self, token_hash: str) -> PersonalAccessToken | None:
        return self.state.pat_by_hash.get(token_hash)

    def nodes(self) -> list[ClusterNode]:
        return [n for _, n in sorted(self.state.nodes.items())]

    def node(self, node_id: int) -> ClusterNode | None:
        return self.state.nodes.get(node_id)
