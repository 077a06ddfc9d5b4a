"""The SDK against a real node: round trips with ids, consumer groups, reconnects, bootstrap."""

from __future__ import annotations

import asyncio

import pytest

from whippet.sdk import AutoCommit, Client, Message, PollingStrategy, SyncClient
from whippet.sdk.options import Backoff
from whippet.wire.errors import CannotEstablishConnection, StreamNameAlreadyExists


def _client(node, **kw) -> Client:  # type: ignore[no-untyped-def]
    return Client([node.address], username="iggy", password="iggy", **kw)


async def test_producer_to_consumer_round_trip_keeps_ids_and_order(node) -> None:  # type: ignore[no-untyped-def]
    async with _client(node) as client:
        producer = await (
            client.producer("dev", "events").create_stream_if_not_exists().create_topic_if_not_exists(3)
            .batch_length(64).linger("2ms").max_buffered(500).build().init()
        )
        for i in range(0, 2000, 10):
            await producer.send([f"m{j}".encode() for j in range(i, i + 10)], key=f"k{i % 7}")
        await producer.send(Message(b"explicit", id=42), partition=0)
        await producer.close()
        assert producer.sent_messages == 2001

        got: dict[int, bytes] = {}
        for partition in range(3):
            consumer = await (
                client.consumer("reader", "dev", "events", partition=partition)
                .polling_strategy(PollingStrategy.first()).batch_length(300).build().init()
            )
            while True:
                batch = await consumer.poll()
                if not batch:
                    break
                assert [m.offset for m in batch] == sorted(m.offset for m in batch)
                for m in batch:
                    assert m.id not in got, "duplicate id"
                    got[m.id] = m.payload
            await consumer.close()
        assert len(got) == 2001
        assert got[42] == b"explicit"
        assert sorted(got.values()) == sorted([f"m{j}".encode() for j in range(2000)] + [b"explicit"])
        # a keyed send lands where the node's own XXH32 rule puts it
        await client.send_messages("dev", "events", [b"x"], partitioning=None)
        with pytest.raises(StreamNameAlreadyExists):
            await client.create_stream("dev")


async def test_consumer_group_of_three_consumes_each_message_once_when_one_leaves(node) -> None:  # type: ignore[no-untyped-def]
    total = 600
    async with _client(node) as admin:
        await admin.create_stream("g")
        await admin.create_topic("g", "t", 3)
        await admin.create_consumer_group("g", "t", "app")
        clients = [_client(node) for _ in range(3)]
        consumers = []
        for c in clients:
            await c.connect()
            consumers.append(
                await c.consumer_group("app", "g", "t").auto_commit(AutoCommit.after_each())
                .batch_length(20).poll_interval("5ms").rebalance_check("50ms").build().init()
            )
        group = await admin.get_consumer_group("g", "t", "app")
        assert group is not None and group.group.members_count == 3
        producer = await admin.producer("g", "t").batch_length(50).build().init()
        ids_sent = set()
        for i in range(total):
            ids_sent.add(i + 1)
            await producer.send(Message(f"{i}".encode(), id=i + 1))
        await producer.close()

        seen: list[int] = []
        done = asyncio.Event()

        async def run(index: int, stop_after: int | None) -> None:
            consumer = consumers[index]
            count = 0
            async for message in consumer:
                seen.append(message.id)  # "processing"
                count += 1
                if len(set(seen)) >= total:
                    done.set()
                if stop_after is not None and count >= stop_after:
                    break
            await consumer.close()  # commits what was processed, then leaves the group

        leaver = asyncio.create_task(run(0, 40))
        await leaver
        members = await admin.get_consumer_group("g", "t", "app")
        assert members is not None and members.group.members_count == 2
        others = [asyncio.create_task(run(i, None)) for i in (1, 2)]
        await asyncio.wait_for(done.wait(), 60)
        for consumer in consumers[1:]:
            await consumer.close()  # ends their iteration
        await asyncio.wait_for(asyncio.gather(*others), 10)
        for c in clients:
            await c.close()
    assert len(seen) == len(set(seen)), "a message was consumed twice"
    assert set(seen) == ids_sent


async def test_client_reconnects_and_logs_in_again_after_a_node_restart(node) -> None:  # type: ignore[no-untyped-def]
    client = _client(node, backoff=Backoff(initial=0.05, maximum=0.5, retries=100))
    async with client:
        await client.create_stream("r")
        await client.create_topic("r", "t", 1)
        producer = await client.producer("r", "t").batch_length(10).linger("1ms").build().init()
        await producer.send([Message(b"before", id=i + 1) for i in range(50)])
        await producer.flush()
        await asyncio.to_thread(node.stop)
        await asyncio.to_thread(node.start)
        await producer.send([Message(b"after", id=i + 51) for i in range(50)])
        await producer.close()
        assert client.reconnects >= 1
        polled = await client.poll_messages("r", "t", 0, 1, PollingStrategy.first(), 1000)
        assert [m.id for m in polled] == list(range(1, 101))
        me = await client.get_me()
        assert me.client.user_id == 0  # logged in again as root


async def test_bootstrap_skips_dead_seeds_and_gives_up_within_its_budget(node) -> None:  # type: ignore[no-untyped-def]
    text = f"whippet://iggy:iggy@127.0.0.1:1,{node.address}"
    async with Client.from_connection_string(text) as client:
        assert str(client.connected_node) == node.address
        metadata = await client.get_cluster_metadata()
        assert len(metadata.nodes) == 1 and client.routing.metadata_leader() is not None
    dead = Client(["127.0.0.1:1"], backoff=Backoff(initial=0.01, retries=2), connect_timeout=0.5)
    with pytest.raises(CannotEstablishConnection):
        await dead.connect()


def test_sync_client_for_scripts(node) -> None:  # type: ignore[no-untyped-def]
    with SyncClient([node.address], username="iggy", password="iggy") as client:
        client.create_stream("sync")
        client.create_topic("sync", "t", 1)
        client.send_messages("sync", "t", [b"a", "b"])
        consumer = client.consumer("me", "sync", "t").auto_commit(AutoCommit.after_all()).build().init()
        payloads = []
        for message in consumer:
            payloads.append(message.payload)
            if len(payloads) == 2:
                break
        consumer.close()
        assert payloads == [b"a", b"b"]
        assert client.get_consumer_offset(1, "sync", "t", 0) is None  # consumer "me" is not id 1
