"""The command table: every code of protocol §3 with its name, request class and flags.

This is the one place that lists commands (STYLE principle 2). A code that is not
a key here is unknown and gets :class:`InvalidCommand` (3), which includes 400,
401 and 500-502, undefined at 0.8.

``needs_auth``: every command but Ping, LoginUser and LoginWithPersonalAccessToken
needs a logged-in session (§3).

``repeatable``: a client may send the command again after the connection died with
it in flight (the answer never came): a read, a login, or a write whose repeat is
harmless (a send, deduplicated by message id when ids are set; an offset store;
a group join). Our SDK resends only these.

``login``: the command sets the session's identity; a client replays it on every
new connection.

``replicated``: the command changes the cluster metadata held by the Raft state
machine (users, tokens, streams, topics, partitions, groups and membership), or
is an administrative data operation that must reach every replica of a partition
through that log (purge stream/topic, delete segments). Message traffic and
consumer offsets are not: they belong to the partition leader and travel by log
shipping. Logins, logouts and all reads are local.

Codes past Iggy's table (9001 ``GET_PARTITION_LEADERS``, 9002 ``SET_TOPIC_ACK``,
9003 ``GET_TOPIC_ACK``, 9004 ``SEND_MESSAGES_APPENDED``,
9005 ``GET_PARTITION_STATES``, 9006 ``GET_CONSUMER_ASSIGNMENT``, 9007 ``POLL_MESSAGES_V09``) are whippet's own; a 0.8 server answers them with
InvalidCommand, which our SDK reads as "not offered".
"""

from __future__ import annotations

from dataclasses import dataclass

from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire._fields import WireStruct

__all__ = ["CommandSpec", "COMMAND_TABLE", "command_name"]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    code: int
    name: str
    request: type[WireStruct] | None  # None: SendMessages, parsed by wire.batch
    needs_auth: bool
    replicated: bool
    repeatable: bool = False
    login: bool = False


def _spec(
    request: type[WireStruct],
    name: str,
    *,
    replicated: bool = False,
    auth: bool = True,
    repeat: bool = False,
    login: bool = False,
) -> CommandSpec:
    return CommandSpec(request.CODE, name, request, auth, replicated, repeat or login, login)


_SPECS = (
    # System
    _spec(rq.Ping, "ping", auth=False, repeat=True),
    _spec(rq.GetStats, "stats", repeat=True),
    _spec(rq.GetSnapshotFile, "snapshot"),
    _spec(rq.GetClusterMetadata, "cluster.metadata", repeat=True),
    _spec(rq.GetMe, "me", repeat=True),
    _spec(rq.GetClient, "client.get", repeat=True),
    _spec(rq.GetClients, "client.list", repeat=True),
    # Users
    _spec(rq.GetUser, "user.get", repeat=True),
    _spec(rq.GetUsers, "user.list", repeat=True),
    _spec(rq.CreateUser, "user.create", replicated=True),
    _spec(rq.DeleteUser, "user.delete", replicated=True),
    _spec(rq.UpdateUser, "user.update", replicated=True),
    _spec(rq.UpdatePermissions, "user.permissions", replicated=True),
    _spec(rq.ChangePassword, "user.password", replicated=True),
    _spec(rq.LoginUser, "user.login", auth=False, login=True),
    _spec(rq.LogoutUser, "user.logout"),
    # Personal access tokens
    _spec(rq.GetPersonalAccessTokens, "personal_access_token.list", repeat=True),
    _spec(rq.CreatePersonalAccessToken, "personal_access_token.create", replicated=True),
    _spec(rq.DeletePersonalAccessToken, "personal_access_token.delete", replicated=True),
    _spec(rq.LoginWithPersonalAccessToken, "personal_access_token.login", auth=False, login=True),
    # Messages
    _spec(rq.PollMessages, "message.poll", repeat=True),
    CommandSpec(codes.SEND_MESSAGES, "message.send", None, needs_auth=True, replicated=False, repeatable=True),
    CommandSpec(codes.SEND_MESSAGES_APPENDED, "message.send_appended", None, needs_auth=True, replicated=False,
                repeatable=True),
    _spec(rq.FlushUnsavedBuffer, "message.flush_unsaved_buffer", repeat=True),
    # Consumer offsets
    _spec(rq.GetConsumerOffset, "consumer_offset.get", repeat=True),
    _spec(rq.StoreConsumerOffset, "consumer_offset.store", repeat=True),
    _spec(rq.DeleteConsumerOffset, "consumer_offset.delete"),
    # Streams
    _spec(rq.GetStream, "stream.get", repeat=True),
    _spec(rq.GetStreams, "stream.list", repeat=True),
    _spec(rq.CreateStream, "stream.create", replicated=True),
    _spec(rq.DeleteStream, "stream.delete", replicated=True),
    _spec(rq.UpdateStream, "stream.update", replicated=True),
    _spec(rq.PurgeStream, "stream.purge", replicated=True),
    # Topics
    _spec(rq.GetTopic, "topic.get", repeat=True),
    _spec(rq.GetTopics, "topic.list", repeat=True),
    _spec(rq.CreateTopic, "topic.create", replicated=True),
    _spec(rq.DeleteTopic, "topic.delete", replicated=True),
    _spec(rq.UpdateTopic, "topic.update", replicated=True),
    _spec(rq.PurgeTopic, "topic.purge", replicated=True),
    # Partitions and segments
    _spec(rq.CreatePartitions, "partition.create", replicated=True),
    _spec(rq.DeletePartitions, "partition.delete", replicated=True),
    _spec(rq.DeleteSegments, "segment.delete", replicated=True),
    # Consumer groups
    _spec(rq.GetConsumerGroup, "consumer_group.get", repeat=True),
    _spec(rq.GetConsumerGroups, "consumer_group.list", repeat=True),
    _spec(rq.CreateConsumerGroup, "consumer_group.create", replicated=True),
    _spec(rq.DeleteConsumerGroup, "consumer_group.delete", replicated=True),
    _spec(rq.JoinConsumerGroup, "consumer_group.join", replicated=True, repeat=True),
    _spec(rq.LeaveConsumerGroup, "consumer_group.leave", replicated=True),
    # whippet's own (outside 0.8's table): partition leadership for client routing,
    # a topic's producer ack level
    _spec(rq.GetPartitionLeaders, "cluster.partition_leaders", repeat=True),
    _spec(rq.SetTopicAck, "topic.ack.set", replicated=True),
    _spec(rq.GetTopicAck, "topic.ack.get", repeat=True),
    _spec(rq.GetPartitionStates, "partition.states", repeat=True),
    _spec(rq.GetConsumerAssignment, "consumer_group.assignment", repeat=True),
    CommandSpec(codes.POLL_MESSAGES_V09, "message.poll_v09", rq.PollMessages, needs_auth=True, replicated=False),
)

COMMAND_TABLE: dict[int, CommandSpec] = {spec.code: spec for spec in _SPECS}


def command_name(code: int) -> str:
    """The dotted name of a code, or ``"unknown"`` (for logs and metrics labels)."""
    spec = COMMAND_TABLE.get(code)
    return spec.name if spec is not None else "unknown"
