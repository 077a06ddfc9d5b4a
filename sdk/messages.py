"""Messages in and out: whole-batch encoding for sends, one-pass parsing of polls.

Sending is the hot path, so a batch is encoded with numpy over all records at
once: the 64-byte headers are one structured array (ids, lengths), and when every
payload has the same size (the common case for producers and the bench) the
payloads are copied into place with one 2-D slice assignment. Mixed sizes fall
back to one ``b"".join`` of header views and payloads. The result,
:class:`EncodedBatch`, can be turned into request frames for any partitioning
and re-sent as often as needed without re-encoding.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np
import numpy.typing as npt

from whippet.sdk.headers import HeaderInput, encode_headers
from whippet.wire import codes
from whippet.wire._codec import U32_MAX, Identifier, Writer
from whippet.wire.batch import INDEX_DTYPE, RECORD_DTYPE, PolledMessage
from whippet.wire.errors import InvalidCommand, InvalidMessagesCount
from whippet.wire.primitives import Partitioning
from whippet.wire.responses import PolledHead

__all__ = [
    "EncodedBatch",
    "Message",
    "MessageLike",
    "PolledMessage",
    "PolledMessages",
    "SendResult",
    "as_identifier",
    "encode_batch",
    "parse_polled_messages",
]

_FRAME_HEAD = struct.Struct("<II")
_U32 = struct.Struct("<I")
_RECORD = struct.Struct("<Q16sQQQIIQ")
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Message:
    """A message to send.

    ``id`` 0 lets the sender choose one (the SDK gives every such message a random
    128-bit id, so a retried batch is recognised by deduplication). ``headers`` maps
    names to typed values (``sdk.headers``: str, bytes, bool, int, float or a
    :class:`~whippet.sdk.headers.HeaderValue`); ``user_headers`` is the same already
    TLV-encoded, for callers that have the bytes. Give one or the other.
    """

    payload: bytes
    id: int = 0
    user_headers: bytes = b""
    origin_timestamp: int = 0
    headers: Mapping[str, HeaderInput] | None = None

    def header_bytes(self) -> bytes:
        if self.headers:
            if self.user_headers:
                raise InvalidCommand("give a message headers or user_headers, not both")
            return encode_headers(self.headers)
        return self.user_headers


@dataclass(frozen=True, slots=True)
class SendResult:
    """Where a send went: ``stored`` messages at ``first_offset`` .. ``last_offset`` of ``partition_id``.

    ``duplicates`` were dropped by the node's deduplication (a retry of messages it
    already stored; their earlier offsets are not reported). Against a server without
    whippet's command 9004 (Iggy 0.8) the offsets are unknown: ``first_offset`` is None,
    and so is ``partition_id`` unless the send named the partition.
    """

    partition_id: int | None
    first_offset: int | None
    stored: int
    duplicates: int = 0

    @property
    def last_offset(self) -> int | None:
        if self.first_offset is None or self.stored == 0:
            return None
        return self.first_offset + self.stored - 1

    @property
    def offsets(self) -> range:
        """The offsets the stored messages got (empty when unknown)."""
        if self.first_offset is None:
            return range(0)
        return range(self.first_offset, self.first_offset + self.stored)

    def merged(self, later: SendResult) -> SendResult:
        """This result followed by ``later`` (a send split into several batches of one partition)."""
        first = self.first_offset if self.stored else later.first_offset
        return SendResult(self.partition_id if self.partition_id is not None else later.partition_id, first,
                          self.stored + later.stored, self.duplicates + later.duplicates)


MessageLike = Union[Message, bytes, bytearray, memoryview, str]


def as_identifier(value: Identifier | int | str) -> Identifier:
    return value if isinstance(value, Identifier) else Identifier.parse(value)


@dataclass(frozen=True, slots=True, eq=False)
class EncodedBatch:
    """Records ready to send: ``records`` back to back, ``ends[i]`` = end of record i."""

    records: memoryview
    ends: npt.NDArray[np.uint32]

    @property
    def count(self) -> int:
        return len(self.ends)

    @property
    def size(self) -> int:
        return len(self.records)

    def payload(self, stream: Identifier | int | str, topic: Identifier | int | str, partitioning: Partitioning) -> list[bytes | memoryview]:
        """The SendMessages payload as buffers (metadata, index, records), no copy of the records."""
        meta = Writer()
        as_identifier(stream).write(meta)
        as_identifier(topic).write(meta)
        partitioning.write(meta)
        meta.u32(self.count)
        index = np.zeros(self.count, dtype=INDEX_DTYPE)
        index["position"] = self.ends
        m = meta.getvalue()
        return [_U32.pack(len(m)), m, index.data.cast("B"), self.records]

    def frame(
        self,
        stream: Identifier | int | str,
        topic: Identifier | int | str,
        partitioning: Partitioning,
        code: int = codes.SEND_MESSAGES,
    ) -> bytes:
        """A complete send request frame (length, code, payload), in one buffer: SendMessages
        (101), or whippet's SEND_MESSAGES_APPENDED (9004, same payload, answered with offsets)."""
        parts = self.payload(stream, topic, partitioning)
        size = sum(len(p) for p in parts) + 4
        return b"".join([_FRAME_HEAD.pack(size, code), *parts])


