"""Frames of the binary protocol (protocol reference §1), sans-IO.

Request: ``[length u32][code u32][payload]`` where length counts the code and the
payload. Response: ``[status u32][length u32][payload]`` where length counts the
payload only. Transports feed whatever bytes arrive and pull whole frames out;
nothing here reads a socket or blocks.

Received bytes are kept as a queue of read-only chunks. A frame that lies inside
one chunk is returned as a view of it (no copy); a frame spanning chunks (a 1 MB
send arriving in 64 KiB reads) is joined exactly once when it is complete, so the
cost stays linear in the bytes received.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from whippet.wire.codes import SEND_MESSAGES
from whippet.wire.errors import InvalidCommand

__all__ = [
    "MAX_CONTROL_PAYLOAD",
    "HEADER_SIZE",
    "RequestFrame",
    "RequestReader",
    "ResponseReader",
    "encode_request",
    "request_header",
    "ok_header",
    "encode_ok",
    "encode_error",
]

#: Largest payload of any command but SendMessages (Iggy's MAX_CONTROL_FRAME_PAYLOAD).
MAX_CONTROL_PAYLOAD = 10 * 1024 * 1024
#: Both request and response headers are 8 bytes.
HEADER_SIZE = 8

_PAIR = struct.Struct("<II")
_U32 = struct.Struct("<I")
_EMPTY = memoryview(b"")


@dataclass(frozen=True, slots=True)
class RequestFrame:
    code: int
    payload: memoryview


class _Chunks:
    """A FIFO of received bytes: O(1) append, one join per frame that spans chunks."""

    __slots__ = ("_chunks", "size")

    def __init__(self) -> None:
        self._chunks: deque[memoryview] = deque()
        self.size = 0

    def append(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        if not view.readonly or view.format != "B" or view.ndim != 1:
            # The caller may reuse a mutable buffer (BufferedProtocol): keep our own copy.
            view = memoryview(bytes(view))
        if len(view):
            self._chunks.append(view)
            self.size += len(view)

    def peek(self, n: int) -> bytes:
        """The first ``n`` buffered bytes (``n`` <= size; used for 8-byte headers)."""
        out = bytearray()
        for chunk in self._chunks:
            out += chunk[: n - len(out)]
            if len(out) >= n:
                break
        return bytes(out)

    def take(self, n: int) -> memoryview:
        """Remove and return the first ``n`` bytes (``n`` <= size)."""
        if n == 0:
            return _EMPTY
        self.size -= n
        first = self._chunks[0]
        if len(first) >= n:
            if len(first) == n:
                self._chunks.popleft()
            else:
                self._chunks[0] = first[n:]
            return first[:n]
        parts: list[memoryview] = []
        need = n
        while need:
            chunk = self._chunks[0]
            if len(chunk) <= need:
                parts.append(chunk)
                self._chunks.popleft()
                need -= len(chunk)
            else:
                parts.append(chunk[:need])
                self._chunks[0] = chunk[need:]
                need = 0
        return memoryview(b"".join(parts))


class RequestReader:
    """Server side: bytes in, :class:`RequestFrame` out.

    ``next_frame`` raises :class:`InvalidCommand` for a length field below 4, a
    non-SendMessages payload above ``max_payload``, or any frame whose length
    field exceeds ``max_frame`` (the transport's limit, SendMessages included;
    ``on_oversize`` is called first, to count it); it does so as soon as the
    8-byte header is in, without waiting for (or buffering) the payload. The
    stream cannot be resynchronised after that, so the caller replies with the
    error and closes the connection.
    """

    __slots__ = ("_buf", "_pending", "_max_payload", "_max_frame", "_on_oversize")

    def __init__(self, max_payload: int = MAX_CONTROL_PAYLOAD, *, max_frame: int | None = None,
                 on_oversize: Callable[[], object] | None = None) -> None:
        self._buf = _Chunks()
        self._pending: tuple[int, int] | None = None
        self._max_payload = max_payload
        self._max_frame = max_frame
        self._on_oversize = on_oversize

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buf.append(data)

    def buffered(self) -> int:
        """Bytes received and not yet returned in a frame (header of a pending frame excluded)."""
        return self._buf.size

    def pending_header(self) -> tuple[int, int] | None:
        """``(code, payload_length)`` of a frame whose header is parsed but payload incomplete."""
        return self._pending

    def receiving(self) -> bool:
        """A frame has started to arrive and is not complete yet."""
        return self._pending is not None or self._buf.size > 0

    def next_frame(self) -> RequestFrame | None:
        """The next complete frame, or ``None`` when more bytes are needed."""
        if self._pending is None:
            size = self._buf.size
            if size < 4:
                return None
            header = self._buf.peek(min(size, HEADER_SIZE))
            length = _U32.unpack_from(header)[0]
            if length < 4:
                raise InvalidCommand(f"request length {length} is below 4")
            if self._max_frame is not None and length > self._max_frame:
                if self._on_oversize is not None:
                    self._on_oversize()
                raise InvalidCommand(f"frame of {length} bytes exceeds this transport's limit of {self._max_frame}")
            if size < HEADER_SIZE:
                return None
            code = _U32.unpack_from(header, 4)[0]
            payload_len = length - 4
            if payload_len > self._max_payload and code != SEND_MESSAGES:
                raise InvalidCommand(
                    f"payload of {payload_len} bytes exceeds {self._max_payload} for code {code}"
                )
            self._buf.take(HEADER_SIZE)
            self._pending = (code, payload_len)
        code, payload_len = self._pending
        if self._buf.size < payload_len:
            return None
        self._pending = None
        return RequestFrame(code, self._buf.take(payload_len))


class ResponseReader:
    """Client side: bytes in, ``(status, payload)`` out.

    A non-zero status always has an empty payload in Iggy, but the length field is
    honoured either way so the stream stays in sync.
    """

    __slots__ = ("_buf", "_pending", "_max_payload")

    def __init__(self, max_payload: int | None = None) -> None:
        self._buf = _Chunks()
        self._pending: tuple[int, int] | None = None
        self._max_payload = max_payload

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buf.append(data)

    def buffered(self) -> int:
        return self._buf.size

    def next_response(self) -> tuple[int, memoryview] | None:
        if self._pending is None:
            if self._buf.size < HEADER_SIZE:
                return None
            status, length = _PAIR.unpack(self._buf.peek(HEADER_SIZE))
            if self._max_payload is not None and length > self._max_payload:
                raise InvalidCommand(f"response of {length} bytes exceeds {self._max_payload}")
            self._buf.take(HEADER_SIZE)
            self._pending = (status, length)
        status, length = self._pending
        if self._buf.size < length:
            return None
        self._pending = None
        return status, self._buf.take(length)


def request_header(code: int, payload_len: int) -> bytes:
    """The 8-byte request header, for writing header and payload without joining them."""
    return _PAIR.pack(payload_len + 4, code)


def encode_request(code: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
    return _PAIR.pack(len(payload) + 4, code) + payload


def ok_header(payload_len: int) -> bytes:
    """The 8-byte header of an OK response carrying ``payload_len`` bytes."""
    return _PAIR.pack(0, payload_len)


def encode_ok(payload: bytes | bytearray | memoryview = b"") -> bytes:
    return _PAIR.pack(0, len(payload)) + payload


def encode_error(status: int) -> bytes:
    """``[status][0]``: Iggy sends no error text on the binary protocol."""
    if status == 0:
        raise ValueError("an error status cannot be 0")
    return _PAIR.pack(status, 0)
