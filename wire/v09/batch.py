"""0.9 message batches and the 0.8 record format whippet stores (protocol 0.9 §5).

Storage keeps Iggy 0.8's 64-byte-header records (docs/ARCHITECTURE.md, "Two
protocols, one log"), so a 0.8 poll still comes straight from segment bytes and
a 0.9 batch is converted at the edges:

- **send** (:func:`parse_send_messages`): a 256-byte batch header and frames
  with 48-byte headers become 0.8 records: the frame's id, lengths, payload and
  user headers are kept; its origin timestamp becomes ``origin_timestamp +
  timestamp_delta``; storage stamps offsets, the append time and the record
  checksums as for a 0.8 send.
- **poll** (:func:`encode_poll_batches`): stored records become one 0.9 batch
  per run of records sharing a server timestamp (an append), so every message
  reads back with the offset, id, headers, timestamp and origin timestamp a 0.8
  client sees. A frame's checksum field carries the message's stored checksum
  (the one a 0.8 client reads); the batch checksum is computed over them.

Header fields move between the layouts with numpy over the whole batch; bodies
are moved with one masked copy (or one strided copy when every message has the
same size, the usual batch). Two steps of a send still touch each message from
Python, as the 0.8 path's checksum stamping does: one C hash call per frame
(checking the producer's frame checksum), and finding where frames start when
they differ in size, since a 0.9 batch has no index array and a frame's start
depends on the previous frame's length. A poll has no per-message step for
equal-sized messages.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xxhash

from whippet.wire._codec import Identifier, Reader, Writer
from whippet.wire.batch import (
    MAX_PAYLOAD_SIZE,
    MAX_USER_HEADERS_SIZE,
    RECORD_DTYPE,
    RECORD_HEADER_SIZE,
    SendBatch,
    _send_identifier,
)
from whippet.wire.errors import (
    IggyError,
    InvalidCommand,
    InvalidMessagesCount,
    InvalidMessagesSize,
    InvalidOffset,
    InvalidReservedField,
    TooBigMessagePayload,
    TooBigUserHeaders,
    TooSmallMessage,
)
from whippet.wire.primitives import Partitioning

__all__ = [
    "BATCH_DTYPE",
    "BATCH_HEADER_SIZE",
    "FRAME_DTYPE",
    "FRAME_HEADER_SIZE",
    "PolledBatches",
    "PolledMessage09",
    "decode_poll_batches",
    "encode_poll_batches",
    "encode_send_body",
    "parse_send_messages",
    "records_from_frames",
]

BATCH_HEADER_SIZE = 256
FRAME_HEADER_SIZE = 48
_GROW = RECORD_HEADER_SIZE - FRAME_HEADER_SIZE  # 16

FRAME_DTYPE = np.dtype(
    [
        ("checksum", "<u8"),
        ("id_lo", "<u8"),
        ("id_hi", "<u8"),
        ("offset_delta", "<u4"),
        ("timestamp_delta", "<u4"),
        ("user_headers_length", "<u4"),
        ("payload_length", "<u4"),
        ("reserved", "<u8"),
    ]
)
BATCH_DTYPE = np.dtype(
    [
        ("partition_id", "<u8"),
        ("base_offset", "<u8"),
        ("base_timestamp", "<u8"),
        ("origin_timestamp", "<u8"),
        ("batch_length", "<u8"),
        ("batch_checksum", "<u8"),
        ("message_count", "<u4"),
        ("reserved", "V204"),
    ]
)
assert FRAME_DTYPE.itemsize == FRAME_HEADER_SIZE and BATCH_DTYPE.itemsize == BATCH_HEADER_SIZE

_U32 = struct.Struct("<I")
_LENGTHS = struct.Struct("<II")  # user_headers_length, payload_length at frame byte 32
_DELTA_LIMIT = 1 << 32
_hash = xxhash.xxh3_64_intdigest

IntArray = npt.NDArray[np.int64]
U8Array = npt.NDArray[np.uint8]


def _lanes(starts: IntArray, width: int) -> IntArray:
    return (starts[:, None] + np.arange(width, dtype=np.int64)).ravel()


def _rebuild(
    src: memoryview, starts: IntArray, ends: IntArray, skip: int, heads: U8Array, writable: bool = False
) -> bytes | bytearray:
    """Item i becomes ``heads[i]`` followed by ``src[starts[i] + skip : ends[i]]``, all joined.

    For items of different sizes: one ``join`` over views (no byte is copied
    twice; two list entries per item). Equal sizes take the strided numpy path
    in the callers instead.
    """
    width = heads.shape[1]
    flat = heads.reshape(-1).data
    parts: list[memoryview] = []
    for i, (s, e) in enumerate(zip((starts + skip).tolist(), ends.tolist())):
        parts.append(flat[i * width : (i + 1) * width])
        parts.append(src[s:e])
    return (bytearray() if writable else b"").join(parts)


def _uniform(count: int, total: int, head: int) -> int | None:
    """The common size of ``count`` equal items tiling ``total`` bytes, else None."""
    if count == 0 or total % count:
        return None
    size = total // count
    return size if size >= head else None


# --- send: frames -> records ----------------------------------------------------------------
def frame_starts(blob: memoryview, count: int) -> IntArray:
    """Where each of ``count`` frames starts; they must tile ``blob`` exactly.

    Equal-sized frames (checked with numpy) need no walk; otherwise each frame's
    lengths are read in turn, since a frame's start depends on the last one's size.
    """
    total = len(blob)
    area = np.frombuffer(blob, dtype=np.uint8)
    size = _uniform(count, total, FRAME_HEADER_SIZE)
    if size is not None:
        starts = np.arange(count, dtype=np.int64) * size
        heads = area[_lanes(starts + 32, 8)].view("<u4").reshape(count, 2).astype(np.int64)
        if bool((heads.sum(axis=1) + FRAME_HEADER_SIZE == size).all()):
            return starts
    out = np.empty(count, dtype=np.int64)
    pos = 0
    unpack = _LENGTHS.unpack_from
    for i in range(count):
        if pos + FRAME_HEADER_SIZE > total:
            raise InvalidMessagesSize(f"frame {i} does not fit the {total}-byte batch")
        out[i] = pos
        headers_len, payload_len = unpack(blob, pos + 32)
        pos += FRAME_HEADER_SIZE + headers_len + payload_len
    if pos != total:
        raise InvalidMessagesSize(f"{count} frames span {pos} bytes, the batch has {total}")
    return out


def _frame_checksums(blob: memoryview, starts: IntArray, ends: IntArray) -> npt.NDArray[np.uint64]:
    """XXH3 of bytes 8..end of each frame (one C call per frame)."""
    return np.array([_hash(blob[s:e]) for s, e in zip((starts + 8).tolist(), ends.tolist())], dtype=np.uint64)


def _batch_checksum(header: bytes | bytearray | memoryview, frame_sums: npt.NDArray[np.uint64]) -> int:
    """XXH3 over the six header fields (bytes 0..40 and 48..52) and each frame's checksum."""
    return _hash(b"".join((bytes(header[0:40]), bytes(header[48:52]), frame_sums.astype("<u8").tobytes())))


