"""Commands the 0.8 Python SDK does not expose, through our own codec on a real socket:
users, permissions, tokens, purge, delete, partitions, segments, stats, clients, groups."""

from __future__ import annotations

import pytest

from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire.errors import IggyError
from whippet.wire.permissions import GlobalPermissions, Permissions
from whippet.wire.primitives import Consumer, ConsumerKind, Identifier, PollingKind
from whippet.wire.responses import (
    ClientDetails,
    ClusterMetadata,
    ConsumerGroupDetails,
    IdentityInfo,
    RawPersonalAccessToken,
    Stats,
    StreamDetails,
    TopicDetails,
    UserDetails,
    decode_clients,
    decode_consumer_groups,
    decode_personal_access_tokens,
    decode_streams,
    decode_users,
)

pytestmark = pytest.mark.asyncio
S, T = Identifier("s"), Identifier("t")


async def expect(code: int, coro) -> None:
    with pytest.raises(IggyError) as info:
        await coro
    assert info.value.status == code, info.value


async def test_users_lifecycle_and_errors(node) -> None:
    root = await TestClient.connect(node.address)
    perms = Permissions(global_=GlobalPermissions(read_streams=True))
    details = UserDetails.decode(
        await root.call(rq.CreateUser(username="alice", password="alice-pw", status=1, permissions=perms))
    )
    assert details.user.username == "alice" and details.user.id == 1 and details.permissions == perms
    await expect(46, root.call(rq.CreateUser(username="alice", password="x-pw", status=1, permissions=None)))
    await expect(43, root.call(rq.CreateUser(username="al", password="x-pw", status=1, permissions=None)))
    users = decode_users(await root.call(rq.GetUsers()))
    assert [(u.id, u.username) for u in users] == [(0, "iggy"), (1, "alice")]
    got = UserDetails.decode(await root.call(rq.GetUser(user_id=Identifier("alice"))))
    assert got.permissions == perms
    assert await root.call(rq.GetUser(user_id=Identifier("nobody"))) == b""

    alice = await TestClient.connect(node.address, ("alice", "alice-pw"))
    await expect(41, alice.create_stream("nope"))  # read_streams does not allow create
    assert decode_streams(await alice.call(rq.GetStreams())) == []
    await expect(41, alice.call(rq.GetUsers()))
    # Own user: readable; password change needs the current password.
    assert UserDetails.decode(await alice.call(rq.GetUser(user_id=Identifier(1)))).user.username == "alice"
    await expect(42, alice.call(rq.ChangePassword(user_id=Identifier(1), current_password="bad", new_password="new-pw")))
    await alice.call(rq.ChangePassword(user_id=Identifier(1), current_password="alice-pw", new_password="new-pw"))
    await expect(42, alice.login("alice", "alice-pw"))
    await alice.login("alice", "new-pw")

    await root.call(rq.UpdateUser(user_id=Identifier("alice"), username="alice2", status=2))
    await expect(47, alice.login("alice2", "new-pw"))  # inactive
    await root.call(rq.UpdateUser(user_id=Identifier(1), username=None, status=1))
    await root.call(rq.UpdatePermissions(user_id=Identifier(1), permissions=None))
    assert UserDetails.decode(await root.call(rq.GetUser(user_id=Identifier(1)))).permissions is None
    await expect(48, root.call(rq.DeleteUser(user_id=Identifier(0))))
    await expect(49, root.call(rq.UpdatePermissions(user_id=Identifier(0), permissions=None)))
    await root.call(rq.DeleteUser(user_id=Identifier("alice2")))
    await expect(20, root.call(rq.DeleteUser(user_id=Identifier("alice2"))))
    # All-digit usernames are user ids (Iggy's Identifier::from_str quirk).
    assert IdentityInfo.decode(await root.login("0", "iggy")).user_id == 0
    await root.call(rq.LogoutUser())
    await expect(40, root.call(rq.GetStreams()))
    await alice.close()
    await root.close()


async def test_personal_access_tokens(node) -> None:
    root = await TestClient.connect(node.address)
    token = RawPersonalAccessToken.decode(
        await root.call(rq.CreatePersonalAccessToken(name="ci-token", expiry=0))
    ).token
    assert len(token) == 68
    await expect(51, root.call(rq.CreatePersonalAccessToken(name="ci-token", expiry=0)))
    await expect(50, root.call(rq.CreatePersonalAccessToken(name="ab", expiry=0)))
    tokens = decode_personal_access_tokens(await root.call(rq.GetPersonalAccessTokens()))
    assert [(t.name, t.expiry_at) for t in tokens] == [("ci-token", 0)]

    other = await TestClient.connect(node.address, login=None)
    ident = IdentityInfo.decode(await other.call(rq.LoginWithPersonalAccessToken(token=token)))
    assert ident.user_id == 0
    await other.call(rq.GetStreams())
    await root.call(rq.DeletePersonalAccessToken(name="ci-token"))
    await expect(20, other.call(rq.LoginWithPersonalAccessToken(token=token)))
    await expect(20, root.call(rq.DeletePersonalAccessToken(name="ci-token")))
    await other.close()
    await root.close()


