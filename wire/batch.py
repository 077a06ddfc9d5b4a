"""Message batches: the SendMessages payload (protocol §4.3/§4.4) and record helpers (§4.1).

This is the hot path. A batch stays bytes from the socket to the segment file:
:func:`parse_send_messages` reads the metadata with a :class:`Reader`, then checks
every record of §4.4 at once with numpy (the index array is viewed in place as
u32 lanes; bytes 24..64 of every record header are gathered in one fancy-index at
the record starts). No Python loop runs per message. A one-message batch, the
official SDK's usual send, takes an equivalent scalar path because numpy's fixed
cost per call would dominate it. The result is a :class:`SendBatch` holding a
view of the record area and the end position of each record, which is all
storage needs to stamp offsets and timestamps and to write the index.

Checks run rule by rule over the whole batch, in the order of §4.4, with one
reordering forced by data dependency: header offsets (4100) can only be read once
every record is known to lie inside the area, so that check follows the size
checks. A rejected non-zero ``reserved`` field gives 4101. Iggy 0.8 walks records
one by one instead, so a batch with several different faults may get a different
(still 4xxx/10011) code there; a batch with a single fault gets the same one,
except that a decreasing index position before the last record is 10011 here and
4033 in Iggy (whose slot check trips first).

Client-side builders (:func:`build_send_messages`, :func:`encode_record`) and the
poll-response parser (:func:`parse_polled`) loop per message; that is the SDK, not
the server's hot path.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from whippet.wire._codec import U32_MAX, Identifier, Reader, Writer
from whippet.wire.errors import (
    CannotReadIndexPosition,
    IggyError,
    InvalidCommand,
    InvalidIdentifier,
    InvalidMessagesCount,
    InvalidMessagesSize,
    InvalidOffset,
    InvalidReservedField,
    MissingIndex,
    NonZeroOffset,
    NonZeroTimestamp,
    TooBigMessagePayload,
    TooBigUserHeaders,
    TooSmallMessage,
)
from whippet.wire.headers import HeaderKind, UserHeader, decode_user_headers, encode_user_headers
from whippet.wire.primitives import Partitioning
from whippet.wire.responses import PolledHead

__all__ = [
    "RECORD_DTYPE",
    "RECORD_HEADER_SIZE",
    "INDEX_SIZE",
    "INDEX_DTYPE",
    "MAX_PAYLOAD_SIZE",
    "MAX_USER_HEADERS_SIZE",
    "CHECKSUM_AT",
    "ID_AT",
    "OFFSET_AT",
    "TIMESTAMP_AT",
    "ORIGIN_TIMESTAMP_AT",
    "USER_HEADERS_LENGTH_AT",
    "PAYLOAD_LENGTH_AT",
    "RESERVED_AT",
    "SendBatch",
    "parse_send_messages",
    "build_send_messages",
    "build_send_payload_from_records",
    "encode_record",
    "record_starts",
    "gather_u32",
    "gather_u64",
    "scatter_u64",
    "PolledMessage",
    "parse_polled",
    "HeaderKind",
    "UserHeader",
    "encode_user_headers",
    "decode_user_headers",
]

RECORD_HEADER_SIZE = 64
INDEX_SIZE = 16
MAX_PAYLOAD_SIZE = 64_000_000
MAX_USER_HEADERS_SIZE = 100_000

# Field offsets inside the 64-byte record header (§4.1).
CHECKSUM_AT = 0
ID_AT = 8
OFFSET_AT = 24
TIMESTAMP_AT = 32
ORIGIN_TIMESTAMP_AT = 40
USER_HEADERS_LENGTH_AT = 48
PAYLOAD_LENGTH_AT = 52
RESERVED_AT = 56

#: The 64-byte record header (§4.1) as numpy sees it; the u128 id is two u64 lanes.
#: The one definition of the layout: storage/ and sdk/ view records through it.
RECORD_DTYPE = np.dtype(
    [
        ("checksum", "<u8"),
        ("id_lo", "<u8"),
        ("id_hi", "<u8"),
        ("offset", "<u8"),
        ("timestamp", "<u8"),
        ("origin_timestamp", "<u8"),
        ("user_headers_length", "<u4"),
        ("payload_length", "<u4"),
        ("reserved", "<u8"),
    ]
)
assert RECORD_DTYPE.itemsize == RECORD_HEADER_SIZE

#: One 16-byte index entry, as sent in SendMessages and stored in ``.index`` files.
INDEX_DTYPE = np.dtype([("offset", "<u4"), ("position", "<u4"), ("timestamp", "<u8")])

_RECORD_HEADER = struct.Struct("<Q16sQQQIIQ")
_HEADER_TAIL = struct.Struct("<QQQIIQ")  # bytes 24..64
_INDEX_ENTRY = struct.Struct("<IIQ")
_U32 = struct.Struct("<I")
_LANES4 = np.arange(4, dtype=np.int64)
_LANES8 = np.arange(8, dtype=np.int64)
# Header bytes 24..64: everything after the checksum and id.
_HEADER_TAIL_DTYPE = np.dtype(
    [
        ("offset", "<u8"),
        ("timestamp", "<u8"),
        ("origin_timestamp", "<u8"),
        ("user_headers_length", "<u4"),
        ("payload_length", "<u4"),
        ("reserved", "<u8"),
    ]
)
_TAIL_LANES = np.arange(RECORD_HEADER_SIZE - OFFSET_AT, dtype=np.int64)

IntArray = npt.NDArray[np.int64]
U32Array = npt.NDArray[np.uint32]
ByteArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True, eq=False)
class SendBatch:
    """A validated SendMessages payload.

    ``records`` is a view of the record area of the request (no copy); record i
    spans ``[ends[i-1] or 0, ends[i])`` and ``ends[-1] == len(records)``.
    """

    stream_id: Identifier
    topic_id: Identifier
    partitioning: Partitioning
    count: int
    ends: npt.NDArray[np.uint32]
    records: memoryview

    def starts(self) -> IntArray:
        return record_starts(self.ends)


def _send_identifier(r: Reader) -> Identifier:
    # SendMessages metadata goes through a different parser in 0.8: every bad id is 6.
    try:
        return Identifier.decode(r)
    except IggyError as exc:
        raise InvalidIdentifier(f"bad identifier in send metadata: {exc.reason}") from exc


def parse_send_messages(payload: bytes | bytearray | memoryview) -> SendBatch:
    """Parse and validate a whole SendMessages payload; raise the §4.3/§4.4 code on failure."""
    view = memoryview(payload)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    total = len(view)
    if total < 4:
        raise InvalidCommand("send payload shorter than its metadata length field")
    meta_len = _U32.unpack_from(view)[0]
    index_at = 4 + meta_len
    if index_at > total:
        raise InvalidCommand(f"metadata length {meta_len} exceeds the payload")
    r = Reader(view[4:index_at])
    stream_id = _send_identifier(r)
    topic_id = _send_identifier(r)
    partitioning = Partitioning.decode(r)
    count = r.u32()
    records_at = index_at + count * INDEX_SIZE
    if records_at > total:
        raise InvalidCommand(f"{count} index entries do not fit the payload")
    if count == 0:
        raise InvalidMessagesCount("a send must carry at least one message")
    records = view[records_at:]
    if count == 1:
        ends = _validate_one(view, index_at, records)
    else:
        ends = _validate(view, index_at, count, records)
    return SendBatch(stream_id, topic_id, partitioning, count, ends, records)


def _first(mask: npt.ArrayLike) -> int:
    return int(np.flatnonzero(mask)[0])


def _validate_one(view: memoryview, index_at: int, records: memoryview) -> U32Array:
    """The checks of :func:`_validate` for a one-message batch, on scalars.

    Single-message sends are the common case of the official SDK; numpy's
    per-call overhead would dominate them. Same rules, same order, same codes
    (a test compares the two paths).
    """
    size = len(records)
    offset, _position, timestamp = _INDEX_ENTRY.unpack_from(view, index_at)
    if offset:
        raise NonZeroOffset("index 0 has a non-zero offset")
    if timestamp:
        raise NonZeroTimestamp("index 0 has a non-zero timestamp")
    if size < RECORD_HEADER_SIZE:
        raise TooSmallMessage("record 0 is under 64 bytes")
    _offset, _ts, _origin, headers_len, payload_len, reserved = _HEADER_TAIL.unpack_from(
        records, OFFSET_AT
    )
    record_size = RECORD_HEADER_SIZE + payload_len + headers_len
    if record_size > size:
        raise MissingIndex("record 0 does not fit its index bounds")
    if payload_len > MAX_PAYLOAD_SIZE:
        raise TooBigMessagePayload(f"record 0: payload over {MAX_PAYLOAD_SIZE} bytes")
    if headers_len > MAX_USER_HEADERS_SIZE:
        raise TooBigUserHeaders(f"record 0: user headers over {MAX_USER_HEADERS_SIZE} bytes")
    if reserved:
        raise InvalidReservedField("record 0: non-zero reserved field")
    if record_size != size:
        raise InvalidMessagesSize(f"records sum to {record_size} bytes, the area is {size}")
    return np.array([size], dtype=np.uint32)


def _validate(view: memoryview, index_at: int, count: int, records: memoryview) -> U32Array:
    """The §4.4 checks over all records at once; returns each record's end position."""
    size = len(records)
    # Index entries as u32 lanes: offset, position, timestamp low, timestamp high.
    index = np.frombuffer(view, dtype="<u4", count=4 * count, offset=index_at).reshape(count, 4)
    if index[:, 0].any():
        raise NonZeroOffset(f"index {_first(index[:, 0] != 0)} has a non-zero offset")
    if index[:, 2:].any():
        raise NonZeroTimestamp(f"index {_first(index[:, 2:].any(axis=1))} has a non-zero timestamp")
    # Record i spans [pos[i-1] or 0, pos[i]); the last one ends at the end of the area.
    ends = index[:, 1].astype(np.int64)
    if count > 1:
        bad = ends[1:] < ends[:-1]
        if bad.any():
            raise CannotReadIndexPosition(f"index position decreases at entry {_first(bad) + 1}")
        if ends[-2] > size:  # positions are sorted now: only the largest used one matters
            raise MissingIndex(f"record {_first(ends > size)} ends past the {size}-byte area")
    ends[-1] = size
    starts = record_starts(ends)
    slots = ends - starts
    if slots.min() < RECORD_HEADER_SIZE:
        raise TooSmallMessage(f"record {_first(slots < RECORD_HEADER_SIZE)} is under 64 bytes")
    # One gather of header bytes 24..64 of every record, viewed as named fields.
    area = np.frombuffer(records, dtype=np.uint8)
    tail = area[(starts + OFFSET_AT)[:, None] + _TAIL_LANES].view(_HEADER_TAIL_DTYPE)[:, 0]
    payload_len = tail["payload_length"].astype(np.int64)
    headers_len = tail["user_headers_length"].astype(np.int64)
    sizes = RECORD_HEADER_SIZE + payload_len + headers_len
    bad = sizes > slots
    if bad.any():
        raise MissingIndex(f"record {_first(bad)} does not fit its index bounds")
    if payload_len.max() > MAX_PAYLOAD_SIZE:
        raise TooBigMessagePayload(
            f"record {_first(payload_len > MAX_PAYLOAD_SIZE)}: "
            f"payload over {MAX_PAYLOAD_SIZE} bytes"
        )
    if headers_len.max() > MAX_USER_HEADERS_SIZE:
        raise TooBigUserHeaders(
            f"record {_first(headers_len > MAX_USER_HEADERS_SIZE)}: "
            f"user headers over {MAX_USER_HEADERS_SIZE} bytes"
        )
    if tail["reserved"].any():
        raise InvalidReservedField(
            f"record {_first(tail['reserved'] != 0)}: non-zero reserved field"
        )
    if count > 1:
        offsets = tail["offset"]
        bad = offsets[1:] < offsets[:-1]
        if bad.any():
            raise InvalidOffset(f"record header offsets decrease at record {_first(bad) + 1}")
    total = int(sizes.sum())
    if total != size:
        raise InvalidMessagesSize(f"records sum to {total} bytes, the area is {size}")
    return ends.astype(np.uint32)