def records_from_frames(
    blob: memoryview, starts: IntArray, origin_timestamp: int, *, verify: bool = True
) -> tuple[U8Array, npt.NDArray[np.uint32]]:
    """Validated frames as 0.8 records (checksum, offset and timestamp 0) and their ends.

    Raises the 0.8 send path's codes for the same faults (4101 reserved, 4023
    sizes...), 4100 for an ``offset_delta`` that is not the frame's index and 4027
    for a frame whose checksum does not match its bytes.
    """
    count = len(starts)
    area = np.frombuffer(blob, dtype=np.uint8)
    frames = area[_lanes(starts, FRAME_HEADER_SIZE)].view(FRAME_DTYPE).reshape(count)
    payload_len = frames["payload_length"].astype(np.int64)
    headers_len = frames["user_headers_length"].astype(np.int64)
    sizes = FRAME_HEADER_SIZE + payload_len + headers_len
    ends = starts + sizes
    if int(ends[-1]) != len(blob) or bool((ends[:-1] != starts[1:]).any()):
        raise InvalidMessagesSize("frames do not tile the batch")
    if bool((frames["payload_length"] == 0).any()):
        raise TooSmallMessage("a message has an empty payload")
    if int(payload_len.max()) > MAX_PAYLOAD_SIZE:
        raise TooBigMessagePayload(f"a payload is over {MAX_PAYLOAD_SIZE} bytes")
    if int(headers_len.max()) > MAX_USER_HEADERS_SIZE:
        raise TooBigUserHeaders(f"user headers are over {MAX_USER_HEADERS_SIZE} bytes")
    if bool(frames["reserved"].any()):
        raise InvalidReservedField("a frame has a non-zero reserved field")
    if not np.array_equal(frames["offset_delta"], np.arange(count, dtype=np.uint32)):
        raise InvalidOffset("frame offset deltas must count from 0")
    if verify and not np.array_equal(_frame_checksums(blob, starts, ends), frames["checksum"]):
        raise IggyError("a frame checksum does not match its bytes", code=4027)
    out_starts = starts + _GROW * np.arange(count, dtype=np.int64)
    records = np.zeros(count, dtype=RECORD_DTYPE)
    records["id_lo"] = frames["id_lo"]
    records["id_hi"] = frames["id_hi"]
    records["origin_timestamp"] = np.uint64(origin_timestamp) + frames["timestamp_delta"].astype(np.uint64)
    records["user_headers_length"] = frames["user_headers_length"]
    records["payload_length"] = frames["payload_length"]
    heads = records.view(np.uint8).reshape(count, RECORD_HEADER_SIZE)
    if bool((sizes == sizes[0]).all()):
        size = int(sizes[0])
        out = np.empty((count, size + _GROW), dtype=np.uint8)
        out[:, RECORD_HEADER_SIZE:] = area.reshape(count, size)[:, FRAME_HEADER_SIZE:]
        out[:, :RECORD_HEADER_SIZE] = heads
        data: bytes | bytearray | U8Array = out.reshape(-1)
    else:
        data = _rebuild(blob, starts, ends, FRAME_HEADER_SIZE, heads)
    return np.frombuffer(data, dtype=np.uint8), (out_starts + sizes + _GROW).astype(np.uint32)


