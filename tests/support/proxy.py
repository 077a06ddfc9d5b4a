"""A loopback TCP proxy for the binary protocol that can lose a reply on purpose.

It relays frames between a client and a node. ``drop_reply_to`` names a command
code: the first request with that code is delivered to the node, its reply is
read and thrown away, and the client's connection is closed instead, which is
exactly what a client sees when a connection dies after the node applied a
request. The next connection relays normally.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

__all__ = ["FrameProxy"]

_HEAD = struct.Struct("<II")


@dataclass
class FrameProxy:
    upstream_port: int
    drop_reply_to: int | None = None
    dropped: int = 0
    requests: list[int] = field(default_factory=list)
    _server: asyncio.AbstractServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> FrameProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            while True:
                head = await reader.readexactly(8)
                length, code = _HEAD.unpack(head)
                body = await reader.readexactly(length - 4)
                self.requests.append(code)
                up_writer.write(head + body)
                reply_head = await up_reader.readexactly(8)
                reply = reply_head + await up_reader.readexactly(_HEAD.unpack(reply_head)[1])
                if code == self.drop_reply_to and self.dropped == 0:
                    self.dropped += 1
                    return  # the node applied it; the client never hears
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            up_writer.close()
