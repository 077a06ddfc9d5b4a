"""Command methods for messages (send, poll, flush) and consumer offsets.

These are the partition-addressed commands: when the partition is known they
are routed to its leader (``routing.leader_for``); a balanced or keyed send is
routed to the connected node, which picks the partition. The high-level
producer partitions on the client side so it can always route directly.
Requests of a consumer group go to the connected node even with a partition:
the node checks the group membership of *this* session, which lives there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whippet.sdk._api_admin import AdminApi, Id
from whippet.sdk.messages import (
    EncodedBatch,
    MessageLike,
    PolledMessages,
    SendResult,
    as_identifier,
    encode_batch,
    parse_polled_messages,
)
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import InvalidCommand
from whippet.wire.primitives import (
    Consumer,
    ConsumerKind,
    Partitioning,
    PartitioningKind,
    PollingStrategy,
)
from whippet.wire.responses import Appended, ConsumerOffsetInfo

__all__ = ["DataApi", "consumer_of"]

ConsumerLike = Consumer | int | str


def consumer_of(value: ConsumerLike) -> Consumer:
    """A bare id means a free consumer (kind 1); pass ``Consumer.group(id)`` for a group."""
    return value if isinstance(value, Consumer) else Consumer.consumer(value)


def _partition_of(partitioning: Partitioning) -> int | None:
    return partitioning.partition if partitioning.kind == PartitioningKind.PARTITION_ID else None


def _route(stream: Id, topic: Id, partition_id: int | None, consumer: Consumer) -> tuple[Id, Id, int | None]:
    """The routing key of a consumer's request: no partition (home) for a group member."""
    return (stream, topic, partition_id if consumer.kind == ConsumerKind.CONSUMER else None)


class DataApi(AdminApi):
    async def send_messages(
        self,
        stream: Id,
        topic: Id,
        messages: Sequence[MessageLike] | EncodedBatch,
        partitioning: Partitioning | None = None,
    ) -> SendResult:
        """Append messages (bytes, str or :class:`Message`) in one request; return where they went.

        ``partitioning`` defaults to balanced. Messages without an id get a random
        128-bit one, so a send retried after a lost connection is stored once by a node
        with deduplication. An :class:`EncodedBatch` is sent as is.
        """
        part = partitioning or Partitioning.balanced()
        batch = messages if isinstance(messages, EncodedBatch) else encode_batch(messages, random_ids=True)
        return await self.send_batch(batch, stream, topic, part)

    async def send_batch(self, batch: EncodedBatch, stream: Id, topic: Id, partitioning: Partitioning) -> SendResult:
        """Send an encoded batch with whippet's SEND_MESSAGES_APPENDED (9004), which answers
        the partition and offsets; a server without it (InvalidCommand: Iggy 0.8) gets
        SendMessages (101) from then on, and the offsets are unknown."""
        route = (stream, topic, _partition_of(partitioning))
        if self.appended_offered is not False:
            frame = batch.frame(stream, topic, partitioning, codes.SEND_MESSAGES_APPENDED)
            try:
                body = await self._invoke(codes.SEND_MESSAGES_APPENDED, b"", frame=frame, partition=route)
            except InvalidCommand:
                if self.appended_offered:
                    raise  # the command is known here: the request itself was refused
                self.appended_offered = False
            else:
                self.appended_offered = True
                a = Appended.decode(body)
                return SendResult(a.partition_id, a.first_offset, a.stored, a.duplicates)
        await self._invoke(codes.SEND_MESSAGES, b"", frame=batch.frame(stream, topic, partitioning), partition=route)
        return SendResult(_partition_of(partitioning), None, batch.count, 0)

    async def send_frame(self, frame: bytes, stream: Id, topic: Id, partition_id: int | None) -> None:
        """Send a pre-built SendMessages frame (``EncodedBatch.frame``): the bench's path."""
        await self._invoke(codes.SEND_MESSAGES, b"", frame=frame, partition=(stream, topic, partition_id))

    async def poll_messages(
        self,
        stream: Id,
        topic: Id,
        partition_id: int | None,
        consumer: ConsumerLike,
        strategy: PollingStrategy,
        count: int,
        auto_commit: bool = False,
    ) -> PolledMessages:
        """Read up to ``count`` messages; ``partition_id`` None lets the node choose
        (partition 0 for a consumer, the member's next partition for a group)."""
        return parse_polled_messages(await self.poll_raw(stream, topic, partition_id, consumer, strategy, count, auto_commit))

    async def poll_raw(
        self,
        stream: Id,
        topic: Id,
        partition_id: int | None,
        consumer: ConsumerLike,
        strategy: PollingStrategy,
        count: int,
        auto_commit: bool = False,
    ) -> bytes:
        """The undecoded poll answer (16-byte head + records), for callers that only count."""
        who = consumer_of(consumer)
        req = rq.PollMessages(
            consumer=who,
            stream_id=as_identifier(stream),
            topic_id=as_identifier(topic),
            partition_id=partition_id,
            strategy=strategy,
            count=count,
            auto_commit=auto_commit,
        )
        return await self._call(req, partition=_route(stream, topic, partition_id, who))

    async def flush_unsaved_buffer(self, stream: Id, topic: Id, partition_id: int, fsync: bool = False) -> None:
        await self._call(
            rq.FlushUnsavedBuffer(
                stream_id=as_identifier(stream), topic_id=as_identifier(topic), partition_id=partition_id, fsync=fsync
            ),
            partition=(stream, topic, partition_id),
        )

    # --- consumer offsets ---
    async def _offset_call(
        self, request: type[Any], consumer: ConsumerLike, stream: Id, topic: Id, partition_id: int | None, **extra: int
    ) -> bytes:
        who = consumer_of(consumer)
        req = request(
            consumer=who, stream_id=as_identifier(stream), topic_id=as_identifier(topic), partition_id=partition_id,
            **extra,
        )
        return await self._call(req, partition=_route(stream, topic, partition_id, who))

    async def get_consumer_offset(
        self, consumer: ConsumerLike, stream: Id, topic: Id, partition_id: int | None
    ) -> ConsumerOffsetInfo | None:
        body = await self._offset_call(rq.GetConsumerOffset, consumer, stream, topic, partition_id)
        return ConsumerOffsetInfo.decode(body) if body else None

    async def store_consumer_offset(
        self, consumer: ConsumerLike, stream: Id, topic: Id, partition_id: int | None, offset: int
    ) -> None:
        await self._offset_call(rq.StoreConsumerOffset, consumer, stream, topic, partition_id, offset=offset)

    async def delete_consumer_offset(
        self, consumer: ConsumerLike, stream: Id, topic: Id, partition_id: int | None
    ) -> None:
        await self._offset_call(rq.DeleteConsumerOffset, consumer, stream, topic, partition_id)
