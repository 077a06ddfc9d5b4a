"""Tools of an outsider on the network: find a node's ports, send them what pysyncobj would
unpickle, record and replay what members send each other.

- :func:`listening_ports` reads ``/proc`` for every TCP port a process listens on and every
  UDP port it holds, so "every port the node opens" is measured, not assumed.
- :func:`pickle_frame` is the frame the issue's exploit sent: pysyncobj's wire format
  (``int32 length`` + zlib(pickle)) carrying a pickle whose loading creates a marker file.
  Nothing on any port may ever run it.
- :class:`RecordingProxy` forwards a TCP port to another address and keeps what each
  accepted connection sent, so a test can replay a member's real frames.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import struct
import zlib
from pathlib import Path

__all__ = ["Marker", "RecordingProxy", "listening_ports", "pickle_frame", "send_to_every_port"]


class Marker:
    """Unpickling this creates ``path`` (what an attacker would replace with a shell command)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def pickle_frame(marker: Path) -> bytes:
    """pysyncobj's frame (``int32 length``, zlib of a pickle) around :class:`Marker`."""
    data = zlib.compress(pickle.dumps(Marker(marker)), 3)
    return struct.pack("i", len(data)) + data


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listening_ports(pid: int) -> dict[str, set[int]]:
    """{"tcp": listening TCP ports, "udp": bound UDP ports} of process ``pid`` (IPv4 and IPv6)."""
    inodes = _socket_inodes(pid)
    found: dict[str, set[int]] = {"tcp": set(), "udp": set()}
    for kind in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], int(fields[9])
            if inode not in inodes:
                continue
            if kind.startswith("tcp") and state == "0A":  # LISTEN
                found["tcp"].add(port)
            elif kind.startswith("udp"):
                found["udp"].add(port)
    return found


async def send_to_every_port(ports: dict[str, set[int]], payload: bytes, host: str = "127.0.0.1",
                             linger: float = 0.3) -> None:
    """Send ``payload`` to each TCP port (and as a datagram to each UDP port), wait a little,
    close. Errors (refused, reset: a port that hangs up on garbage) are expected."""
    async def one(port: int) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
        except (OSError, asyncio.TimeoutError):
            return
        try:
            writer.write(payload)
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(65536), linger)
            except asyncio.TimeoutError:
                pass
        except OSError:
            pass
        finally:
            writer.close()

    await asyncio.gather(*(one(p) for p in sorted(ports["tcp"])))
    for port in ports["udp"]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(payload[:1200], (host, port))


class RecordingProxy:
    """Listen on ``listen``; forward each connection to ``target``; keep the client->target bytes."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.listen = listen
        self.target = target
        self.recorded: list[bytearray] = []
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> RecordingProxy:
        self._server = await asyncio.start_server(self._accept, *self.listen, reuse_address=True)
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        record = bytearray()
        self.recorded.append(record)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, keep: bytearray | None) -> None:
            try:
                while data := await src.read(65536):
                    if keep is not None:
                        keep += data
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, record), pump(up_reader, writer, None))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
