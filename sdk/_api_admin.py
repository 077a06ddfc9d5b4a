"""Command methods for the system, user, token, stream, topic, partition, segment and group commands.

Each method builds the wire request, sends it through the core (which handles
routing and reconnects), and decodes the answer into the ``whippet.wire.responses``
dataclasses. A "get" of something missing returns None (the node answers with an
empty payload, as 0.8 does); every failure is a typed ``IggyError``.
"""

from __future__ import annotations

from typing import Literal

from whippet.sdk._core import ClientCore
from whippet.sdk.messages import as_identifier
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire._codec import U64_MAX, Identifier
from whippet.wire.ack import ACK_LEVELS
from whippet.wire.errors import InvalidCommand, InvalidFormat
from whippet.wire.permissions import Permissions

__all__ = ["AdminApi", "Id"]

Id = Identifier | int | str
_COMPRESSION = {"none": 1, "gzip": 2}
_STATUS = {"active": 1, "inactive": 2}


def compression_code(value: str | int) -> int:
    if isinstance(value, int):
        return value
    try:
        return _COMPRESSION[value.lower()]
    except KeyError:
        raise InvalidFormat(f"compression must be one of {', '.join(_COMPRESSION)}, got {value!r}") from None


def status_code(value: str | int) -> int:
    if isinstance(value, int):
        return value
    try:
        return _STATUS[value.lower()]
    except KeyError:
        raise InvalidFormat(f"user status must be active or inactive, got {value!r}") from None


def ack_setting(value: str | None) -> str:
    """A topic ack setting as the wire carries it: None and "default" mean "" (the node's)."""
    if value is None:
        return ""
    value = value.lower()
    if value == "default":
        return ""
    if value and value not in ACK_LEVELS:
        raise InvalidFormat(f"ack must be one of {', '.join(ACK_LEVELS)} or default, got {value!r}")
    return value


def _ident(value: Id) -> Identifier:
    return as_identifier(value)


