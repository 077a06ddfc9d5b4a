"""The SDK basics users expect, against a real node: offsets from send(), typed headers,
error families, an idempotent retry, connection-state and rebalance callbacks, an idle
consumer that backs off, and a connect that fails fast with a clear error."""

from __future__ import annotations

import asyncio
import socket
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.support.proxy import FrameProxy
from whippet.sdk import (
    AlreadyExistsError,
    AuthError,
    Client,
    ConnectionState,
    HeaderValue,
    Message,
    NotFoundError,
    Partitioning,
    PollingStrategy,
    Rebalance,
    RetriableError,
    TransportError,
)
from whippet.sdk.errors import error_class
from whippet.wire import codes
from whippet.wire.errors import CannotEstablishConnection, NotLeader, StreamIdNotFound

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]


def _client(address: str, **settings: object) -> Client:
    return Client([address], username="iggy", password="iggy", **settings)


async def test_send_returns_the_partition_and_the_offsets(node) -> None:  # type: ignore[no-untyped-def]
    async with _client(node.address) as c:
        await c.create_stream("s")
        await c.create_topic("s", "t", 3)
        first = await c.send_messages("s", "t", [b"a", b"b", b"c"], Partitioning.partition_id(1))
        assert (first.partition_id, first.first_offset, first.last_offset, first.stored) == (1, 0, 2, 3)
        second = await c.send_messages("s", "t", [b"d"], Partitioning.partition_id(1))
        assert list(second.offsets) == [3]
        producer = await c.producer("s", "t").partition(2).batch_length(4).linger("5ms").build().init()
        deliveries = [await producer.send([b"x"] * n) for n in (3, 3, 2)]  # batches of 4 cut across calls
        results = [await d for d in deliveries]  # type: ignore[misc]
        assert [(r.partition_id, r.first_offset, r.stored) for r in results] == [(2, 0, 3), (2, 3, 3), (2, 6, 2)]
        await producer.close()
        fg = await c.producer("s", "t").partition(0).background(False).batch_length(2).build().init()
        assert (await fg.send([b"1", b"2", b"3"])) == type(first)(0, 0, 3, 0)  # two batches, one result


async def test_headers_are_typed_values_both_ways(node) -> None:  # type: ignore[no-untyped-def]
    async with _client(node.address) as c:
        await c.create_stream("s")
        await c.create_topic("s", "t", 1)
        headers = {"trace": "abc", "n": 7, "ratio": 0.5, "ok": True, "blob": b"\x00\x01",
                   "small": HeaderValue.uint32(42), "f32": HeaderValue.float32(1.5)}
        await c.send_messages("s", "t", [Message(b"p", headers=headers)], Partitioning.partition_id(0))
        consumer = await c.consumer("reader", "s", "t").build().init()
        got = (await consumer.poll())[0].headers
        assert {k: v.value for k, v in got.items()} == {
            "trace": "abc", "n": 7, "ratio": 0.5, "ok": True, "blob": b"\x00\x01", "small": 42, "f32": 1.5}
        assert (got["n"].kind_name, got["small"].kind_name, got["f32"].kind_name) == ("int64", "uint32", "float32")


async def test_errors_have_families_and_keep_their_classes(node) -> None:  # type: ignore[no-untyped-def]
    async with _client(node.address) as c:
        with pytest.raises(NotFoundError) as missing:
            await c.delete_stream("nope")
        assert isinstance(missing.value, StreamIdNotFound) and missing.value.status == 1009
        await c.create_stream("s")
        with pytest.raises(AlreadyExistsError):
            await c.create_stream("s")
    with pytest.raises(AuthError):
        async with Client([node.address], username="iggy", password="wrong"):
            pass
    assert issubclass(error_class(NotLeader.code), RetriableError)
    assert issubclass(error_class(NotLeader.code), NotLeader)


async def test_a_send_retried_after_a_lost_reply_is_stored_once_with_the_shipped_settings(node_factory) -> None:  # type: ignore[no-untyped-def]
    """The shipped configs turn deduplication on; the SDK's retry of a send whose reply was
    lost (the node had stored it) then stores nothing twice."""
    shipped = tomllib.loads((ROOT / "deploy" / "local" / "node-1.toml").read_text())["dedup"]
    env = {f"WHIPPET_DEDUP_{k.upper()}": str(v).lower() for k, v in shipped.items()}
    assert env["WHIPPET_DEDUP_ENABLED"] == "true"
    node = node_factory(extra_env=env)
    proxy = await FrameProxy(node.tcp_port, drop_reply_to=codes.SEND_MESSAGES_APPENDED).start()
    try:
        async with _client(f"127.0.0.1:{proxy.port}", discover=False) as c:
            await c.create_stream("s")
            await c.create_topic("s", "t", 1)
            result = await c.send_messages("s", "t", [b"one", b"two"], Partitioning.partition_id(0))
            assert proxy.dropped == 1 and proxy.requests.count(codes.SEND_MESSAGES_APPENDED) == 2
            assert (result.stored, result.duplicates) == (0, 2)  # the retry found both already stored
            polled = await c.poll_messages("s", "t", 0, "r", PollingStrategy.offset(0), 10)
            assert [m.payload for m in polled.messages] == [b"one", b"two"]
    finally:
        await proxy.close()