# --- vectorized field access over a record area ---------------------------------


def record_starts(ends: npt.NDArray[np.integer]) -> IntArray:
    """Start of each record from the end positions (record 0 starts at 0)."""
    starts = np.zeros(len(ends), dtype=np.int64)
    starts[1:] = ends[:-1]
    return starts


def gather_u32(area: ByteArray, starts: IntArray, field_at: int) -> npt.NDArray[np.uint32]:
    """The little-endian u32 at ``start + field_at`` of every record."""
    lanes = area[(starts + field_at)[:, None] + _LANES4]
    values: npt.NDArray[np.uint32] = lanes.view("<u4").reshape(-1)
    return values


def gather_u64(area: ByteArray, starts: IntArray, field_at: int) -> npt.NDArray[np.uint64]:
    """The little-endian u64 at ``start + field_at`` of every record."""
    lanes = area[(starts + field_at)[:, None] + _LANES8]
    values: npt.NDArray[np.uint64] = lanes.view("<u8").reshape(-1)
    return values


def scatter_u64(area: ByteArray, starts: IntArray, field_at: int, values: npt.ArrayLike) -> None:
    """Write a u64 (one value, or one per record) at ``start + field_at`` of every record.

    ``area`` must be writable, e.g. ``np.frombuffer(bytearray_batch, np.uint8)``;
    used to stamp offsets and timestamps on a whole batch at once.
    """
    vals = np.broadcast_to(np.asarray(values, dtype="<u8"), starts.shape)
    lanes = np.ascontiguousarray(vals).view(np.uint8).reshape(-1, 8)
    area[(starts + field_at)[:, None] + _LANES8] = lanes


