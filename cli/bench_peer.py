"""The peer every figure is divided by: a bare uvloop frame server over a file.

It speaks just enough of the binary protocol for the bench (any request is
appended to a file and answered OK; a poll request is answered with the next
slice of that file), with no validation, no indexes, no metadata. It is the
ceiling a Python server on this machine can reach, so ``whippet / peer`` says
how much our real work costs. Run as ``python -m whippet.cli.bench_peer PORT DIR``.
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys

_HEAD = struct.Struct("<II")
_POLL = 100


class _PeerProtocol(asyncio.Protocol):
    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buf = bytearray()
        self._read_pos = 0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= 8:
            length, code = _HEAD.unpack_from(buf)
            if len(buf) < 4 + length:
                return
            payload = bytes(buf[8 : 4 + length])
            del buf[: 4 + length]
            assert self._transport is not None
            if code == _POLL:
                want = struct.unpack_from("<I", payload, len(payload) - 5)[0] * 1088
                data_out = os.pread(self._fd, want, self._read_pos)
                self._read_pos += len(data_out)
                head = struct.pack("<IQI", 0, self._read_pos, len(data_out) // 1088)
                self._transport.writelines([_HEAD.pack(0, len(head) + len(data_out)), head, data_out])
            else:
                os.write(self._fd, payload)
                self._transport.write(_HEAD.pack(0, 0))


async def _serve(port: int, directory: str) -> None:
    fd = os.open(os.path.join(directory, "peer.log"), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _PeerProtocol(fd), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(int(sys.argv[1]), sys.argv[2]))


if __name__ == "__main__":
    main()
