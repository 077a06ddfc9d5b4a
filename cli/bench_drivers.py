"""One driver per system: the same workload expressed with each system's own Python client.

A driver creates the bench streams (``setup``), and hands out producer and
consumer handles: ``send(stream, partition)`` appends one batch of ``batch``
messages and returns once the server acknowledged all of them;
``poll(stream, partition)`` reads up to ``batch`` messages and returns how many
came back (0 = nothing new). Mapping:

=========  ==========================  ===============================  ================================
system     partition                   send one batch                   poll / group poll
=========  ==========================  ===============================  ================================
whippet    topic partition             one SendMessages (pre-encoded)   PollMessages offset / group+commit
NATS       subject ``<stream>.<p>``    publish all, count the PubAcks   pull fetch (ack none / ack all)
Redis      key ``<stream>:<p>``        one pipeline of XADD             XRANGE / XREADGROUP NOACK
=========  ==========================  ===============================  ================================

Batching is used everywhere (that is how each system is fastest from Python), and
each client is the vendor's asyncio client (nats-py, redis-py).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Driver", "Spec", "driver_for", "stream_name"]


@dataclass(frozen=True, slots=True)
class Spec:
    streams: int = 1
    partitions: int = 1
    message_size: int = 1024
    batch: int = 1000
    data_set: str = "a"
    replicas: int = 1  # NATS stream replicas (the cluster comparison uses 3)
    #: whippet: every message gets its own id (the producer's scheme), as with deduplication on
    ids: bool = False


def stream_name(spec: Spec, index: int) -> str:
    return f"bench-{spec.data_set}-{index}"


class Handle(Protocol):
    async def send(self, stream: int, partition: int) -> None: ...

    async def poll(self, stream: int, partition: int | None) -> int: ...

    async def close(self) -> None: ...


class Driver(Protocol):
    async def setup(self, address: str, spec: Spec) -> None: ...

    async def handle(self, address: str, spec: Spec, actor: int, group: bool) -> Handle: ...


# --- whippet -------------------------------------------------------------------
class _WhippetHandle:
    def __init__(self, client: Any, spec: Spec, actor: int, group: bool) -> None:
        from whippet.sdk.messages import encode_batch
        from whippet.wire.primitives import Consumer, Partitioning

        self.client, self.spec, self.group = client, spec, group
        batch = encode_batch([os.urandom(spec.message_size)] * spec.batch)
        self.frames = {
            (s, p): batch.frame(stream_name(spec, s), "t", Partitioning.partition_id(p))
            for s in range(spec.streams) for p in range(spec.partitions)
        }
        self.consumer = Consumer.group("bench-group") if group else Consumer.consumer(actor + 1)
        self.offsets: dict[tuple[int, int], int] = {}
        self.payloads = [os.urandom(spec.message_size)] * spec.batch
        self.id_base = int.from_bytes(os.urandom(8), "little") << 64
        self.next_id = 1

    async def send(self, stream: int, partition: int) -> None:
        if self.spec.ids:  # ids + deduplication: a fresh batch with this actor's next ids, as the producer does
            from whippet.sdk.messages import encode_batch
            from whippet.wire.primitives import Partitioning

            batch = encode_batch(self.payloads, id_base=self.id_base, id_start=self.next_id)
            self.next_id += self.spec.batch
            frame = batch.frame(stream_name(self.spec, stream), "t", Partitioning.partition_id(partition))
            await self.client.send_frame(frame, stream_name(self.spec, stream), "t", partition)
            return
        await self.client.send_frame(self.frames[(stream, partition)], stream_name(self.spec, stream), "t", partition)

    async def poll(self, stream: int, partition: int | None) -> int:
        from whippet.wire.primitives import PollingStrategy

        name = stream_name(self.spec, stream)
        if self.group:
            body = await self.client.poll_raw(name, "t", None, self.consumer, PollingStrategy.next(), self.spec.batch, True)
        else:
            key = (stream, partition or 0)
            offset = self.offsets.get(key, 0)
            body = await self.client.poll_raw(
                name, "t", partition, self.consumer, PollingStrategy.offset(offset), self.spec.batch, False
            )
        n = int.from_bytes(body[12:16], "little") if len(body) >= 16 else 0
        if not self.group and n:
            self.offsets[key] = offset + n
        return n

    async def close(self) -> None:
        await self.client.close()


class WhippetDriver:
    async def _client(self, address: str) -> Any:
        from whippet.sdk import Client

        client = Client([address], username="iggy", password="iggy", request_timeout=120.0)
        await client.connect()
        return client

    async def setup(self, address: str, spec: Spec) -> None:
        from whippet.wire.errors import StreamNameAlreadyExists

        client = await self._client(address)
        try:
            for s in range(spec.streams):
                try:
                    await client.create_stream(stream_name(spec, s))
                except StreamNameAlreadyExists:
                    continue
                await client.create_topic(stream_name(spec, s), "t", spec.partitions)
                await client.create_consumer_group(stream_name(spec, s), "t", "bench-group")
        finally:
            await client.close()

    async def handle(self, address: str, spec: Spec, actor: int, group: bool) -> Handle:
        client = await self._client(address)
        if group:
            for s in range(spec.streams):
                await client.join_consumer_group(stream_name(spec, s), "t", "bench-group")
        return _WhippetHandle(client, spec, actor, group)


# --- NATS JetStream --------------------------------------------------------------
class _NatsHandle:
    def __init__(self, nc: Any, js: Any, spec: Spec, actor: int, group: bool) -> None:
        self.nc, self.js, self.spec, self.actor, self.group = nc, js, spec, actor, group
        self.payload = os.urandom(spec.message_size)
        self.subs: dict[tuple[int, int | None], Any] = {}
        self.errors = 0

    async def send(self, stream: int, partition: int) -> None:
        # Publish the whole batch at once with a reply inbox, then wait for every PubAck:
        # the asynchronous publishing nats-py offers, without one round trip per message.
        nc, n = self.nc, self.spec.batch
        inbox = nc.new_inbox()
        done = asyncio.get_running_loop().create_future()
        got = 0

        async def on_ack(msg: Any) -> None:
            nonlocal got
            got += 1
            if b'"error"' in msg.data:
                self.errors += 1
            if got == n and not done.done():
                done.set_result(None)

        sub = await nc.subscribe(inbox, cb=on_ack)
        subject = f"{stream_name(self.spec, stream)}.{partition}"
        for _ in range(n):
            await nc.publish(subject, self.payload, reply=inbox)
        await nc.flush()
        try:
            await asyncio.wait_for(done, 60)
        finally:
            await sub.unsubscribe()
        if self.errors:
            raise RuntimeError(f"NATS refused {self.errors} messages")

    async def _sub(self, stream: int, partition: int | None) -> Any:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        key = (stream, partition)
        sub = self.subs.get(key)
        if sub is None:
            name = stream_name(self.spec, stream)
            if self.group:
                config = ConsumerConfig(ack_policy=AckPolicy.ALL, deliver_policy=DeliverPolicy.ALL)
                sub = await self.js.pull_subscribe(f"{name}.>", durable="bench-group", stream=name, config=config)
            else:
                config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)
                sub = await self.js.pull_subscribe(f"{name}.{partition}", durable=f"c{self.actor}-{partition}",
                                                   stream=name, config=config)
            self.subs[key] = sub
        return sub

    async def poll(self, stream: int, partition: int | None) -> int:
        import nats.errors

        sub = await self._sub(stream, None if self.group else partition)
        try:
            msgs = await sub.fetch(self.spec.batch, timeout=0.5)
        except (TimeoutError, nats.errors.TimeoutError):
            return 0
        if self.group and msgs:
            await msgs[-1].ack()  # AckPolicy.ALL: one ack covers the batch, like a commit
        return len(msgs)

    async def close(self) -> None:
        await self.nc.close()


class NatsDriver:
    async def _connect(self, address: str) -> tuple[Any, Any]:
        import nats

        nc = await nats.connect(f"nats://{address}", max_outstanding_pings=10, pending_size=64 << 20)
        return nc, nc.jetstream(timeout=30)

    async def setup(self, address: str, spec: Spec) -> None:
        from nats.js.api import StorageType

        nc, js = await self._connect(address)
        try:
            for s in range(spec.streams):
                name = stream_name(spec, s)
                await js.add_stream(name=name, subjects=[f"{name}.*"], storage=StorageType.FILE,
                                    num_replicas=spec.replicas)
        finally:
            await nc.close()

    async def handle(self, address: str, spec: Spec, actor: int, group: bool) -> Handle:
        nc, js = await self._connect(address)
        return _NatsHandle(nc, js, spec, actor, group)


# --- Redis Streams ----------------------------------------------------------------
class _RedisHandle:
    def __init__(self, r: Any, spec: Spec, actor: int, group: bool) -> None:
        self.r, self.spec, self.actor, self.group = r, spec, actor, group
        self.payload = os.urandom(spec.message_size)
        self.last: dict[tuple[int, int], bytes] = {}

    def _key(self, stream: int, partition: int) -> str:
        return f"{stream_name(self.spec, stream)}:{partition}"

    async def send(self, stream: int, partition: int) -> None:
        key = self._key(stream, partition)
        pipe = self.r.pipeline(transaction=False)
        for _ in range(self.spec.batch):
            pipe.xadd(key, {b"d": self.payload})
        await pipe.execute()

    async def poll(self, stream: int, partition: int | None) -> int:
        if self.group:
            keys = {self._key(stream, p): ">" for p in range(self.spec.partitions)}
            out = await self.r.xreadgroup("bench-group", f"c{self.actor}", keys, count=self.spec.batch, noack=True)
            return sum(len(entries) for _, entries in out or [])
        key = (stream, partition or 0)
        start = self.last.get(key)
        entries = await self.r.xrange(
            self._key(*key), min=b"(" + start if start else "-", max="+", count=self.spec.batch
        )
        if entries:
            self.last[key] = entries[-1][0]
        return len(entries)

    async def close(self) -> None:
        await self.r.aclose()


class RedisDriver:
    async def setup(self, address: str, spec: Spec) -> None:
        import redis.asyncio as redis
        from redis.exceptions import ResponseError

        host, port = address.rsplit(":", 1)
        r = redis.Redis(host=host, port=int(port))
        try:
            for s in range(spec.streams):
                for p in range(spec.partitions):
                    try:
                        await r.xgroup_create(f"{stream_name(spec, s)}:{p}", "bench-group", id="0", mkstream=True)
                    except ResponseError:
                        pass  # the group exists already
        finally:
            await r.aclose()

    async def handle(self, address: str, spec: Spec, actor: int, group: bool) -> Handle:
        import redis.asyncio as redis

        host, port = address.rsplit(":", 1)
        return _RedisHandle(redis.Redis(host=host, port=int(port)), spec, actor, group)


def driver_for(system: str) -> Driver:
    if system == "whippet":
        return WhippetDriver()
    if system == "nats":
        return NatsDriver()
    if system == "redis":
        return RedisDriver()
    raise ValueError(f"unknown system {system!r}")