def parse_send_messages(payload: bytes | bytearray | memoryview, *, verify: bool = True) -> SendBatch:
    """A 0.9 SendMessages body (§5.1) as the :class:`SendBatch` every send path appends.

    The batch header must be consistent (length, count, zero reserved bytes)
    and, with ``verify``, its checksum and every frame checksum must match.
    """
    view = memoryview(payload).cast("B") if memoryview(payload).format != "B" else memoryview(payload)
    if len(view) < 4:
        raise InvalidCommand("send body shorter than its metadata length")
    meta_len = _U32.unpack_from(view)[0]
    batch_at = 4 + meta_len
    if batch_at + BATCH_HEADER_SIZE > len(view):
        raise InvalidCommand("send body too short for its metadata and batch header")
    r = Reader(view[4:batch_at])
    stream_id = _send_identifier(r)
    topic_id = _send_identifier(r)
    partitioning = Partitioning.decode(r)
    count = r.u32()
    if r.remaining():
        raise InvalidCommand("send metadata longer than its fields")
    header = view[batch_at : batch_at + BATCH_HEADER_SIZE]
    head = np.frombuffer(header, dtype=BATCH_DTYPE, count=1)[0]
    blob = view[batch_at + BATCH_HEADER_SIZE :]
    if count == 0 or int(head["message_count"]) != count:
        raise InvalidMessagesCount(f"messages_count {count} and the batch's {int(head['message_count'])} disagree")
    if int(head["batch_length"]) != BATCH_HEADER_SIZE + len(blob):
        raise InvalidMessagesSize(f"batch_length {int(head['batch_length'])} but {BATCH_HEADER_SIZE + len(blob)} bytes")
    if any(bytes(header[52:])):
        raise InvalidReservedField("the batch header's reserved bytes must be zero")
    starts = frame_starts(blob, count)
    records, ends = records_from_frames(blob, starts, int(head["origin_timestamp"]), verify=verify)
    if verify:
        sums = np.frombuffer(blob, dtype=np.uint8)[_lanes(starts, 8)].view("<u8")
        if _batch_checksum(header, sums) != int(head["batch_checksum"]):
            raise IggyError("the batch checksum does not match", code=4039)
    return SendBatch(stream_id, topic_id, partitioning, count, ends, records.data)