# --- client side ----------------------------------------------------------------


def encode_record(
    id: int, payload: bytes, user_headers: bytes = b"", origin_timestamp: int = 0
) -> bytes:
    """One record as a client sends it: checksum, offset and timestamp 0 (§4.1)."""
    try:
        header = _RECORD_HEADER.pack(
            0, id.to_bytes(16, "little"), 0, 0, origin_timestamp, len(user_headers), len(payload), 0
        )
    except (struct.error, OverflowError) as exc:
        raise InvalidCommand(f"record field out of range: {exc}") from exc
    return header + payload + user_headers


def _ident(value: Identifier | int | str) -> Identifier:
    return value if isinstance(value, Identifier) else Identifier.parse(value)


def build_send_payload_from_records(
    stream_id: Identifier | int | str,
    topic_id: Identifier | int | str,
    partitioning: Partitioning,
    records: bytes | bytearray | memoryview,
    ends: npt.ArrayLike,
) -> bytes:
    """A SendMessages payload around pre-encoded records (``ends`` = cumulative end positions)."""
    end_arr = np.asarray(ends)
    meta = Writer()
    _ident(stream_id).write(meta)
    _ident(topic_id).write(meta)
    partitioning.write(meta)
    meta.u32(len(end_arr))
    index = np.zeros(len(end_arr), dtype=INDEX_DTYPE)
    index["position"] = end_arr
    return b"".join((_U32.pack(len(meta)), meta.getvalue(), index.tobytes(), records))


