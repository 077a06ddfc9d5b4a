"""Requests of the poll, flush and consumer-offset commands (protocol §3.2).

SendMessages (101) is not here: its payload is a batch, parsed whole by
:mod:`whippet.wire.batch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from whippet.wire import codes
from whippet.wire._codec import Identifier
from whippet.wire._fields import (
    BOOL,
    CONSUMER,
    IDENT,
    OPT_PARTITION,
    STRATEGY,
    U32,
    U64,
    WireStruct,
)
from whippet.wire.primitives import Consumer, PollingStrategy

__all__ = [
    "PollMessages",
    "FlushUnsavedBuffer",
    "GetConsumerOffset",
    "StoreConsumerOffset",
    "DeleteConsumerOffset",
]

_OFFSET_TARGET = (
    ("consumer", CONSUMER),
    ("stream_id", IDENT),
    ("topic_id", IDENT),
    ("partition_id", OPT_PARTITION),
)


@dataclass(frozen=True, slots=True)
class PollMessages(WireStruct):
    """After the consumer and the two ids comes a 19-byte tail: has_partition @+0,
    partition_id @+1 (always present), strategy kind @+5, value @+6, count @+14,
    auto_commit @+18.

    ``partition_id`` None means "not given": partition 0 for a consumer, the
    member's next partition for a group.
    """

    CODE: ClassVar[int] = codes.POLL_MESSAGES
    LAYOUT = (
        *_OFFSET_TARGET,
        ("strategy", STRATEGY),
        ("count", U32),
        ("auto_commit", BOOL),
    )
    consumer: Consumer
    stream_id: Identifier
    topic_id: Identifier
    partition_id: int | None
    strategy: PollingStrategy
    count: int
    auto_commit: bool


@dataclass(frozen=True, slots=True)
class FlushUnsavedBuffer(WireStruct):
    CODE: ClassVar[int] = codes.FLUSH_UNSAVED_BUFFER
    LAYOUT = (("stream_id", IDENT), ("topic_id", IDENT), ("partition_id", U32), ("fsync", BOOL))
    stream_id: Identifier
    topic_id: Identifier
    partition_id: int
    fsync: bool


@dataclass(frozen=True, slots=True)
class GetConsumerOffset(WireStruct):
    CODE: ClassVar[int] = codes.GET_CONSUMER_OFFSET
    LAYOUT = _OFFSET_TARGET
    consumer: Consumer
    stream_id: Identifier
    topic_id: Identifier
    partition_id: int | None


@dataclass(frozen=True, slots=True)
class StoreConsumerOffset(WireStruct):
    CODE: ClassVar[int] = codes.STORE_CONSUMER_OFFSET
    LAYOUT = (*_OFFSET_TARGET, ("offset", U64))
    consumer: Consumer
    stream_id: Identifier
    topic_id: Identifier
    partition_id: int | None
    offset: int


@dataclass(frozen=True, slots=True)
class DeleteConsumerOffset(WireStruct):
    CODE: ClassVar[int] = codes.DELETE_CONSUMER_OFFSET
    LAYOUT = _OFFSET_TARGET
    consumer: Consumer
    stream_id: Identifier
    topic_id: Identifier
    partition_id: int | None
