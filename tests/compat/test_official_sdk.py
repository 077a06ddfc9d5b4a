"""The official apache-iggy 0.8.0 Python SDK, unchanged, against a real node over TCP.

This is the referee for protocol compatibility: each test drives one SDK method
(and its error cases) against a node process started on free loopback ports.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from apache_iggy import AutoCommit, AutoCommitWhen, IggyClient, PollingStrategy, SendMessage

from tests.compat.transports import connection_string

pytestmark = pytest.mark.asyncio


async def connect(node, transport: str = "tcp", username: str = "iggy", password: str = "iggy") -> IggyClient:
    client = IggyClient.from_connection_string(connection_string(node, transport, username, password))
    await client.connect()
    await client.login_user(username, password)
    return client


async def make_topic(client: IggyClient, stream: str = "s1", topic: str = "t1", partitions: int = 1) -> None:
    await client.create_stream(stream)
    await client.create_topic(stream, topic, partitions_count=partitions)


async def test_ping_login_and_wrong_password(node) -> None:
    # TCP only: a 0.8 connection string always carries credentials and logs in on connect.
    client = IggyClient(node.address)
    await client.connect()
    await client.ping()
    with pytest.raises(RuntimeError):
        await client.login_user("iggy", "not-the-password")
    with pytest.raises(RuntimeError):
        await client.login_user("nobody", "iggy")
    await client.login_user("iggy", "iggy")
    await client.ping()


async def test_commands_need_login(node) -> None:
    # TCP only: a 0.8 connection string always carries credentials and logs in on connect.
    client = IggyClient(node.address)
    await client.connect()
    with pytest.raises(RuntimeError):
        await client.create_stream("denied")
    await client.login_user("iggy", "iggy")
    assert await client.get_stream("denied") is None


async def test_streams(node, transport) -> None:
    client = await connect(node, transport)
    await client.create_stream("orders")
    await client.create_stream("payments")
    by_name = await client.get_stream("orders")
    assert by_name is not None and by_name.name == "orders" and by_name.id == 0
    assert by_name.topics_count == 0 and by_name.messages_count == 0
    by_id = await client.get_stream(1)
    assert by_id is not None and by_id.name == "payments"
    assert await client.get_stream("missing") is None
    assert await client.get_stream(99) is None
    with pytest.raises(RuntimeError):
        await client.create_stream("orders")


async def test_topics(node, transport) -> None:
    client = await connect(node, transport)
    await client.create_stream("s")
    await client.create_topic(
        "s", "events", partitions_count=3, message_expiry=timedelta(hours=1), replication_factor=1
    )
    topic = await client.get_topic("s", "events")
    assert topic is not None
    assert (topic.id, topic.name, topic.partitions_count, topic.messages_count) == (0, "events", 3, 0)
    assert (await client.get_topic(0, 0)).name == "events"
    assert await client.get_topic("s", "missing") is None
    with pytest.raises(RuntimeError):
        await client.create_topic("s", "events", partitions_count=1)
    with pytest.raises(RuntimeError):
        await client.create_topic("no-such-stream", "x", partitions_count=1)
    stream = await client.get_stream("s")
    assert stream.topics_count == 1


async def test_send_and_poll_every_strategy(node, transport) -> None:
    client = await connect(node, transport)
    await make_topic(client)
    before = time.time_ns() // 1000
    await client.send_messages("s1", "t1", 0, [SendMessage(f"m{i}") for i in range(5)])
    await asyncio.sleep(0.01)
    middle = time.time_ns() // 1000
    await client.send_messages("s1", "t1", 0, [SendMessage(f"m{i}".encode()) for i in range(5, 8)])

    def texts(msgs) -> list[str]:
        return [m.payload().decode() for m in msgs]

    got = await client.poll_messages("s1", "t1", 0, PollingStrategy.Offset(2), 3, False)
    assert texts(got) == ["m2", "m3", "m4"] and [m.offset() for m in got] == [2, 3, 4]
    assert texts(await client.poll_messages("s1", "t1", 0, PollingStrategy.First(), 2, False)) == ["m0", "m1"]
    assert texts(await client.poll_messages("s1", "t1", 0, PollingStrategy.Last(), 2, False)) == ["m6", "m7"]
    ts = await client.poll_messages("s1", "t1", 0, PollingStrategy.Timestamp(middle), 10, False)
    assert texts(ts) == ["m5", "m6", "m7"]
    all_ts = await client.poll_messages("s1", "t1", 0, PollingStrategy.Timestamp(before), 100, False)
    assert len(all_ts) == 8 and all(m.timestamp() >= before for m in all_ts)
    assert await client.poll_messages("s1", "t1", 0, PollingStrategy.Offset(100), 10, False) == []
    # Next with auto-commit walks forward through the stored offset.
    first = await client.poll_messages("s1", "t1", 0, PollingStrategy.Next(), 3, True)
    second = await client.poll_messages("s1", "t1", 0, PollingStrategy.Next(), 3, True)
    third = await client.poll_messages("s1", "t1", 0, PollingStrategy.Next(), 3, True)
    assert texts(first) + texts(second) + texts(third) == [f"m{i}" for i in range(8)]
    assert await client.poll_messages("s1", "t1", 0, PollingStrategy.Next(), 3, True) == []
    # Without auto-commit, Next does not move.
    a = await client.poll_messages("s1", "t1", 0, PollingStrategy.Offset(0), 1, False)
    b = await client.poll_messages("s1", "t1", 0, PollingStrategy.Offset(0), 1, False)
    assert texts(a) == texts(b) == ["m0"]
    assert all(m.id() != 0 for m in got), "the server assigns ids to id-0 messages"
    topic = await client.get_topic("s1", "t1")
    assert topic.messages_count == 8


async def test_send_errors(node, transport) -> None:
    client = await connect(node, transport)
    await make_topic(client, partitions=2)
    with pytest.raises(RuntimeError):
        await client.send_messages("s1", "t1", 5, [SendMessage("x")])  # no partition 5
    with pytest.raises(RuntimeError):
        await client.send_messages("s1", "missing", 0, [SendMessage("x")])
    with pytest.raises(RuntimeError):
        await client.poll_messages("missing", "t1", 0, PollingStrategy.First(), 1, False)
    await client.send_messages("s1", "t1", 1, [SendMessage("only-on-1")])
    assert await client.poll_messages("s1", "t1", 0, PollingStrategy.First(), 10, False) == []
    got = await client.poll_messages("s1", "t1", 1, PollingStrategy.First(), 10, False)
    assert [m.payload() for m in got] == [b"only-on-1"] and got[0].partition_id() == 1


async def no_group_consumer_over_http(node, client: IggyClient, name: str) -> None:
    """What the 0.8 SDK does with a consumer group over HTTP, against any server.

    Its consumer first looks the group up (404 -> none) and creates it over HTTP, then
    joins; the 0.8 HTTP client has no join (``HttpClient::join_consumer_group`` returns
    FeatureUnavailable without sending anything: 0.8's REST API has no membership, no
    group poll and no group offsets). So ``consumer_group`` fails and leaves the group
    created on the server.
    """
    import aiohttp

    with pytest.raises(RuntimeError, match="FeatureUnavailable"):
        await client.consumer_group(name, "s1", "t1", polling_strategy=PollingStrategy.Next(), batch_length=1)
    base = f"http://127.0.0.1:{node.http_port}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/users/login", json={"username": "iggy", "password": "iggy"}) as r:
            token = (await r.json())["access_token"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{base}/streams/s1/topics/t1/consumer-groups/{name}", headers=headers) as r:
            assert r.status == 200 and (await r.json())["members_count"] == 0


async def test_consumer_group_iter_messages(node, transport) -> None:
    client = await connect(node, transport)
    await make_topic(client, partitions=2)
    for p in range(2):
        await client.send_messages("s1", "t1", p, [SendMessage(f"p{p}-{i}") for i in range(5)])
    if transport == "http":
        await no_group_consumer_over_http(node, client, "g1")
        return
    consumer = await client.consumer_group(
        "g1",
        "s1",
        "t1",
        polling_strategy=PollingStrategy.Next(),
        batch_length=3,
        auto_commit=AutoCommit.When(AutoCommitWhen.PollingMessages()),
        poll_interval=timedelta(milliseconds=10),
    )
    assert consumer.name() == "g1"
    seen: list[bytes] = []

    async def collect() -> None:
        async for msg in consumer.iter_messages():
            seen.append(msg.payload())
            if len(seen) == 10:
                return

    await asyncio.wait_for(collect(), 20)
    assert sorted(seen) == sorted(f"p{p}-{i}".encode() for p in range(2) for i in range(5))


async def test_consumer_group_consume_messages_and_offsets(node, transport) -> None:
    client = await connect(node, transport)
    await make_topic(client, partitions=1)
    await client.send_messages("s1", "t1", 0, [SendMessage(f"m{i}") for i in range(6)])
    if transport == "http":
        await no_group_consumer_over_http(node, client, "g2")
        return
    consumer = await client.consumer_group(
        "g2",
        "s1",
        "t1",
        partition_id=0,
        # With auto-commit off the SDK walks by offset itself (Next would re-read the
        # stored offset, which nobody moves, on any server).
        polling_strategy=PollingStrategy.Offset(0),
        batch_length=2,
        auto_commit=AutoCommit.Disabled(),
        poll_interval=timedelta(milliseconds=10),
    )
    done = asyncio.Event()
    got: list[int] = []

    async def on_message(msg) -> None:
        got.append(msg.offset())
        if len(got) == 6:
            done.set()

    await asyncio.wait_for(consumer.consume_messages(on_message, done), 20)
    assert got == list(range(6))
    assert (consumer.name(), consumer.stream(), consumer.topic()) == ("g2", "s1", "t1")
    assert consumer.partition_id() == 0 and consumer.get_last_consumed_offset(0) == 5
    await consumer.store_offset(3, 0)
    assert consumer.get_last_stored_offset(0) == 3
    await consumer.delete_offset(0)
    with pytest.raises(RuntimeError):
        await consumer.delete_offset(0)  # nothing stored any more: 3021