async def test_streams_topics_partitions_purge_delete(node) -> None:
    c = await TestClient.connect(node.address)
    await c.create_stream("s")
    await c.create_topic("s", "t", partitions=2)
    await c.send("s", "t", 0, [b"a", b"b"])
    await c.send("s", "t", 1, [b"c"])
    details = StreamDetails.decode(await c.call(rq.GetStream(stream_id=S)))
    assert details.stream.messages_count == 3 and [t.name for t in details.topics] == ["t"]
    topic = TopicDetails.decode(await c.call(rq.GetTopic(stream_id=S, topic_id=T)))
    assert [p.current_offset for p in topic.partitions] == [1, 0]
    assert [p.messages_count for p in topic.partitions] == [2, 1]

    await c.call(rq.CreatePartitions(stream_id=S, topic_id=T, partitions_count=2))
    assert TopicDetails.decode(await c.call(rq.GetTopic(stream_id=S, topic_id=T))).topic.partitions_count == 4
    await c.send("s", "t", 3, [b"d"])
    await c.call(rq.DeletePartitions(stream_id=S, topic_id=T, partitions_count=1))
    assert len(TopicDetails.decode(await c.call(rq.GetTopic(stream_id=S, topic_id=T))).partitions) == 3
    await expect(3007, c.send("s", "t", 3, [b"e"]))

    await c.call(rq.PurgeTopic(stream_id=S, topic_id=T))
    _, msgs = await c.poll("s", "t", 0)
    assert msgs == []
    await c.send("s", "t", 0, [b"fresh"])
    _, msgs = await c.poll("s", "t", 0)
    assert [(m.offset, m.payload) for m in msgs] == [(0, b"fresh")]
    await c.call(rq.PurgeStream(stream_id=S))
    assert StreamDetails.decode(await c.call(rq.GetStream(stream_id=S))).stream.messages_count == 0

    await c.call(rq.UpdateStream(stream_id=S, name="s2"))
    await c.call(
        rq.UpdateTopic(stream_id=Identifier("s2"), topic_id=T, compression=1, message_expiry=0,
                       max_topic_size=0, replication_factor=1, name="t2")
    )
    assert TopicDetails.decode(await c.call(rq.GetTopic(stream_id=Identifier("s2"), topic_id=Identifier("t2")))).topic.name == "t2"
    await c.call(rq.DeleteTopic(stream_id=Identifier("s2"), topic_id=Identifier("t2")))
    await expect(2010, c.call(rq.DeleteTopic(stream_id=Identifier("s2"), topic_id=Identifier("t2"))))
    await c.call(rq.DeleteStream(stream_id=Identifier("s2")))
    await expect(1009, c.call(rq.DeleteStream(stream_id=Identifier("s2"))))
    # Freed ids are reused, most recently freed first.
    await c.create_stream("again")
    assert decode_streams(await c.call(rq.GetStreams()))[0].id == 0
    await c.close()


async def test_delete_segments(node_factory) -> None:
    node = node_factory("segments", extra_env={"WHIPPET_STORAGE_SEGMENT_SIZE": "4096"})
    c = await TestClient.connect(node.address)
    await c.create_stream("s")
    await c.create_topic("s", "t")
    for i in range(10):
        await c.send("s", "t", 0, [bytes(1000)] * 2)
    before = TopicDetails.decode(await c.call(rq.GetTopic(stream_id=S, topic_id=T))).partitions[0]
    assert before.segments_count > 2
    await c.call(rq.DeleteSegments(stream_id=S, topic_id=T, partition_id=0, segments_count=2))
    after = TopicDetails.decode(await c.call(rq.GetTopic(stream_id=S, topic_id=T))).partitions[0]
    assert after.segments_count == before.segments_count - 2
    assert after.current_offset == before.current_offset
    _, msgs = await c.poll("s", "t", 0, kind=PollingKind.FIRST, count=100)
    assert msgs and msgs[0].offset > 0 and msgs[-1].offset == before.current_offset
    await c.close()


