"""The high-level producer: client-side partitioning, batching by size and linger, background
sending with back-pressure, and message ids for deduplication.

Built with ``client.producer("dev01", "events").batch_length(1000).linger("1ms")
.partitioning(Partitioning.balanced()).build()`` then ``await producer.init()``.

How a message travels: ``send`` picks the partition on the client (balanced =
round-robin per ``send`` call, key = XXH32(key) mod partitions as the node does,
or a fixed partition id), so every batch can go straight to that partition's
leader. Messages wait in a per-partition buffer until it holds ``batch_length``
messages or ``batch_bytes`` bytes, or ``linger`` has passed since its first
message; then the whole buffer is encoded at once (``sdk.messages``) and handed to
the sender, which keeps up to ``max_in_flight`` requests pipelined. When more than
``max_buffered`` messages are waiting, ``send`` waits (back-pressure) instead of
growing memory. With ``background(False)`` ``send`` itself sends and returns once
the node acknowledged.

Ids: unless a message carries its own, message i of this producer gets the id
``(random 64 bits << 64) | i``, so a batch retried after a reconnect carries the
same ids and a node with deduplication on stores it once. A background send that
finally fails is reported to ``on_error`` and re-raised by the next ``send``/``flush``.

Results: a foreground ``send`` returns a :class:`~whippet.sdk.messages.SendResult`
(partition, first offset, count). A background ``send`` returns a :class:`Delivery`
at once: an awaitable that resolves to that result when the node acknowledged every
message of the call (which may have travelled in more than one batch, or in one
batch with other calls' messages: each call gets its own slice of the offsets).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Self

import xxhash

from whippet.sdk.messages import MessageLike, SendResult, encode_batch
from whippet.sdk.options import NodeAddress  # noqa: F401  (re-export for typing users)
from whippet.sdk.timeutil import Duration, seconds
from whippet.wire.errors import IggyError, InvalidFormat, StreamIdNotFound, TopicIdNotFound
from whippet.wire.primitives import Partitioning, PartitioningKind

if TYPE_CHECKING:
    from whippet.sdk.client import Client

__all__ = ["Delivery", "Producer", "ProducerBuilder", "ProducerConfig"]


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    stream: str | int
    topic: str | int
    partitioning: Partitioning = field(default_factory=Partitioning.balanced)
    batch_length: int = 1000
    batch_bytes: int = 1 << 20
    linger: float = 0.001
    background: bool = True
    max_in_flight: int = 4
    max_buffered: int = 100_000
    message_ids: bool = True
    create_stream: bool = False
    create_topic: bool = False
    topic_partitions: int = 1
    send_retries: int = 3


class ProducerBuilder:
    """Fluent settings in the spirit of the Iggy Rust SDK's ``IggyProducerBuilder``."""

    def __init__(self, client: Client, stream: str | int, topic: str | int) -> None:
        self._client = client
        self._config = ProducerConfig(stream, topic)
        self._on_error: Callable[[BaseException], None] | None = None

    def _set(self, **changes: object) -> Self:
        self._config = replace(self._config, **changes)  # type: ignore[arg-type]
        return self

    def batch_length(self, n: int) -> Self:
        if n < 1:
            raise InvalidFormat("batch_length must be at least 1")
        return self._set(batch_length=n)

    def batch_size(self, n: int) -> Self:
        """Alias of :meth:`batch_length` (the Rust SDK's older name)."""
        return self.batch_length(n)

    def batch_bytes(self, n: int) -> Self:
        return self._set(batch_bytes=n)

    def linger(self, value: Duration) -> Self:
        return self._set(linger=seconds(value))

    def send_interval(self, value: Duration) -> Self:
        """Alias of :meth:`linger`."""
        return self.linger(value)

    def partitioning(self, value: Partitioning | str) -> Self:
        if isinstance(value, str):
            if value != "balanced":
                raise InvalidFormat("partitioning must be 'balanced' or a Partitioning")
            value = Partitioning.balanced()
        return self._set(partitioning=value)

    def partition(self, partition_id: int) -> Self:
        return self._set(partitioning=Partitioning.partition_id(partition_id))

    def background(self, enabled: bool = True) -> Self:
        return self._set(background=enabled)

    def max_in_flight(self, n: int) -> Self:
        return self._set(max_in_flight=max(1, n))

    def max_buffered(self, n: int) -> Self:
        return self._set(max_buffered=max(1, n))

    def message_ids(self, enabled: bool) -> Self:
        return self._set(message_ids=enabled)

    def create_stream_if_not_exists(self) -> Self:
        return self._set(create_stream=True)

    def create_topic_if_not_exists(self, partitions: int = 1) -> Self:
        return self._set(create_topic=True, topic_partitions=partitions)

    def send_retries(self, n: int) -> Self:
        return self._set(send_retries=n)

    def on_error(self, callback: Callable[[BaseException], None]) -> Self:
        self._on_error = callback
        return self

    def build(self) -> Producer:
        return Producer(self._client, self._config, self._on_error)


