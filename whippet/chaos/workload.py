"""The clients of a trial: producers on our SDK and on the official 0.8 SDK, and
consumers with stored offsets. Every operation is bounded in time and goes into the
history.

Messages carry a *logical id* (unique per message in the trial) in their first 16
payload bytes, so the checker finds a message whatever id the node stored for it.
Our SDK also sends the logical id as the message id, the same on every retry, so
the node's deduplication must store a retried batch once. The official SDK has no
way to set an id (the node assigns one per request) and its TCP client sends a
request once more after reconnecting: each attempt may legitimately be stored twice,
and the checker allows that many copies, no more.

A failed send is recorded ``info`` (it may still be stored) and retried with the
same messages, a bounded number of times. A consumer, for each partition in turn,
reads its stored offset back, polls from the next offset, stores the last offset it
read, then reads it back again.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from apache_iggy import IggyClient
from apache_iggy import SendMessage as IggySendMessage

from whippet.chaos.history import History
from whippet.sdk import Client
from whippet.sdk.messages import Message, encode_batch
from whippet.sdk.options import Backoff
from whippet.wire import codes
from whippet.wire.primitives import Partitioning, PollingStrategy
from whippet.wire.responses import Appended

__all__ = ["Target", "Workload", "logical_id_of", "payload_of"]

T = TypeVar("T")

OP_TIMEOUT = 20.0  # one client call, SDK retries included
SEND_ATTEMPTS = 4
_PAD = b"." * 48
_U32 = struct.Struct("<I")


def payload_of(lid: int) -> bytes:
    return b"%016x" % lid + _PAD


def logical_id_of(payload: bytes) -> int | None:
    try:
        return int(payload[:16], 16)
    except ValueError:
        return None


def _lid(client_no: int, partition: int, seq: int) -> int:
    """Unique in a trial: client (< 2^16), partition (< 2^8), sequence (< 2^32)."""
    return (client_no << 40) | (partition << 32) | seq


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:240]


@dataclass(frozen=True)
class Target:
    stream: str
    topic: str
    partitions: int


class Workload:
    """The clients of one phase (``run`` or ``restart``); :meth:`run` until ``stop`` is set."""

    def __init__(self, history: History, addresses: list[str], target: Target, *, producers: int,
                 official_producers: int, consumers: int, batch: int, phase: str, client_base: int,
                 seed: int) -> None:
        self.history = history
        self.addresses = addresses
        self.target = target
        self.producers = producers
        self.official_producers = official_producers
        self.consumers = consumers
        self.batch = batch
        self.phase = phase
        self.client_base = client_base
        self.rng = random.Random(seed)

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [self._producer(f"p{k}", self.client_base + k, stop) for k in range(1, self.producers + 1)]
        tasks += [self._official_producer(f"o{k}", self.client_base + 50 + k, stop)
                  for k in range(1, self.official_producers + 1)]
        tasks += [self._consumer(f"c{k}", stop) for k in range(1, self.consumers + 1)]
        await asyncio.gather(*tasks)

    def _client(self) -> Client:
        return Client(self.addresses, username="iggy", password="iggy", connect_timeout=3.0, request_timeout=8.0,
                      failover_timeout=10.0, backoff=Backoff(retries=None, maximum=1.0))

    async def _send_with_retries(self, name: str, sdk: str, partition: int, ids: list[int],
                                 send: Callable[[], Awaitable[dict[str, int] | None]], stop: asyncio.Event) -> None:
        """Send, and after a failure send the same messages again (bounded; none once stopping)."""
        for attempt in range(SEND_ATTEMPTS):
            if attempt and stop.is_set():
                return
            req = self.history.invoke("send", name, partition=partition, ids=ids, sdk=sdk, attempt=attempt,
                                      phase=self.phase)
            try:
                appended = await asyncio.wait_for(send(), OP_TIMEOUT)
            except Exception as exc:
                self.history.complete(req, "info", "send", name, partition=partition, error=_error(exc))
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            extra = {"appended": appended} if appended is not None else {}
            self.history.complete(req, "ok", "send", name, partition=partition, **extra)
            return

    async def _partition_loop(self, name: str, client_no: int, partition: int, sdk: str,
                              sender: Callable[[int, list[int]], Callable[[], Awaitable[dict[str, int] | None]]],
                              stop: asyncio.Event) -> None:
        """Batches to one partition, one at a time: a partition without a leader holds up
        only its own loop, so every partition's failover is seen on its own."""
        seq = 0
        while not stop.is_set():
            ids = [_lid(client_no, partition, seq + i + 1) for i in range(self.batch)]
            seq += self.batch
            await self._send_with_retries(name, sdk, partition, ids, sender(partition, ids), stop)
            await asyncio.sleep(0.02)

    async def _producer(self, name: str, client_no: int, stop: asyncio.Event) -> None:
        """Our SDK: one client, a loop per partition (requests pipelined on its connections).

        Even-numbered producers send with whippet's SEND_MESSAGES_APPENDED (9004), whose
        answer says at which offsets the batch was stored: the history then holds them
        and the checker holds the cluster to them. Odd ones use the plain 0.8 send, which
        the SDK itself retries after a lost connection.
        """
        client = self._client()
        t = self.target
        appended = client_no % 2 == 0

        def sender(p: int, ids: list[int]) -> Callable[[], Awaitable[dict[str, int] | None]]:
            messages = [Message(payload_of(i), id=i) for i in ids]

            async def send() -> dict[str, int] | None:
                await client.connect()
                if not appended:
                    await client.send_messages(t.stream, t.topic, messages, Partitioning.partition_id(p))
                    return None
                frame = encode_batch(messages).frame(t.stream, t.topic, Partitioning.partition_id(p))
                frame = frame[:4] + _U32.pack(codes.SEND_MESSAGES_APPENDED) + frame[8:]
                body = await client._invoke(codes.SEND_MESSAGES_APPENDED, b"", frame=frame,
                                            partition=(t.stream, t.topic, p))
                a = Appended.decode(body)
                return {"partition": a.partition_id, "first": a.first_offset, "stored": a.stored,
                        "duplicates": a.duplicates}
            return send

        try:
            await asyncio.gather(*(self._partition_loop(name, client_no, p, "whippet", sender, stop)
                                   for p in range(t.partitions)))
        finally:
            await _quietly(client.close())

    async def _official_producer(self, name: str, client_no: int, stop: asyncio.Event) -> None:
        """The apache_iggy 0.8 client, which retries nothing: a client per partition loop; the
        harness reconnects it (to a random node) after any failure and retries the batch."""
        t = self.target
        holders: dict[int, IggyClient | None] = {}

        async def connected(p: int) -> IggyClient:
            client = holders.get(p)
            if client is None:
                address = self.rng.choice(self.addresses)
                client = IggyClient.from_connection_string(f"iggy://iggy:iggy@{address}")
                await asyncio.wait_for(client.connect(), 10)
                holders[p] = client
            return client

        def sender(p: int, ids: list[int]) -> Callable[[], Awaitable[dict[str, int] | None]]:
            async def send() -> dict[str, int] | None:
                try:
                    client = await connected(p)
                    await client.send_messages(t.stream, t.topic, p, [IggySendMessage(payload_of(i)) for i in ids])
                except BaseException:
                    holders[p] = None
                    raise
                return None
            return send

        await asyncio.gather(*(self._partition_loop(name, client_no, p, "iggy", sender, stop)
                               for p in range(t.partitions)))

    async def _consumer(self, name: str, stop: asyncio.Event) -> None:
        client = self._client()
        t = self.target
        try:
            while not stop.is_set():
                for p in range(t.partitions):
                    if stop.is_set():
                        break
                    await self.consume_once(client, name, p)
                await asyncio.sleep(0.05)
        finally:
            await _quietly(client.close())

    async def read_offset(self, client: Client, name: str, p: int) -> tuple[bool, int | None]:
        t = self.target
        req = self.history.invoke("get_offset", name, partition=p, phase=self.phase)
        try:
            info = await asyncio.wait_for(_connected(client, client.get_consumer_offset(name, t.stream, t.topic, p)),
                                          OP_TIMEOUT)
        except Exception as exc:
            self.history.complete(req, "fail", "get_offset", name, partition=p, error=_error(exc))
            return False, None
        value = None if info is None else info.stored_offset
        self.history.complete(req, "ok", "get_offset", name, partition=p, value=value)
        return True, value

    async def consume_once(self, client: Client, name: str, p: int) -> None:
        t = self.target
        ok, stored = await self.read_offset(client, name, p)
        if not ok:
            return
        start = 0 if stored is None else stored + 1
        req = self.history.invoke("poll", name, partition=p, offset=start, phase=self.phase)
        try:
            polled = await asyncio.wait_for(_connected(
                client, client.poll_messages(t.stream, t.topic, p, name, PollingStrategy.offset(start), 100)), OP_TIMEOUT)
        except Exception as exc:
            self.history.complete(req, "fail", "poll", name, partition=p, error=_error(exc))
            return
        records = [[m.offset, logical_id_of(m.payload), m.id] for m in polled.messages]
        self.history.complete(req, "ok", "poll", name, partition=p, offset=start, records=records)
        if not records:
            return
        last = polled.messages[-1].offset
        req = self.history.invoke("store_offset", name, partition=p, value=last, phase=self.phase)
        try:
            await asyncio.wait_for(_connected(client, client.store_consumer_offset(name, t.stream, t.topic, p, last)),
                                   OP_TIMEOUT)
        except Exception as exc:
            self.history.complete(req, "info", "store_offset", name, partition=p, value=last, error=_error(exc))
            return
        self.history.complete(req, "ok", "store_offset", name, partition=p, value=last)
        await self.read_offset(client, name, p)

    async def read_back_all(self) -> None:
        """Each consumer reads every stored offset once (after a heal or a restart)."""
        client = self._client()
        try:
            for k in range(1, self.consumers + 1):
                for p in range(self.target.partitions):
                    await self.read_offset(client, f"c{k}", p)
        finally:
            await _quietly(client.close())


async def _connected(client: Client, call: Coroutine[Any, Any, T]) -> T:
    """Connect first (a no-op once connected): the client bootstraps lazily, within the op's bound."""
    try:
        await client.connect()
    except BaseException:
        call.close()
        raise
    return await call


async def _quietly(aw) -> None:  # type: ignore[no-untyped-def]
    try:
        await asyncio.wait_for(aw, 10)
    except Exception:
        pass
