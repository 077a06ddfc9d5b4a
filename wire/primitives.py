"""The building blocks shared by many commands (protocol reference §2, §4.3, §4.7, §9.4).

Reader, Writer and Identifier come from :mod:`whippet.wire._codec` and are
re-exported here. Each type below has ``write(w)``/``encode()`` and
``decode(reader)``; an unknown enum value is :class:`InvalidCommand` (3), as in Iggy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Self

from whippet.wire._codec import U32_MAX, U64_MAX, Identifier, Reader, Writer
from whippet.wire.errors import InvalidCommand
from whippet.wire.permissions import (
    GlobalPermissions,
    Permissions,
    StreamPermissions,
    TopicPermissions,
    flag_names,
)

__all__ = [
    "Reader",
    "Writer",
    "Identifier",
    "U32_MAX",
    "U64_MAX",
    "ConsumerKind",
    "Consumer",
    "PartitioningKind",
    "Partitioning",
    "PollingKind",
    "PollingStrategy",
    "encode_permissions",
    "decode_permissions",
    "write_permissions",
]


class ConsumerKind(IntEnum):
    CONSUMER = 1
    CONSUMER_GROUP = 2


@dataclass(frozen=True, slots=True)
class Consumer:
    """Who reads: a free consumer (its id is not registered) or a consumer group."""

    kind: ConsumerKind
    id: Identifier

    @classmethod
    def consumer(cls, id: Identifier | int | str) -> Self:
        return cls(ConsumerKind.CONSUMER, _ident(id))

    @classmethod
    def group(cls, id: Identifier | int | str) -> Self:
        return cls(ConsumerKind.CONSUMER_GROUP, _ident(id))

    def write(self, w: Writer) -> None:
        w.u8(self.kind)
        self.id.write(w)

    def encode(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def decode(cls, r: Reader) -> Self:
        code = r.u8()
        if code not in (1, 2):
            raise InvalidCommand(f"unknown consumer kind {code}")
        return cls(ConsumerKind(code), Identifier.decode(r))


def _ident(value: Identifier | int | str) -> Identifier:
    return value if isinstance(value, Identifier) else Identifier.parse(value)


class PartitioningKind(IntEnum):
    BALANCED = 1
    PARTITION_ID = 2
    MESSAGES_KEY = 3


# Fixed value lengths; messages_key is 1..255.
_PARTITIONING_LENGTH = {1: 0, 2: 4}


@dataclass(frozen=True, slots=True)
class Partitioning:
    """How a send picks its partition (protocol §4.3, §4.5).

    The kind/length pairs are checked at construction: balanced has no value,
    partition_id a 4-byte u32, messages_key 1..255 raw bytes. Anything else is
    :class:`InvalidCommand`, the code the 0.8 send path gives a bad partitioning.
    """

    kind: int
    value: bytes = b""

    def __post_init__(self) -> None:
        kind, n = self.kind, len(self.value)
        if kind == PartitioningKind.BALANCED:
            ok = n == 0
        elif kind == PartitioningKind.PARTITION_ID:
            ok = n == 4
        elif kind == PartitioningKind.MESSAGES_KEY:
            ok = 1 <= n <= 255
        else:
            raise InvalidCommand(f"unknown partitioning kind {kind}")
        if not ok:
            raise InvalidCommand(f"partitioning kind {kind} cannot have a {n}-byte value")

    @classmethod
    def balanced(cls) -> Self:
        return cls(PartitioningKind.BALANCED, b"")

    @classmethod
    def partition_id(cls, partition_id: int) -> Self:
        if not 0 <= partition_id <= U32_MAX:
            raise InvalidCommand(f"partition id out of u32 range: {partition_id}")
        return cls(PartitioningKind.PARTITION_ID, partition_id.to_bytes(4, "little"))

    @classmethod
    def messages_key(cls, key: bytes | str) -> Self:
        """A key of 1..255 raw bytes; text is sent as UTF-8, as the SDK does."""
        data = key.encode() if isinstance(key, str) else bytes(key)
        return cls(PartitioningKind.MESSAGES_KEY, data)

    @property
    def partition(self) -> int:
        """The partition of a partition_id partitioning."""
        if self.kind != PartitioningKind.PARTITION_ID:
            raise InvalidCommand("not a partition_id partitioning")
        return int.from_bytes(self.value, "little")

    def write(self, w: Writer) -> None:
        w.u8(self.kind).u8(len(self.value)).raw(self.value)

    def encode(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def decode(cls, r: Reader) -> Self:
        kind = r.u8()
        length = r.u8()
        if kind not in (1, 2, 3):
            raise InvalidCommand(f"unknown partitioning kind {kind}")
        if length != _PARTITIONING_LENGTH.get(kind, length) or (kind == 3 and length == 0):
            raise InvalidCommand(f"partitioning kind {kind} cannot have length {length}")
        return cls(PartitioningKind(kind), bytes(r.raw(length)))


class PollingKind(IntEnum):
    OFFSET = 1
    TIMESTAMP = 2
    FIRST = 3
    LAST = 4
    NEXT = 5


@dataclass(frozen=True, slots=True)
class PollingStrategy:
    """Where a poll starts (protocol §4.7): a kind and a u64 value (offset or µs)."""

    kind: PollingKind
    value: int = 0

    @classmethod
    def offset(cls, value: int) -> Self:
        return cls(PollingKind.OFFSET, value)

    @classmethod
    def timestamp(cls, value: int) -> Self:
        return cls(PollingKind.TIMESTAMP, value)

    @classmethod
    def first(cls) -> Self:
        return cls(PollingKind.FIRST, 0)

    @classmethod
    def last(cls) -> Self:
        return cls(PollingKind.LAST, 0)

    @classmethod
    def next(cls) -> Self:
        return cls(PollingKind.NEXT, 0)

    def write(self, w: Writer) -> None:
        w.u8(self.kind).u64(self.value)

    def encode(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def decode(cls, r: Reader) -> Self:
        code = r.u8()
        if not 1 <= code <= 5:
            raise InvalidCommand(f"unknown polling kind {code}")
        return cls(PollingKind(code), r.u64())


# --- permissions (§9.4) ---------------------------------------------------------
_GLOBAL_FLAGS = flag_names(GlobalPermissions)
_STREAM_FLAGS = flag_names(StreamPermissions)
_TOPIC_FLAGS = flag_names(TopicPermissions)


def write_permissions(w: Writer, p: Permissions) -> None:
    """Append the §9.4 block; streams and topics are written sorted by id, like Iggy."""
    for name in _GLOBAL_FLAGS:
        w.bool8(getattr(p.global_, name))
    streams = sorted((p.streams or {}).items())
    w.bool8(bool(streams))
    for i, (stream_id, sp) in enumerate(streams):
        w.u32(stream_id)
        for name in _STREAM_FLAGS:
            w.bool8(getattr(sp, name))
        topics = sorted((sp.topics or {}).items())
        w.bool8(bool(topics))
        for j, (topic_id, tp) in enumerate(topics):
            w.u32(topic_id)
            for name in _TOPIC_FLAGS:
                w.bool8(getattr(tp, name))
            w.bool8(j + 1 < len(topics))
        w.bool8(i + 1 < len(streams))


def encode_permissions(p: Permissions) -> bytes:
    w = Writer()
    write_permissions(w, p)
    return w.getvalue()


def _flags(r: Reader, names: tuple[str, ...]) -> dict[str, bool]:
    # Any non-zero byte is true (Iggy's read_bool).
    return {name: r.u8() != 0 for name in names}


def decode_permissions(r: Reader) -> Permissions:
    """Read the §9.4 block; an empty stream or topic list decodes as ``None``."""
    global_ = GlobalPermissions(**_flags(r, _GLOBAL_FLAGS))
    streams: dict[int, StreamPermissions] = {}
    more = r.u8() != 0
    while more:
        stream_id = r.u32()
        flags = _flags(r, _STREAM_FLAGS)
        topics: dict[int, TopicPermissions] = {}
        more_topics = r.u8() != 0
        while more_topics:
            topic_id = r.u32()
            topics[topic_id] = TopicPermissions(**_flags(r, _TOPIC_FLAGS))
            more_topics = r.u8() != 0
        streams[stream_id] = StreamPermissions(**flags, topics=topics or None)
        more = r.u8() != 0
    return Permissions(global_=global_, streams=streams or None)