async def test_connection_state_callbacks_follow_a_node_restart(node) -> None:  # type: ignore[no-untyped-def]
    events: list[ConnectionState] = []
    client = _client(node.address, on_connection_state=lambda e: events.append(e.state))
    await client.connect()
    await asyncio.to_thread(node.stop)
    for _ in range(100):
        if ConnectionState.DISCONNECTED in events:
            break
        await asyncio.sleep(0.05)
    await asyncio.to_thread(node.start)
    for _ in range(200):
        if ConnectionState.RECONNECTED in events:
            break
        await asyncio.sleep(0.05)
    await client.ping()
    await client.close()
    assert events == [ConnectionState.CONNECTED, ConnectionState.DISCONNECTED, ConnectionState.RECONNECTED,
                      ConnectionState.CLOSED]


async def test_connect_to_a_dead_address_fails_fast_with_a_clear_error() -> None:
    with socket.socket() as refused:  # bound, not listening: connections are refused
        refused.bind(("127.0.0.1", 0))
        port = refused.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(CannotEstablishConnection) as err:
            await _client(f"127.0.0.1:{port}", connect_timeout=1.5).connect()
    assert time.monotonic() - started < 3
    assert f"127.0.0.1:{port}: connection refused" in err.value.reason
    assert "within 1.5 s (connect_timeout)" in err.value.reason
    assert isinstance(err.value, TransportError)
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    port = silent.sockets[0].getsockname()[1]
    started = time.monotonic()
    with pytest.raises(CannotEstablishConnection) as err:
        await _client(f"127.0.0.1:{port}", connect_timeout=1.0).connect()
    silent.close()
    assert time.monotonic() - started < 2.5
    assert "no answer to the login within" in err.value.reason


def _requests_total(http_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("whippet_requests_total{"))


async def _idle_rate(node, **tuning: float) -> float:  # type: ignore[no-untyped-def]
    async with _client(node.address, routing_refresh_interval=0) as c:
        builder = c.consumer_group("idle", "s", "t").poll_interval(tuning.pop("poll", 0.01))
        for name, value in tuning.items():
            builder = getattr(builder, name)(value)
        consumer = await builder.build().init()
        task = asyncio.ensure_future(consumer.__anext__())
        await asyncio.sleep(1.0)  # past the first polls and the backoff ramp
        before, t0 = _requests_total(node.http_port), time.monotonic()
        await asyncio.sleep(3.0)
        rate = (_requests_total(node.http_port) - 1 - before) / (time.monotonic() - t0)  # minus the scrape itself
        task.cancel()
        await consumer.close()
    return rate


async def test_an_idle_consumer_backs_off(node) -> None:  # type: ignore[no-untyped-def]
    async with _client(node.address) as c:
        await c.create_stream("s")
        await c.create_topic("s", "t", 2)
    # "Before": poll every 10 ms and read the membership on every empty poll, as the SDK used to.
    eager = await _idle_rate(node, max_poll_interval=0.01, rebalance_check=0.0)
    idle = await _idle_rate(node)
    print(f"idle group consumer: {eager:.0f} requests/s without backoff, {idle:.1f} requests/s with it")
    assert eager > 50
    assert idle < 8


async def test_a_rebalance_names_the_partitions_that_moved(node) -> None:  # type: ignore[no-untyped-def]
    events: list[Rebalance] = []
    async with _client(node.address) as a, _client(node.address) as b:
        await a.create_stream("s")
        await a.create_topic("s", "t", 4)
        first = await a.consumer_group("g", "s", "t").rebalance_check(0.05).on_rebalance(events.append).build().init()
        assert first.assignment == (0, 1, 2, 3)
        second = await b.consumer_group("g", "s", "t").build().init()
        for _ in range(40):
            await first.poll()
            if events:
                break
            await asyncio.sleep(0.05)
        assert events, "no rebalance seen"
        event = events[0]
        assert event.partitions is not None and event.revoked is not None
        assert set(event.partitions) | set(event.revoked) == {0, 1, 2, 3}
        assert set(event.revoked) == set(second.assignment or ())
        assert event.assigned == ()
        await second.close()
        await first.close()
