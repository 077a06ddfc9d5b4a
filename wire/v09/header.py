"""The 256-byte headers of the 0.9 wire (protocol 0.9 §1, §2.2, §10), sans-IO.

Every 0.9 message on TCP, TLS, WebSocket and QUIC is a 256-byte header and an
optional body; the header's ``size`` (u32 @48) counts both. A client sends
Request headers (command 5); the server answers each with one Reply header
(command 8) or ends the session with an Eviction header (command 13, no body).

A 0.9 connection starts with a header whose first 48 bytes are zero (client
headers are not sealed), while a 0.8 connection starts with a u32 frame length
of at least 4. :func:`is_v09_start` decides from the first 4 bytes, which is what
lets one port serve both.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from whippet.wire.framing import _Chunks

__all__ = [
    "COMMAND_EVICTION",
    "COMMAND_REPLY",
    "COMMAND_REQUEST",
    "DETECT_BYTES",
    "EMPTY_BODY_CHECKSUM",
    "HEADER_SIZE",
    "MAX_MESSAGE_SIZE",
    "PROTOCOL_VERSION",
    "Eviction",
    "FramingError",
    "HeaderReader",
    "Operation",
    "RequestHeader",
    "encode_eviction",
    "encode_reply",
    "is_v09_start",
    "pack_version",
    "version_accepted",
]

HEADER_SIZE = 256
#: upstream's ``max_message_size`` default: a larger ``size`` tears the connection down
MAX_MESSAGE_SIZE = 64 << 20
#: how many leading bytes decide between 0.8 and 0.9 (never wait for more than 8)
DETECT_BYTES = 4
COMMAND_REQUEST = 5
COMMAND_REPLY = 8
COMMAND_EVICTION = 13
#: XXH3-64 of an empty body: the ``request_checksum`` of a Logout
EMPTY_BODY_CHECKSUM = 0x2D06800538D394C2


def pack_version(major: int, minor: int, patch: int) -> int:
    """``major << 20 | minor << 10 | patch`` (10 bits each)."""
    return (major << 20) | (minor << 10) | patch


#: the binary protocol this codec speaks (the 0.9.0 SDK sends exactly this)
PROTOCOL_VERSION = pack_version(0, 11, 0)
_PROTOCOL_MIN = PROTOCOL_VERSION & ~0x3FF


def version_accepted(packed: int) -> bool:
    """Upstream's gate: same major.minor as the server, any patch (0.11.x)."""
    return packed >= _PROTOCOL_MIN and (packed >> 10) <= (PROTOCOL_VERSION >> 10)


class Operation(IntEnum):
    """The header's ``operation`` byte; 128..149 are metadata writes, 160..162 the partition plane."""

    RESERVED = 0
    REGISTER = 1
    NON_REPLICATED = 2
    LOGOUT = 3
    CREATE_STREAM = 128
    UPDATE_STREAM = 129
    DELETE_STREAM = 130
    PURGE_STREAM = 131
    CREATE_TOPIC = 132
    UPDATE_TOPIC = 133
    DELETE_TOPIC = 134
    PURGE_TOPIC = 135
    CREATE_PARTITIONS = 136
    DELETE_PARTITIONS = 137
    DELETE_SEGMENTS = 138
    CREATE_CONSUMER_GROUP = 139
    DELETE_CONSUMER_GROUP = 140
    CREATE_USER = 141
    UPDATE_USER = 142
    DELETE_USER = 143
    CHANGE_PASSWORD = 144
    UPDATE_PERMISSIONS = 145
    CREATE_PERSONAL_ACCESS_TOKEN = 146
    DELETE_PERSONAL_ACCESS_TOKEN = 147
    JOIN_CONSUMER_GROUP = 148
    LEAVE_CONSUMER_GROUP = 149
    SEND_MESSAGES = 160
    STORE_CONSUMER_OFFSET = 161
    DELETE_CONSUMER_OFFSET = 162

    @property
    def is_metadata(self) -> bool:
        return 128 <= self <= 149

    @property
    def result_framed(self) -> bool:
        """Replies start with a result section (§1.4)."""
        return self.is_metadata or self in (
            Operation.STORE_CONSUMER_OFFSET,
            Operation.DELETE_CONSUMER_OFFSET,
            Operation.REGISTER,
        )


class Eviction(IntEnum):
    """Reasons of an Eviction header (§1.3) and what the SDK makes of them."""

    NO_SESSION = 1
    CLIENT_RELEASE_TOO_LOW = 2
    CLIENT_RELEASE_TOO_HIGH = 3
    INVALID_REQUEST_OPERATION = 4
    INVALID_REQUEST_BODY = 5
    INVALID_REQUEST_BODY_SIZE = 6
    SESSION_TOO_LOW = 7
    SESSION_RELEASE_MISMATCH = 8
    INVALID_CREDENTIALS = 9
    INVALID_TOKEN = 10
    USER_INACTIVE = 11
    SESSION_ERROR = 12
    STALE_CLIENT = 13
    INCOMPATIBLE_PROTOCOL = 14
    MALFORMED_LOGIN = 15


class FramingError(Exception):
    """The byte stream cannot be read as 0.9 headers: close without a reply (upstream does)."""