def _normalise(messages: Sequence[MessageLike]) -> tuple[list[bytes], list[int] | None, list[bytes] | None, list[int] | None]:
    payloads: list[bytes] = []
    ids: list[int] | None = None
    headers: list[bytes] | None = None
    origins: list[int] | None = None
    for i, m in enumerate(messages):
        if isinstance(m, Message):
            payloads.append(m.payload)
            if m.id:
                ids = ids or [0] * len(messages)
                ids[i] = m.id
            if m.user_headers or m.headers:
                headers = headers or [b""] * len(messages)
                headers[i] = m.header_bytes()
            if m.origin_timestamp:
                origins = origins or [0] * len(messages)
                origins[i] = m.origin_timestamp
        elif isinstance(m, str):
            payloads.append(m.encode())
        else:
            payloads.append(bytes(m) if not isinstance(m, bytes) else m)
    return payloads, ids, headers, origins


def encode_batch(
    messages: Sequence[MessageLike],
    *,
    id_base: int = 0,
    id_start: int = 0,
    random_ids: bool = False,
) -> EncodedBatch:
    """Encode messages into one record area.

    Ids: a :class:`Message` with a non-zero ``id`` keeps it; with ``id_base`` set,
    every other message gets ``id_base + id_start + i`` (the producer's dedup ids:
    a random high half and a sequence number), computed as arrays; with
    ``random_ids`` every other message gets 128 random bits (one ``os.urandom`` call
    for the batch). Ids are chosen once here, so every retry of the batch repeats them.
    """
    n = len(messages)
    if n == 0:
        raise InvalidMessagesCount("a batch needs at least one message")
    if all(isinstance(m, bytes) for m in messages):
        payloads: list[bytes] = list(messages)  # type: ignore[arg-type]
        ids = headers = origins = None
    else:
        payloads, ids, headers, origins = _normalise(messages)
    plen = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    hdr = np.zeros(n, dtype=RECORD_DTYPE)
    hdr["payload_length"] = plen
    if random_ids:
        rand = np.frombuffer(os.urandom(16 * n), dtype="<u8").reshape(n, 2)
        hdr["id_lo"] = rand[:, 0] | np.uint64(1)  # never 0, which would mean "let the node choose"
        hdr["id_hi"] = rand[:, 1]
    elif id_base:
        seq = np.arange(id_start, id_start + n, dtype=np.uint64)
        hdr["id_lo"] = seq + np.uint64(id_base & _MASK64)
        hdr["id_hi"] = (id_base >> 64) & _MASK64
    if ids is not None:
        given = np.array([i != 0 for i in ids])
        hdr["id_lo"][given] = [i & _MASK64 for i, g in zip(ids, given) if g]
        hdr["id_hi"][given] = [(i >> 64) & _MASK64 for i, g in zip(ids, given) if g]
    if origins is not None:
        hdr["origin_timestamp"] = origins
    hlen = np.zeros(n, dtype=np.int64)
    if headers is not None:
        hlen = np.fromiter(map(len, headers), dtype=np.int64, count=n)
        hdr["user_headers_length"] = hlen
    sizes = 64 + plen + hlen
    ends = np.cumsum(sizes)
    if int(ends[-1]) > U32_MAX:
        raise InvalidCommand("a batch cannot exceed 4 GiB")
    head_bytes = hdr.view(np.uint8).reshape(n, 64)
    size0 = int(plen[0])
    if headers is None and bool((plen == size0).all()):
        area = np.empty((n, 64 + size0), dtype=np.uint8)
        area[:, :64] = head_bytes
        if size0:
            area[:, 64:] = np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(n, size0)
        records = area.data.cast("B")
    else:
        hv = hdr.data.cast("B")
        parts: list[bytes | memoryview] = []
        if headers is None:
            for i, p in enumerate(payloads):
                parts += (hv[i * 64 : i * 64 + 64], p)
        else:
            for i, p in enumerate(payloads):
                parts += (hv[i * 64 : i * 64 + 64], p, headers[i])
        records = memoryview(b"".join(parts))
    return EncodedBatch(records, ends.astype(np.uint32))


@dataclass(frozen=True, slots=True)
class PolledMessages:
    partition_id: int
    current_offset: int
    messages: list[PolledMessage]

    @property
    def count(self) -> int:
        return len(self.messages)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)


def parse_polled_messages(body: bytes) -> PolledMessages:
    """A poll response: the 16-byte head, then ``count`` records (no index array)."""
    if not body:
        return PolledMessages(0, 0, [])
    head = PolledHead.decode(body)
    out: list[PolledMessage] = []
    pos = PolledHead.SIZE
    unpack = _RECORD.unpack_from
    end = len(body)
    for _ in range(head.count):
        if pos + 64 > end:
            raise InvalidCommand("poll response ends inside a record header")
        checksum, raw_id, offset, ts, origin, h_len, p_len, _ = unpack(body, pos)
        p_at = pos + 64
        h_at = p_at + p_len
        pos = h_at + h_len
        if pos > end:
            raise InvalidCommand("poll response ends inside a record")
        out.append(
            PolledMessage(
                checksum, int.from_bytes(raw_id, "little"), offset, ts, origin, body[p_at:h_at], body[h_at:pos]
            )
        )
    return PolledMessages(head.partition_id, head.current_offset, out)