# --- poll: records -> batches ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PolledBatches:
    """A poll's messages as 0.9 batch records, ready to follow the 16-byte poll head.

    ``parts`` are the buffers to write in order (each record's header, then its
    frames), so the frames are never joined again in Python.
    """

    parts: list[bytes | memoryview]
    batches: int

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)


def _runs(timestamps: npt.NDArray[np.uint64], origins: npt.NDArray[np.uint64]) -> IntArray:
    """Run starts: a new batch wherever the server timestamp changes, and around any
    message whose origin time is too far from its run's to fit a u32 delta."""
    n = len(timestamps)
    starts = np.flatnonzero(np.concatenate(([True], timestamps[1:] != timestamps[:-1])))
    run_of = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
    low = np.minimum.reduceat(origins, starts)
    high = np.maximum.reduceat(origins, starts)
    wide = (high - low) >= _DELTA_LIMIT
    if bool(wide.any()):  # rare: split those runs into one batch per message
        alone = wide[run_of]
        starts = np.flatnonzero(np.concatenate(([True], timestamps[1:] != timestamps[:-1])) | alone)
    return starts.astype(np.int64)


def encode_poll_batches(records: bytes | memoryview, ends: npt.NDArray[np.integer], partition_id: int) -> PolledBatches:
    """Stored 0.8 records (back to back, ``ends`` = each one's end) as 0.9 batch records."""
    count = len(ends)
    if count == 0:
        return PolledBatches([], 0)
    area = np.frombuffer(records, dtype=np.uint8)
    one = _one_append(area, ends, partition_id)
    return one if one is not None else _encode_runs(area, ends, partition_id)


_BATCH_HEAD = struct.Struct("<QQQQQQI")  # BATCH_DTYPE without its reserved tail


def _one_append(area: U8Array, ends: npt.NDArray[np.integer], partition_id: int) -> PolledBatches | None:
    """The usual poll (equal-sized messages from one append) as one batch record, or None.

    Gives the bytes :func:`_encode_runs` gives, with a fraction of its numpy calls: a
    poll of 1000 small messages is dominated by per-call overhead, not by bytes. The
    record header's fields move to the frame header as byte columns (checksum and id
    at 0..24 stay, lengths move from 48 to 32), only the two deltas are computed.
    """
    count = len(ends)
    size = int(ends[0])
    if size <= RECORD_HEADER_SIZE or int(ends[-1]) != size * count:
        return None
    if count > 1 and not np.array_equal(ends, np.arange(size, size * count + 1, size)):
        return None
    stamps = np.ndarray((count,), "<u8", area, 32, (size,))
    if int(stamps[0]) != int(stamps[-1]) or not bool((stamps == stamps[0]).all()):
        return None
    origins = np.ndarray((count,), "<u8", area, 40, (size,))
    low = int(origins.min())
    if int(origins.max()) - low >= _DELTA_LIMIT:
        return None
    rows = area[: size * count].reshape(count, size)
    grid = np.empty((count, size - _GROW), dtype=np.uint8)
    grid[:, FRAME_HEADER_SIZE:] = rows[:, RECORD_HEADER_SIZE:]
    grid[:, :24] = rows[:, :24]  # checksum, id
    grid[:, 32:40] = rows[:, 48:56]  # user_headers_length, payload_length
    grid[:, 40:48] = 0  # reserved
    deltas = np.empty((count, 2), dtype="<u4")
    deltas[:, 0] = np.arange(count, dtype=np.uint32)
    deltas[:, 1] = origins - np.uint64(low)
    grid[:, 24:32] = deltas.view(np.uint8)
    header = bytearray(BATCH_HEADER_SIZE)
    base_offset = int(np.ndarray((1,), "<u8", area, 24)[0])
    length = BATCH_HEADER_SIZE + count * (size - _GROW)
    _BATCH_HEAD.pack_into(header, 0, partition_id, base_offset, int(stamps[0]), low, length, 0, count)
    sums = np.ndarray((count,), "<u8", area, 0, (size,))
    header[40:48] = _batch_checksum(header, sums).to_bytes(8, "little")
    return PolledBatches([bytes(header), grid.reshape(-1).data], 1)