class Delivery:
    """The outcome of one background ``send``: ``await delivery`` gives its :class:`SendResult`
    (or raises the error that made the send fail). ``done()`` tells without waiting."""

    __slots__ = ("_future", "_remaining", "_result")

    def __init__(self, partition: int, count: int) -> None:
        self._future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        # An error nobody awaits is reported through on_error and the next send/flush; not logged again.
        self._future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._remaining = count
        self._result = SendResult(partition, None, 0, 0)

    def done(self) -> bool:
        return self._future.done()

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._future.__await__()

    def _part(self, result: SendResult) -> None:
        self._result = self._result.merged(result)
        self._remaining -= result.stored + result.duplicates
        if self._remaining <= 0 and not self._future.done():
            self._future.set_result(self._result)

    def _fail(self, exc: BaseException) -> None:
        if not self._future.done():
            self._future.set_exception(exc)


@dataclass(slots=True)
class _Buffer:
    messages: list[MessageLike] = field(default_factory=list)
    nbytes: int = 0
    since: float = 0.0
    #: the sends whose messages wait here, in order, with how many of theirs are not taken yet
    claims: list[list[Any]] = field(default_factory=list)


def _slices(result: SendResult, claims: list[tuple[Delivery, int]]) -> list[tuple[Delivery, SendResult]]:
    """Share one batch's result among the sends that made it up, in order.

    Offsets are exact when nothing was dropped as a duplicate; otherwise which of the
    messages were dropped is not known, so each share reports no offset.
    """
    out = []
    start = 0
    exact = result.duplicates == 0 and result.first_offset is not None
    for delivery, n in claims:
        if exact:
            assert result.first_offset is not None
            out.append((delivery, SendResult(result.partition_id, result.first_offset + start, n, 0)))
        else:
            stored = min(n, max(result.stored - start, 0))
            out.append((delivery, SendResult(result.partition_id, None, stored, n - stored)))
        start += n
    return out


def _size(m: MessageLike) -> int:
    payload = getattr(m, "payload", m)
    return len(payload) + 64  # type: ignore[arg-type]


