"""Sample values of every request and response, shared by the wire tests."""

from __future__ import annotations

from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.permissions import (
    GlobalPermissions,
    Permissions,
    StreamPermissions,
    TopicPermissions,
)
from whippet.wire.primitives import Consumer, Identifier, PollingStrategy

S = Identifier(7)
T = Identifier("orders")
G = Identifier(3)

PERMS = Permissions(
    global_=GlobalPermissions(read_servers=True, poll_messages=True),
    streams={
        1: StreamPermissions(manage_stream=True, topics=None),
        4: StreamPermissions(
            read_topics=True,
            topics={
                2: TopicPermissions(send_messages=True),
                9: TopicPermissions(manage_topic=True),
            },
        ),
    },
)

REQUESTS: list[rq.WireStruct] = [
    rq.Ping(),
    rq.GetStats(),
    rq.GetSnapshotFile(compression=2, snapshot_types=(1, 3)),
    rq.GetSnapshotFile(compression=1, snapshot_types=(100,)),
    rq.GetClusterMetadata(),
    rq.GetPartitionLeaders(),
    rq.GetPartitionLeaders(stream_id=S),
    rq.GetPartitionLeaders(stream_id=S, topic_id=T),
    rq.SetTopicAck(stream_id=S, topic_id=T, ack="all"),
    rq.SetTopicAck(stream_id=S, topic_id=T, ack=""),
    rq.GetTopicAck(stream_id=S, topic_id=T),
    rq.GetPartitionStates(stream_id=S, topic_id=T, partitions=[]),
    rq.GetPartitionStates(stream_id=S, topic_id=T, partitions=[0, 2]),
    rq.GetConsumerAssignment(stream_id=S, topic_id=T, group_id=S),
    rq.GetMe(),
    rq.GetClient(client_id=123456),
    rq.GetClients(),
    rq.GetUser(user_id=Identifier("bob")),
    rq.GetUsers(),
    rq.CreateUser(username="bob", password="secret", status=1, permissions=PERMS),
    rq.CreateUser(username="eve", password="", status=2, permissions=None),
    rq.DeleteUser(user_id=Identifier(2)),
    rq.UpdateUser(user_id=Identifier(2), username="robert", status=2),
    rq.UpdateUser(user_id=Identifier(2), username=None, status=None),
    rq.UpdatePermissions(user_id=Identifier(2), permissions=PERMS),
    rq.UpdatePermissions(user_id=Identifier(2), permissions=None),
    rq.ChangePassword(user_id=Identifier("bob"), current_password="old", new_password="newer"),
    rq.LoginUser(username="iggy", password="iggy", version="0.10.0", context=None),
    rq.LoginUser(username="iggy", password="iggy", version="0.10.0", context="ctx"),
    rq.LogoutUser(),
    rq.GetPersonalAccessTokens(),
    rq.CreatePersonalAccessToken(name="ci-token", expiry=3_600_000_000),
    rq.DeletePersonalAccessToken(name="ci-token"),
    rq.LoginWithPersonalAccessToken(token="dG9rZW4="),
    rq.PollMessages(
        consumer=Consumer.consumer(Identifier(1)),
        stream_id=S,
        topic_id=T,
        partition_id=0,
        strategy=PollingStrategy.offset(42),
        count=100,
        auto_commit=True,
    ),
    rq.PollMessages(
        consumer=Consumer.group(Identifier("workers")),
        stream_id=S,
        topic_id=T,
        partition_id=None,
        strategy=PollingStrategy.next(),
        count=10,
        auto_commit=False,
    ),
    rq.FlushUnsavedBuffer(stream_id=S, topic_id=T, partition_id=1, fsync=True),
    rq.GetConsumerOffset(
        consumer=Consumer.consumer(Identifier(1)), stream_id=S, topic_id=T, partition_id=2
    ),
    rq.StoreConsumerOffset(
        consumer=Consumer.group(G), stream_id=S, topic_id=T, partition_id=None, offset=99
    ),
    rq.DeleteConsumerOffset(
        consumer=Consumer.consumer(Identifier("c")), stream_id=S, topic_id=T, partition_id=0
    ),
    rq.GetStream(stream_id=S),
    rq.GetStreams(),
    rq.CreateStream(name="orders"),
    rq.DeleteStream(stream_id=S),
    rq.UpdateStream(stream_id=S, name="orders-v2"),
    rq.PurgeStream(stream_id=S),
    rq.GetTopic(stream_id=S, topic_id=T),
    rq.GetTopics(stream_id=S),
    rq.CreateTopic(
        stream_id=S,
        partitions_count=3,
        compression=1,
        message_expiry=0,
        max_topic_size=2**64 - 1,
        replication_factor=0,
        name="events",
    ),
    rq.DeleteTopic(stream_id=S, topic_id=T),
    rq.UpdateTopic(
        stream_id=S,
        topic_id=T,
        compression=2,
        message_expiry=60_000_000,
        max_topic_size=0,
        replication_factor=1,
        name="events2",
    ),
    rq.PurgeTopic(stream_id=S, topic_id=T),
    rq.CreatePartitions(stream_id=S, topic_id=T, partitions_count=2),
    rq.DeletePartitions(stream_id=S, topic_id=T, partitions_count=1),
    rq.DeleteSegments(stream_id=S, topic_id=T, partition_id=0, segments_count=5),
    rq.GetConsumerGroup(stream_id=S, topic_id=T, group_id=G),
    rq.GetConsumerGroups(stream_id=S, topic_id=T),
    rq.CreateConsumerGroup(stream_id=S, topic_id=T, name="workers"),
    rq.DeleteConsumerGroup(stream_id=S, topic_id=T, group_id=G),
    rq.JoinConsumerGroup(stream_id=S, topic_id=T, group_id=Identifier("workers")),
    rq.LeaveConsumerGroup(stream_id=S, topic_id=T, group_id=G),
]