def _encode_runs(area: U8Array, ends: npt.NDArray[np.integer], partition_id: int) -> PolledBatches:
    """Any poll: one batch record per run of records sharing a server timestamp."""
    count = len(ends)
    ends64 = np.asarray(ends, dtype=np.int64)
    starts = np.zeros(count, dtype=np.int64)
    starts[1:] = ends64[:-1]
    sizes = ends64 - starts
    uniform = bool((sizes == sizes[0]).all())
    size = int(sizes[0])
    if uniform:  # one size: rows of a 2-D view, no index arrays
        rows = area[: count * size].reshape(count, size)
        heads = np.ascontiguousarray(rows[:, :RECORD_HEADER_SIZE]).view(RECORD_DTYPE).reshape(count)
    else:
        heads = area[_lanes(starts, RECORD_HEADER_SIZE)].view(RECORD_DTYPE).reshape(count)
    stamps, origins = heads["timestamp"], heads["origin_timestamp"]
    runs = _runs(stamps, origins)
    nruns = len(runs)
    run_len = np.diff(np.append(runs, count))
    run_of = np.repeat(np.arange(nruns), run_len)
    base_origin = np.minimum.reduceat(origins, runs)
    fheads = np.zeros(count, dtype=FRAME_DTYPE)
    fheads["id_lo"] = heads["id_lo"]
    fheads["id_hi"] = heads["id_hi"]
    fheads["offset_delta"] = (np.arange(count, dtype=np.int64) - runs[run_of]).astype(np.uint32)
    fheads["timestamp_delta"] = (origins - base_origin[run_of]).astype(np.uint32)
    fheads["user_headers_length"] = heads["user_headers_length"]
    fheads["payload_length"] = heads["payload_length"]
    # The checksum a message is stored with (XXH3 of its stored record): what a 0.8 client
    # reads too. Hashing every frame again would cost a poll as much as the rest of it.
    sums = heads["checksum"].copy()
    fheads["checksum"] = sums
    fhead_bytes = fheads.view(np.uint8).reshape(count, FRAME_HEADER_SIZE)
    fsizes = sizes - _GROW
    if uniform:
        grid = np.empty((count, size - _GROW), dtype=np.uint8)
        grid[:, FRAME_HEADER_SIZE:] = rows[:, RECORD_HEADER_SIZE:]
        grid[:, :FRAME_HEADER_SIZE] = fhead_bytes
        frames = grid.reshape(-1)
    else:
        frames = np.frombuffer(_rebuild(area.data, starts, ends64, RECORD_HEADER_SIZE, fhead_bytes, True),
                               dtype=np.uint8)
    run_bytes = np.add.reduceat(fsizes, runs)
    batch = np.zeros(nruns, dtype=BATCH_DTYPE)
    batch["partition_id"] = partition_id
    batch["base_offset"] = heads["offset"][runs]
    batch["base_timestamp"] = stamps[runs]
    batch["origin_timestamp"] = base_origin
    batch["batch_length"] = run_bytes + BATCH_HEADER_SIZE
    batch["message_count"] = run_len
    raw = batch.view(np.uint8).reshape(nruns, BATCH_HEADER_SIZE)
    bounds = np.append(runs, count).tolist()
    batch["batch_checksum"] = [  # one C call per batch record (an append), not per message
        _batch_checksum(memoryview(raw[r]), sums[bounds[r] : bounds[r + 1]]) for r in range(nruns)
    ]
    run_ends = np.cumsum(run_bytes).tolist()
    parts: list[bytes | memoryview] = []
    flat = frames.data
    for r, (start, end) in enumerate(zip([0, *run_ends[:-1]], run_ends)):  # per batch record
        parts.append(raw[r].tobytes())
        parts.append(flat[start:end])
    return PolledBatches(parts, nruns)