class AdminApi(ClientCore):
    # --- system ---
    async def ping(self) -> None:
        await self._call(rq.Ping())

    async def get_stats(self) -> rs.Stats:
        return rs.Stats.decode(await self._call(rq.GetStats()))

    async def get_me(self) -> rs.ClientDetails:
        return rs.ClientDetails.decode(await self._call(rq.GetMe()))

    async def get_client(self, client_id: int) -> rs.ClientDetails | None:
        body = await self._call(rq.GetClient(client_id=client_id))
        return rs.ClientDetails.decode(body) if body else None

    async def get_clients(self) -> list[rs.ClientInfo]:
        return rs.decode_clients(await self._call(rq.GetClients()))

    async def get_cluster_metadata(self) -> rs.ClusterMetadata:
        metadata = rs.ClusterMetadata.decode(await self._call(rq.GetClusterMetadata()))
        self.routing.update(metadata)
        self.pool.merge(self.routing.addresses())
        return metadata

    async def get_snapshot(self, compression: int = 2, snapshot_types: tuple[int, ...] = (100,)) -> bytes:
        """A zip of diagnostics (compression 1 stored .. 6 xz; types (100,) = all)."""
        return await self._call(rq.GetSnapshotFile(compression=compression, snapshot_types=snapshot_types))

    # --- users and sessions ---
    async def login_user(self, username: str, password: str) -> int:
        """Log in; the credentials are replayed after every reconnect. Returns the user id."""
        body = await self._call(rq.LoginUser(username=username, password=password, version="whippet-sdk", context=""))
        self.user_id = rs.IdentityInfo.decode(body).user_id
        return self.user_id

    async def login_with_personal_access_token(self, token: str) -> int:
        body = await self._call(rq.LoginWithPersonalAccessToken(token=token))
        self.user_id = rs.IdentityInfo.decode(body).user_id
        return self.user_id

    async def logout_user(self) -> None:
        await self._call(rq.LogoutUser())
        self.user_id = None

    async def get_user(self, user_id: Id) -> rs.UserDetails | None:
        body = await self._call(rq.GetUser(user_id=_ident(user_id)))
        return rs.UserDetails.decode(body) if body else None

    async def get_users(self) -> list[rs.UserInfo]:
        return rs.decode_users(await self._call(rq.GetUsers()))

    async def create_user(
        self, username: str, password: str, status: str | int = "active", permissions: Permissions | None = None
    ) -> rs.UserDetails:
        req = rq.CreateUser(username=username, password=password, status=status_code(status), permissions=permissions)
        return rs.UserDetails.decode(await self._call(req))

    async def delete_user(self, user_id: Id) -> None:
        await self._call(rq.DeleteUser(user_id=_ident(user_id)))

    async def update_user(self, user_id: Id, username: str | None = None, status: str | int | None = None) -> None:
        code = None if status is None else status_code(status)
        await self._call(rq.UpdateUser(user_id=_ident(user_id), username=username, status=code))

    async def update_permissions(self, user_id: Id, permissions: Permissions | None) -> None:
        await self._call(rq.UpdatePermissions(user_id=_ident(user_id), permissions=permissions))

    async def change_password(self, user_id: Id, current_password: str, new_password: str) -> None:
        await self._call(
            rq.ChangePassword(user_id=_ident(user_id), current_password=current_password, new_password=new_password)
        )

    # --- personal access tokens ---
    async def get_personal_access_tokens(self) -> list[rs.PersonalAccessTokenInfo]:
        return rs.decode_personal_access_tokens(await self._call(rq.GetPersonalAccessTokens()))

    async def create_personal_access_token(self, name: str, expiry_us: int = 0) -> str:
        """Returns the token (shown once); ``expiry_us`` 0 = never expires."""
        body = await self._call(rq.CreatePersonalAccessToken(name=name, expiry=expiry_us))
        return rs.RawPersonalAccessToken.decode(body).token

    async def delete_personal_access_token(self, name: str) -> None:
        await self._call(rq.DeletePersonalAccessToken(name=name))

    # --- streams ---
    async def get_stream(self, stream: Id) -> rs.StreamDetails | None:
        body = await self._call(rq.GetStream(stream_id=_ident(stream)))
        return rs.StreamDetails.decode(body) if body else None

    async def get_streams(self) -> list[rs.StreamInfo]:
        return rs.decode_streams(await self._call(rq.GetStreams()))

    async def create_stream(self, name: str) -> rs.StreamInfo:
        return rs.StreamInfo.decode(await self._call(rq.CreateStream(name=name)))

    async def update_stream(self, stream: Id, name: str) -> None:
        await self._call(rq.UpdateStream(stream_id=_ident(stream), name=name))

    async def delete_stream(self, stream: Id) -> None:
        await self._call(rq.DeleteStream(stream_id=_ident(stream)))

    async def purge_stream(self, stream: Id) -> None:
        await self._call(rq.PurgeStream(stream_id=_ident(stream)))

    # --- topics ---
    async def get_topic(self, stream: Id, topic: Id) -> rs.TopicDetails | None:
        body = await self._call(rq.GetTopic(stream_id=_ident(stream), topic_id=_ident(topic)))
        return rs.TopicDetails.decode(body) if body else None

    async def get_topics(self, stream: Id) -> list[rs.TopicInfo]:
        return rs.decode_topics(await self._call(rq.GetTopics(stream_id=_ident(stream))))

    async def create_topic(
        self,
        stream: Id,
        name: str,
        partitions_count: int = 1,
        compression: Literal["none", "gzip"] | int = "none",
        message_expiry_us: int = 0,
        max_topic_size: int = 0,
        replication_factor: int = 0,
    ) -> rs.TopicDetails:
        """``message_expiry_us``/``max_topic_size`` 0 = the node's default; ``U64_MAX`` = never/unlimited;
        ``replication_factor`` 0 = the node's default."""
        req = rq.CreateTopic(
            stream_id=_ident(stream),
            partitions_count=partitions_count,
            compression=compression_code(compression),
            message_expiry=message_expiry_us,
            max_topic_size=max_topic_size,
            replication_factor=replication_factor,
            name=name,
        )
        return rs.TopicDetails.decode(await self._call(req))

    async def update_topic(
        self,
        stream: Id,
        topic: Id,
        name: str,
        compression: Literal["none", "gzip"] | int = "none",
        message_expiry_us: int = 0,
        max_topic_size: int = 0,
        replication_factor: int = 0,
    ) -> None:
        await self._call(
            rq.UpdateTopic(
                stream_id=_ident(stream),
                topic_id=_ident(topic),
                compression=compression_code(compression),
                message_expiry=message_expiry_us,
                max_topic_size=max_topic_size,
                replication_factor=replication_factor,
                name=name,
            )
        )

    async def delete_topic(self, stream: Id, topic: Id) -> None:
        await self._call(rq.DeleteTopic(stream_id=_ident(stream), topic_id=_ident(topic)))

    async def purge_topic(self, stream: Id, topic: Id) -> None:
        await self._call(rq.PurgeTopic(stream_id=_ident(stream), topic_id=_ident(topic)))

    async def set_topic_ack(self, stream: Id, topic: Id, ack: str | None) -> None:
        """The ack level sends to this topic wait for: "leader", "quorum", "all", or
        None / "" / "default" for the node's ``cluster_ack`` (whippet's own command 9002;
        an Iggy 0.8 server answers InvalidCommand)."""
        await self._call(rq.SetTopicAck(stream_id=_ident(stream), topic_id=_ident(topic), ack=ack_setting(ack)))

    async def get_topic_ack(self, stream: Id, topic: Id) -> rs.TopicAck:
        """The topic's setting ("" = the node's default) and the level in force (command 9003)."""
        return rs.TopicAck.decode(await self._call(rq.GetTopicAck(stream_id=_ident(stream), topic_id=_ident(topic))))

    # --- partitions and segments ---
    async def get_partition_states(
        self, stream: Id, topic: Id, partitions: list[int] | None = None
    ) -> rs.PartitionStates:
        """Each partition's leader, replicas, in-sync set, high watermark and size, as its
        leader sees them (whippet's own command 9005; an Iggy 0.8 server answers InvalidCommand)."""
        req = rq.GetPartitionStates(stream_id=_ident(stream), topic_id=_ident(topic), partitions=list(partitions or []))
        return rs.PartitionStates.decode(await self._call(req))

    async def create_partitions(self, stream: Id, topic: Id, partitions_count: int) -> None:
        await self._call(
            rq.CreatePartitions(stream_id=_ident(stream), topic_id=_ident(topic), partitions_count=partitions_count)
        )

    async def delete_partitions(self, stream: Id, topic: Id, partitions_count: int) -> None:
        """Removes the ``partitions_count`` highest partition ids."""
        await self._call(
            rq.DeletePartitions(stream_id=_ident(stream), topic_id=_ident(topic), partitions_count=partitions_count)
        )

    async def delete_segments(self, stream: Id, topic: Id, partition_id: int, segments_count: int) -> None:
        await self._call(
            rq.DeleteSegments(
                stream_id=_ident(stream), topic_id=_ident(topic), partition_id=partition_id,
                segments_count=segments_count,
            ),
            partition=(stream, topic, partition_id),
        )

    # --- consumer groups ---
    async def get_consumer_group(self, stream: Id, topic: Id, group: Id) -> rs.ConsumerGroupDetails | None:
        body = await self._call(
            rq.GetConsumerGroup(stream_id=_ident(stream), topic_id=_ident(topic), group_id=_ident(group))
        )
        return rs.ConsumerGroupDetails.decode(body) if body else None

    async def get_consumer_groups(self, stream: Id, topic: Id) -> list[rs.ConsumerGroupInfo]:
        body = await self._call(rq.GetConsumerGroups(stream_id=_ident(stream), topic_id=_ident(topic)))
        return rs.decode_consumer_groups(body)

    async def create_consumer_group(self, stream: Id, topic: Id, name: str) -> rs.ConsumerGroupDetails:
        body = await self._call(rq.CreateConsumerGroup(stream_id=_ident(stream), topic_id=_ident(topic), name=name))
        return rs.ConsumerGroupDetails.decode(body)

    async def delete_consumer_group(self, stream: Id, topic: Id, group: Id) -> None:
        await self._call(
            rq.DeleteConsumerGroup(stream_id=_ident(stream), topic_id=_ident(topic), group_id=_ident(group))
        )

    async def get_consumer_assignment(self, stream: Id, topic: Id, group: Id) -> rs.ConsumerAssignment | None:
        """This connection's member id and partitions in ``group`` (whippet's own command 9006);
        None from a server without it (Iggy 0.8). Raises when the group does not exist."""
        req = rq.GetConsumerAssignment(stream_id=_ident(stream), topic_id=_ident(topic), group_id=_ident(group))
        try:
            body = await self._call(req)
        except InvalidCommand:
            return None
        return rs.ConsumerAssignment.decode(body)

    async def join_consumer_group(self, stream: Id, topic: Id, group: Id) -> None:
        """Join; the membership is re-established automatically after a reconnect."""
        s, t, g = _ident(stream), _ident(topic), _ident(group)
        await self._call(rq.JoinConsumerGroup(stream_id=s, topic_id=t, group_id=g))
        self._remember_join(s, t, g, True)

    async def leave_consumer_group(self, stream: Id, topic: Id, group: Id) -> None:
        s, t, g = _ident(stream), _ident(topic), _ident(group)
        self._remember_join(s, t, g, False)
        await self._call(rq.LeaveConsumerGroup(stream_id=s, topic_id=t, group_id=g))


NEVER = U64_MAX