STREAM = rs.StreamInfo(
    id=1,
    created_at=1_700_000_000_000_000,
    topics_count=2,
    size_bytes=4096,
    messages_count=10,
    name="orders",
)
TOPIC = rs.TopicInfo(
    id=0,
    created_at=5,
    partitions_count=2,
    message_expiry=2**64 - 1,
    compression=1,
    max_topic_size=0,
    replication_factor=1,
    size_bytes=100,
    messages_count=3,
    name="events",
)
PARTITION = rs.PartitionInfo(
    id=1, created_at=6, segments_count=1, current_offset=2, size_bytes=50, messages_count=3
)
USER = rs.UserInfo(id=0, created_at=8, status=1, username="iggy")
CLIENT = rs.ClientInfo(
    client_id=99,
    user_id=rs.NO_USER_ID,
    transport=1,
    address="127.0.0.1:5555",
    consumer_groups_count=2,
)
GROUP = rs.ConsumerGroupInfo(id=0, partitions_count=3, members_count=2, name="workers")
STATS = rs.Stats(
    process_id=42,
    cpu_usage=1.5,
    total_cpu_usage=12.25,
    memory_usage=1 << 20,
    total_memory=1 << 33,
    available_memory=1 << 32,
    run_time=10,
    start_time=20,
    read_bytes=30,
    written_bytes=40,
    messages_size_bytes=50,
    streams_count=1,
    topics_count=2,
    partitions_count=3,
    segments_count=4,
    messages_count=5,
    clients_count=6,
    consumer_groups_count=7,
    hostname="host",
    os_name="Linux",
    os_version="#1 SMP",
    kernel_version="6.1",
    iggy_server_version="0.8.0",
    iggy_server_semver=8000,
    cache_metrics=[rs.CacheMetric(1, 2, 3, hits=10, misses=2, hit_ratio=0.5)],
    threads_count=8,
    free_disk_space=1000,
    total_disk_space=2000,
)

RESPONSES: list[rs.WireStruct] = [
    STREAM,
    rs.StreamDetails(stream=STREAM, topics=[TOPIC, TOPIC]),
    TOPIC,
    PARTITION,
    rs.TopicDetails(topic=TOPIC, partitions=[PARTITION, PARTITION]),
    USER,
    rs.UserDetails(user=USER, permissions=PERMS),
    rs.UserDetails(user=USER, permissions=None),
    CLIENT,
    rs.ClientDetails(client=CLIENT, consumer_groups=[(1, 2, 3), (4, 5, 6)]),
    GROUP,
    rs.ConsumerGroupMember(id=1, partitions=[0, 2]),
    rs.ConsumerGroupDetails(
        group=GROUP,
        members=[
            rs.ConsumerGroupMember(id=0, partitions=[1]),
            rs.ConsumerGroupMember(id=1, partitions=[0, 2]),
        ],
    ),
    STATS,
    rs.ClusterNode("iggy-node", "127.0.0.1", 8090, 8080, 3000, 8092, role=0, status=0),
    rs.ClusterMetadata(
        name="single-node",
        nodes=[rs.ClusterNode("iggy-node", "127.0.0.1", 8090, 8080, 3000, 8092, role=0, status=0)],
    ),
    rs.PartitionLeaders(
        node_id=2,
        nodes=[rs.LeaderNode(1, "whippet-node-1"), rs.LeaderNode(2, "whippet-node-2")],
        topics=[
            rs.TopicLeaders(7, 1, "s", "orders", [rs.PartitionLeader(0, 2, 3), rs.PartitionLeader(1, None, 0)]),
            rs.TopicLeaders(7, 2, "s", "empty", []),
        ],
    ),
    rs.TopicAck(ack="", effective="quorum"),
    rs.TopicAck(ack="leader", effective="leader"),
    rs.ConsumerOffsetInfo(partition_id=1, current_offset=10, stored_offset=7),
    rs.PersonalAccessTokenInfo(name="ci-token", expiry_at=0),
    rs.RawPersonalAccessToken(token="x" * 68),
    rs.IdentityInfo(user_id=4),
    rs.PolledHead(partition_id=1, current_offset=9, count=0),
]