# --- client side (tests, tools): loops per message, not the server's hot path -------------
_FRAME_TAIL = struct.Struct("<16sIIIIQ")  # id, offset_delta, timestamp_delta, headers, payload, reserved


def encode_send_body(
    stream_id: Identifier | int | str,
    topic_id: Identifier | int | str,
    partitioning: Partitioning,
    messages: list[tuple[int, bytes, bytes, int]],
) -> bytes:
    """A SendMessages body from ``(id, payload, user_headers, origin_timestamp)``, as the SDK sends it."""
    origin = min((m[3] for m in messages), default=0)
    frames = bytearray()
    sums = []
    for i, (mid, payload, headers, ts) in enumerate(messages):
        tail = _FRAME_TAIL.pack(mid.to_bytes(16, "little"), i, ts - origin, len(headers), len(payload), 0)
        body = tail + payload + headers
        checksum = _hash(body)
        sums.append(checksum)
        frames += checksum.to_bytes(8, "little") + body
    header = np.zeros(1, dtype=BATCH_DTYPE)
    header["origin_timestamp"] = origin
    header["batch_length"] = BATCH_HEADER_SIZE + len(frames)
    header["message_count"] = len(messages)
    raw = header.view(np.uint8)
    header["batch_checksum"] = _batch_checksum(raw.data, np.array(sums, dtype=np.uint64))
    w = Writer()
    for ident in (stream_id, topic_id):
        (ident if isinstance(ident, Identifier) else Identifier.parse(ident)).write(w)
    partitioning.write(w)
    w.u32(len(messages))
    meta = w.getvalue()
    return _U32.pack(len(meta)) + meta + header.tobytes() + bytes(frames)


@dataclass(frozen=True, slots=True)
class PolledMessage09:
    offset: int
    id: int
    timestamp: int
    origin_timestamp: int
    payload: bytes
    user_headers: bytes
    checksum: int


def decode_poll_batches(data: bytes | memoryview) -> list[PolledMessage09]:
    """Messages of the batch records that follow a poll's 16-byte head (as the SDK reads them)."""
    view = memoryview(data)
    out: list[PolledMessage09] = []
    pos = 0
    while pos < len(view):
        head = np.frombuffer(view[pos : pos + BATCH_HEADER_SIZE], dtype=BATCH_DTYPE, count=1)[0]
        end = pos + int(head["batch_length"])
        at = pos + BATCH_HEADER_SIZE
        for _ in range(int(head["message_count"])):
            checksum = int.from_bytes(view[at : at + 8], "little")
            mid, delta, tdelta, hlen, plen, _r = _FRAME_TAIL.unpack_from(view, at + 8)
            body = at + FRAME_HEADER_SIZE
            out.append(PolledMessage09(
                int(head["base_offset"]) + delta, int.from_bytes(mid, "little"), int(head["base_timestamp"]),
                int(head["origin_timestamp"]) + tdelta, bytes(view[body : body + plen]),
                bytes(view[body + plen : body + plen + hlen]), checksum,
            ))  # fmt: skip
            at = body + plen + hlen
        if at != end:
            raise InvalidCommand("batch record length disagrees with its frames")
        pos = end
    return out