class Producer:
    def __init__(self, client: Client, config: ProducerConfig, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.client = client
        self.config = config
        self._on_error = on_error
        self.partitions_count = 0
        self._buffers: dict[int, _Buffer] = {}
        self._round_robin = 0
        self._id_base = int.from_bytes(os.urandom(8), "little") << 64
        self._next_id = 1
        self._buffered = 0
        self._room = asyncio.Condition()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._linger_task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self.sent_messages = 0
        self.sent_batches = 0

    async def init(self) -> Self:
        """Connect, create the stream/topic when asked to, and learn the partition count."""
        cfg = self.config
        await self.client.connect()
        if cfg.create_stream and await self.client.get_stream(cfg.stream) is None:
            if not isinstance(cfg.stream, str):
                raise InvalidFormat("create_stream_if_not_exists needs a stream name")
            await self.client.create_stream(cfg.stream)
        topic = await self.client.get_topic(cfg.stream, cfg.topic)
        if topic is None and cfg.create_topic:
            if not isinstance(cfg.topic, str):
                raise InvalidFormat("create_topic_if_not_exists needs a topic name")
            topic = await self.client.create_topic(cfg.stream, cfg.topic, cfg.topic_partitions)
        if topic is None:
            if await self.client.get_stream(cfg.stream) is None:
                raise StreamIdNotFound(f"stream {cfg.stream} does not exist")
            raise TopicIdNotFound(f"topic {cfg.topic} does not exist in stream {cfg.stream}")
        self.partitions_count = topic.topic.partitions_count
        if cfg.background and cfg.linger > 0:
            self._linger_task = asyncio.get_running_loop().create_task(self._linger_loop())
        return self

    # --- partitioning ---
    def _partition(self, key: bytes | str | None, partition: int | None) -> int:
        if partition is not None:
            return partition
        n = max(1, self.partitions_count)
        if key is not None:
            data = key.encode() if isinstance(key, str) else key
            return xxhash.xxh32_intdigest(data) % n
        p = self.config.partitioning
        if p.kind == PartitioningKind.PARTITION_ID:
            return p.partition
        if p.kind == PartitioningKind.MESSAGES_KEY:
            return xxhash.xxh32_intdigest(p.value) % n
        self._round_robin = (self._round_robin + 1) % n
        return self._round_robin

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    # --- sending ---
    async def send(
        self, messages: Sequence[MessageLike] | MessageLike, *, key: bytes | str | None = None, partition: int | None = None
    ) -> SendResult | Delivery:
        """Send messages to one partition: wait for the acknowledgement and return the
        :class:`SendResult` (foreground), or queue them and return a :class:`Delivery`
        to await when the result matters (background)."""
        if self._closed:
            raise IggyError("the producer is closed")
        self._raise_pending()
        batch: Sequence[MessageLike] = (
            [messages] if isinstance(messages, (bytes, bytearray, memoryview, str)) or hasattr(messages, "payload") else messages  # type: ignore[list-item]
        )
        p = self._partition(key, partition)
        if not self.config.background:
            step = self.config.batch_length
            result = SendResult(p, None, 0, 0)
            for i in range(0, len(batch), step):
                result = result.merged(await self._send_batch(p, list(batch[i : i + step])))
            return result
        delivery = Delivery(p, len(batch))
        if not batch:
            delivery._part(SendResult(p, None, 0, 0))
            return delivery
        async with self._room:
            await self._room.wait_for(lambda: self._buffered < self.config.max_buffered or self._error is not None)
        self._raise_pending()
        buf = self._buffers.get(p)
        if buf is None:
            buf = self._buffers[p] = _Buffer()
        if not buf.messages:
            buf.since = time.monotonic()
        buf.messages.extend(batch)
        buf.claims.append([delivery, len(batch)])
        buf.nbytes += sum(map(_size, batch))
        self._buffered += len(batch)
        while len(buf.messages) >= self.config.batch_length or buf.nbytes >= self.config.batch_bytes:
            await self._dispatch(p, *self._take(buf))
        return delivery

    def _take(self, buf: _Buffer) -> tuple[list[MessageLike], list[tuple[Delivery, int]]]:
        """The next batch of a buffer (at most ``batch_length`` messages and ``batch_bytes``
        bytes) and the share of it each waiting send has."""
        cfg = self.config
        count = total = 0
        for m in buf.messages[: cfg.batch_length]:
            total += _size(m)
            count += 1
            if total >= cfg.batch_bytes:
                break
        take = buf.messages[:count]
        del buf.messages[:count]
        buf.nbytes = buf.nbytes - total if buf.messages else 0
        buf.since = time.monotonic()
        shares: list[tuple[Delivery, int]] = []
        need = count
        while need:
            claim = buf.claims[0]
            n = min(need, claim[1])
            shares.append((claim[0], n))
            claim[1] -= n
            need -= n
            if claim[1] == 0:
                buf.claims.pop(0)
        return take, shares

    async def _dispatch(self, partition: int, messages: list[MessageLike], shares: list[tuple[Delivery, int]]) -> None:
        await self._slots.acquire()
        task = asyncio.get_running_loop().create_task(self._background_send(partition, messages, shares))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _background_send(
        self, partition: int, messages: list[MessageLike], shares: list[tuple[Delivery, int]]
    ) -> None:
        try:
            result = await self._send_batch(partition, messages)
        except BaseException as exc:  # reported, not lost
            self._error = exc
            for delivery, _ in shares:
                delivery._fail(exc)
            if self._on_error is not None:
                self._on_error(exc)
        else:
            for delivery, part in _slices(result, shares):
                delivery._part(part)
        finally:
            self._slots.release()
            self._buffered -= len(messages)
            async with self._room:
                self._room.notify_all()

    async def _send_batch(self, partition: int, messages: list[MessageLike]) -> SendResult:
        cfg = self.config
        first = self._next_id
        self._next_id += len(messages)
        batch = encode_batch(messages, id_base=self._id_base if cfg.message_ids else 0, id_start=first)
        result = await self.client.send_batch(batch, cfg.stream, cfg.topic, Partitioning.partition_id(partition))
        self.sent_messages += len(messages)
        self.sent_batches += 1
        return result

    async def _linger_loop(self) -> None:
        linger = self.config.linger
        while not self._closed:
            await asyncio.sleep(linger)
            now = time.monotonic()
            for p, buf in list(self._buffers.items()):
                while buf.messages and now - buf.since >= linger:
                    await self._dispatch(p, *self._take(buf))
                    buf.since = now - linger  # whatever is left is just as old

    async def flush(self) -> None:
        """Send everything buffered and wait for every acknowledgement."""
        for p, buf in list(self._buffers.items()):
            while buf.messages:
                await self._dispatch(p, *self._take(buf))
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
        self._raise_pending()

    async def close(self) -> None:
        """Flush, then stop the linger timer (the client stays open)."""
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            if self._linger_task is not None:
                self._linger_task.cancel()

    async def __aenter__(self) -> Self:
        return await self.init()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
