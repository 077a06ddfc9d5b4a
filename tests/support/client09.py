"""A raw 0.9 binary client for tests and the bench: headers from ``wire.v09``, no SDK logic.

It sends exactly what it is told (so tests can send wrong checksums, stale
sessions or repeated request numbers) and returns each reply as
``(command, status, body)``; a 256-byte Eviction comes back with command 13 and
its reason in ``status``.
"""

from __future__ import annotations

import asyncio
import os
import struct

import xxhash

from whippet.wire import codes
from whippet.wire._codec import Writer
from whippet.wire.v09.header import (
    COMMAND_EVICTION,
    HEADER_SIZE,
    PROTOCOL_VERSION,
    Operation,
    RequestHeader,
)

__all__ = ["Client09", "Reply09", "login_body"]

Reply09 = tuple[int, int, bytes]
_U32 = struct.Struct("<I")


def login_body(username: str, password: str, version: int = PROTOCOL_VERSION) -> bytes:
    w = Writer().u32(version).name8("rust-sdk").name8("0.11.0").name8(username).str8(password).u32(0)
    return w.getvalue()


class Client09:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.client = int.from_bytes(os.urandom(16), "little") | 1
        self.session = 0
        self.request = 0

    @classmethod
    async def connect(cls, address: str) -> Client09:
        host, _, port = address.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port), limit=64 << 20)
        return cls(reader, writer)

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass

    def frame(self, operation: int, body: bytes = b"", *, code: int = 0, request: int | None = None,
              session: int | None = None, checksum: int | None = None) -> bytes:
        header = RequestHeader(
            size=HEADER_SIZE + len(body), cluster=bytes(16), view=0, release=0, replica=0, client=self.client,
            request_checksum=xxhash.xxh3_64_intdigest(body) if checksum is None else checksum,
            timestamp=0, request=self.request if request is None else request, operation=operation,
            session=self.session if session is None else session, code=code,
        )  # fmt: skip
        return header.encode() + body

    async def send_raw(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def read_reply(self) -> Reply09:
        head = await self._reader.readexactly(HEADER_SIZE)
        size = _U32.unpack_from(head, 48)[0]
        command = head[60]
        if command == COMMAND_EVICTION:
            return command, head[255], b""
        body = await self._reader.readexactly(size - HEADER_SIZE)
        return command, _U32.unpack_from(head, 216)[0], body

    async def login(self, username: str = "iggy", password: str = "iggy") -> Reply09:
        reply = await self.call(Operation.REGISTER, login_body(username, password), request=0, session=0)
        if reply[0] != COMMAND_EVICTION and reply[1] == 0:
            self.session = int.from_bytes(reply[2][8:16], "little")
        return reply

    async def call(self, operation: int, body: bytes = b"", **kw: int) -> Reply09:
        """One request; replicated operations take the next request number unless one is given."""
        if operation not in (Operation.REGISTER, Operation.NON_REPLICATED) and "request" not in kw:
            self.request += 1
        await self.send_raw(self.frame(operation, body, **kw))
        return await self.read_reply()

    async def command(self, code: int, body: bytes = b"") -> Reply09:
        """A NonReplicated command (reads, ping); no checksum, as the SDK sends them."""
        return await self.call(Operation.NON_REPLICATED, body, code=code, checksum=0)

    async def ping(self) -> Reply09:
        return await self.command(codes.PING)