async def test_stats_clients_me_cluster(node) -> None:
    c = await TestClient.connect(node.address)
    other = await TestClient.connect(node.address)
    await c.create_stream("s")
    await c.create_topic("s", "t", partitions=3)
    await c.send("s", "t", 0, [b"x" * 10])
    stats = Stats.decode(await c.call(rq.GetStats()))
    assert (stats.streams_count, stats.topics_count, stats.partitions_count) == (1, 1, 3)
    assert stats.messages_count == 1 and stats.clients_count >= 2 and stats.iggy_server_version == "0.8.0"
    clients = decode_clients(await c.call(rq.GetClients()))
    assert len(clients) >= 2 and all(cl.transport == 1 and cl.user_id == 0 for cl in clients)
    me = ClientDetails.decode(await c.call(rq.GetMe()))
    assert me.client.client_id in {cl.client_id for cl in clients}
    one = ClientDetails.decode(await c.call(rq.GetClient(client_id=me.client.client_id)))
    assert one.client.address == me.client.address
    await expect(101, c.call(rq.GetClient(client_id=0)))
    cluster = ClusterMetadata.decode(await c.call(rq.GetClusterMetadata()))
    assert len(cluster.nodes) == 1 and cluster.nodes[0].tcp_port == node.tcp_port
    assert (cluster.nodes[0].role, cluster.nodes[0].status) == (0, 0)
    snap = await c.call(rq.GetSnapshotFile(compression=2, snapshot_types=(100,)))
    assert snap[:2] == b"PK"
    await other.close()
    await c.close()


async def test_consumer_groups_and_group_offsets(node) -> None:
    c = await TestClient.connect(node.address)
    await c.create_stream("s")
    await c.create_topic("s", "t", partitions=3)
    group = ConsumerGroupDetails.decode(await c.call(rq.CreateConsumerGroup(stream_id=S, topic_id=T, name="g")))
    assert group.group.id == 0 and group.group.partitions_count == 3 and group.members == []
    await expect(5004, c.call(rq.CreateConsumerGroup(stream_id=S, topic_id=T, name="g")))
    g = Identifier("g")
    consumer = Consumer(ConsumerKind.CONSUMER_GROUP, g)
    await expect(5006, c.poll("s", "t", None, consumer=consumer))
    await c.call(rq.JoinConsumerGroup(stream_id=S, topic_id=T, group_id=g))
    await c.call(rq.JoinConsumerGroup(stream_id=S, topic_id=T, group_id=g))  # idempotent
    d = await TestClient.connect(node.address)
    await d.call(rq.JoinConsumerGroup(stream_id=S, topic_id=T, group_id=g))
    details = ConsumerGroupDetails.decode(await c.call(rq.GetConsumerGroup(stream_id=S, topic_id=T, group_id=g)))
    owned = sorted(p for m in details.members for p in m.partitions)
    assert len(details.members) == 2 and owned == [0, 1, 2]
    me = ClientDetails.decode(await c.call(rq.GetMe()))
    assert me.consumer_groups == [(0, 0, 0)]
    for p in range(3):
        await c.send("s", "t", p, [f"p{p}".encode()])
    seen = []
    for client in (c, d):
        for _ in range(3):
            head, msgs = await client.poll("s", "t", None, kind=PollingKind.NEXT, consumer=consumer, auto_commit=True)
            seen += [m.payload for m in msgs]
    assert sorted(seen) == [b"p0", b"p1", b"p2"]
    groups = decode_consumer_groups(await c.call(rq.GetConsumerGroups(stream_id=S, topic_id=T)))
    assert [(x.name, x.members_count) for x in groups] == [("g", 2)]
    # The second client disconnects: its partitions go back to the first.
    await d.close()
    for _ in range(50):
        details = ConsumerGroupDetails.decode(await c.call(rq.GetConsumerGroup(stream_id=S, topic_id=T, group_id=g)))
        if len(details.members) == 1:
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert len(details.members) == 1 and sorted(details.members[0].partitions) == [0, 1, 2]
    # Group offsets: stored by group id, readable without membership.
    off = rq.GetConsumerOffset(consumer=consumer, stream_id=S, topic_id=T, partition_id=1)
    stored = await c.call(off)
    assert int.from_bytes(stored[12:20], "little") == 0
    await c.call(rq.LeaveConsumerGroup(stream_id=S, topic_id=T, group_id=g))
    await expect(5006, c.call(rq.LeaveConsumerGroup(stream_id=S, topic_id=T, group_id=g)))
    await c.call(rq.DeleteConsumerGroup(stream_id=S, topic_id=T, group_id=g))
    assert await c.call(rq.GetConsumerGroup(stream_id=S, topic_id=T, group_id=g)) == b""
    await c.close()