# 0 checksum, 16 checksum_body, 32 cluster, 48 size, 52 view, 56 release, 60 command,
# 61 replica, 62 reserved_frame, 128 client, 144 request_checksum, 160 timestamp,
# 168 request, 176 operation, 177 padding, 184 session, 192 user_id, 196 code, 200 reserved
_REQUEST = struct.Struct("<32x16sIIIBB66x16s16sQQB7xQ4xI56x")
# 0/16 checksums, 32 cluster, 48 size, 52 view, 56 release, 60 command, 61 replica,
# 62 reserved, 128 request_checksum, 144 context, 160 client, 176 op, 184 commit,
# 192 timestamp, 200 request, 208 operation, 209 padding, 216 status, 220 reserved
_REPLY = struct.Struct("<32x16sIIIBB66x16s16x16sQQQQB7xI36x")
_EVICTION = struct.Struct("<32x16sIIIBB66x16sII103xB")
assert _REQUEST.size == _REPLY.size == _EVICTION.size == HEADER_SIZE


def is_v09_start(first: bytes | bytearray | memoryview) -> bool | None:
    """Whether a connection speaks 0.9, from its first bytes; None until 4 are in.

    A 0.9 request starts with its zero ``checksum``; a 0.8 frame starts with a
    length of at least 4. So 4 zero bytes mean 0.9 and anything else 0.8.
    """
    if len(first) < DETECT_BYTES:
        return None
    return bytes(first[:DETECT_BYTES]) == b"\0\0\0\0"


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """The fields of a Request header a server acts on or echoes (§1.1)."""

    size: int
    cluster: bytes
    view: int
    release: int
    replica: int
    client: int
    request_checksum: int
    timestamp: int
    request: int
    operation: int
    session: int
    #: the 0.8 command code, only meaningful for ``NON_REPLICATED``
    code: int

    @property
    def body_size(self) -> int:
        return self.size - HEADER_SIZE

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> RequestHeader:
        """Decode 256 bytes; raises :class:`FramingError` for a size or command no request has."""
        (cluster, size, view, release, command, replica, client, checksum, timestamp, request,
         operation, session, code) = _REQUEST.unpack_from(data)  # fmt: skip
        if command != COMMAND_REQUEST:
            raise FramingError(f"header command {command} is not a request (5)")
        if not HEADER_SIZE <= size <= MAX_MESSAGE_SIZE:
            raise FramingError(f"header size {size} outside {HEADER_SIZE}..{MAX_MESSAGE_SIZE}")
        return cls(
            size=size, cluster=cluster, view=view, release=release, replica=replica,
            client=int.from_bytes(client, "little"),
            request_checksum=int.from_bytes(checksum, "little"), timestamp=timestamp,
            request=request, operation=operation, session=session, code=code,
        )  # fmt: skip

    def encode(self) -> bytes:
        """The header as a client sends it (tests and tools; the SDK side of the codec)."""
        return _REQUEST.pack(
            self.cluster, self.size, self.view, self.release, COMMAND_REQUEST, self.replica,
            self.client.to_bytes(16, "little"), self.request_checksum.to_bytes(16, "little"),
            self.timestamp, self.request, self.operation, self.session, self.code,
        )  # fmt: skip


def encode_reply(
    req: RequestHeader, body_size: int, *, status: int = 0, op: int = 0, commit: int = 0
) -> bytes:
    """A Reply header answering ``req``: its identity fields and ``operation`` echoed."""
    return _REPLY.pack(
        req.cluster, HEADER_SIZE + body_size, req.view, req.release, COMMAND_REPLY, req.replica,
        req.request_checksum.to_bytes(16, "little"), req.client.to_bytes(16, "little"),
        op, commit, req.timestamp, req.request, req.operation, status,
    )  # fmt: skip


def encode_eviction(req: RequestHeader, reason: Eviction) -> bytes:
    """An Eviction header; reason 14 carries the accepted version window."""
    window = (PROTOCOL_VERSION, _PROTOCOL_MIN) if reason == Eviction.INCOMPATIBLE_PROTOCOL else (0, 0)
    return _EVICTION.pack(
        req.cluster, HEADER_SIZE, req.view, req.release, COMMAND_EVICTION, req.replica,
        req.client.to_bytes(16, "little"), *window, int(reason),
    )  # fmt: skip


class HeaderReader:
    """Server side: bytes in, ``(RequestHeader, body)`` out, like ``wire.framing.RequestReader``.

    :meth:`next_frame` raises :class:`FramingError` as soon as a header is in
    whose size or command cannot be a request; the stream cannot be trusted
    after that, so the caller closes the connection.
    """

    __slots__ = ("_buf", "_pending", "_max_frame", "_on_oversize")

    def __init__(self, *, max_frame: int | None = None, on_oversize: Callable[[], object] | None = None) -> None:
        """``max_frame``: a tighter bound than :data:`MAX_MESSAGE_SIZE` on a message's size (the
        transport's limit); ``on_oversize`` is called before such a message is refused."""
        self._buf = _Chunks()
        self._pending: RequestHeader | None = None
        self._max_frame = max_frame
        self._on_oversize = on_oversize

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buf.append(data)

    def buffered(self) -> int:
        return self._buf.size

    def receiving(self) -> bool:
        """A message has started to arrive and is not complete yet."""
        return self._pending is not None or self._buf.size > 0

    def next_frame(self) -> tuple[RequestHeader, memoryview] | None:
        if self._pending is None:
            if self._buf.size < HEADER_SIZE:
                return None
            header = RequestHeader.decode(self._buf.peek(HEADER_SIZE))
            if self._max_frame is not None and HEADER_SIZE + header.body_size > self._max_frame:
                if self._on_oversize is not None:
                    self._on_oversize()
                raise FramingError(f"message of {HEADER_SIZE + header.body_size} bytes exceeds this transport's "
                                   f"limit of {self._max_frame}")
            self._buf.take(HEADER_SIZE)
            self._pending = header
        header = self._pending
        if self._buf.size < header.body_size:
            return None
        self._pending = None
        return header, self._buf.take(header.body_size)