def build_send_messages(
    stream_id: Identifier | int | str,
    topic_id: Identifier | int | str,
    partitioning: Partitioning,
    messages: Iterable[tuple[int, bytes, bytes, int]],
) -> bytes:
    """A SendMessages payload from ``(id, payload, user_headers, origin_timestamp)`` tuples."""
    records = [encode_record(mid, payload, headers, ts) for mid, payload, headers, ts in messages]
    ends = np.cumsum([len(rec) for rec in records], dtype=np.uint64)
    if len(ends) and int(ends[-1]) > U32_MAX:
        raise InvalidCommand("a batch cannot exceed 4 GiB")
    return build_send_payload_from_records(
        stream_id, topic_id, partitioning, b"".join(records), ends.astype(np.uint32)
    )


@dataclass(frozen=True, slots=True)
class PolledMessage:
    checksum: int
    id: int
    offset: int
    timestamp: int
    origin_timestamp: int
    payload: bytes
    user_headers: bytes


def parse_polled(payload: bytes | bytearray | memoryview) -> tuple[PolledHead, list[PolledMessage]]:
    """A poll response: the 16-byte head, then ``count`` records with no index array."""
    r = Reader(payload)
    head = PolledHead.read(r)
    messages = []
    for _ in range(head.count):
        header = _RECORD_HEADER.unpack(r.raw(RECORD_HEADER_SIZE))
        checksum, raw_id, offset, timestamp, origin, h_len, p_len, _reserved = header
        body = bytes(r.raw(p_len))
        headers = bytes(r.raw(h_len))
        messages.append(
            PolledMessage(
                checksum, int.from_bytes(raw_id, "little"), offset, timestamp, origin, body, headers
            )
        )
    return head, messages
