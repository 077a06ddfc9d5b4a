"""The binary protocol over QUIC (aioquic), as Iggy 0.8 carries it (protocol reference §8.1).

One QUIC connection is one client session (a login covers the connection). Each
request uses its own client-opened bidirectional stream: the client writes one
request frame (and finishes its side), the server answers with one response
frame and finishes its side. Streams of one connection run concurrently, as
in 0.8. A frame is dispatched as soon as it is complete, without waiting for the
client's FIN, which is what 0.8's ``read_exact`` does; a stream that ends before
its frame is complete, or whose length field is unreadable, gets an error status.

QUIC is always TLS 1.3. No ALPN is set (the 0.8 SDK sends none). With no
``quic_tls_cert_file`` the node serves the self-signed ``localhost`` certificate
kept in its data dir (``transports.tls``); the 0.8 SDK does not validate QUIC
certificates unless told to. Transport limits follow 0.8's server defaults:
10 s idle timeout (its SDK keeps the connection alive every 5 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    QuicEvent,
    StreamDataReceived,
    StreamReset,
)

from whippet.node.session import TRANSPORT_QUIC
from whippet.node.transports import tls
from whippet.node.transports.sniff import Frame, FrameReader, Unreadable, answer_frame
from whippet.wire.errors import InvalidCommand
from whippet.wire.framing import encode_error

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session
    from whippet.node.transports.limits import Guard

__all__ = ["IDLE_TIMEOUT_S", "server_configuration", "start"]

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 10.0
_STREAM_WINDOW = 4 << 20  # per-stream receive window: a large send needs few credit round trips
_CONNECTION_WINDOW = 16 << 20


def server_configuration(node: Node) -> QuicConfiguration:
    cfg = node.config
    files = tls.files_for(cfg.quic_tls_cert_file, cfg.quic_tls_key_file, node.data_dir, "quic_tls")
    configuration = QuicConfiguration(
        is_client=False,
        alpn_protocols=None,
        idle_timeout=IDLE_TIMEOUT_S,
        max_stream_data=_STREAM_WINDOW,
        max_data=_CONNECTION_WINDOW,
    )
    try:
        configuration.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ValueError) as exc:
        raise tls.TlsSetupError(f"quic_tls: cannot load {files.cert_file} / {files.key_file}: {exc}") from None
    return configuration


async def start(node: Node, host: str, port: int) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Listen for QUIC on UDP ``host:port`` (0 = any free port); return the bound port and a closer."""
    live: set[_Connection] = set()

    def make(quic: Any, stream_handler: Any = None) -> _Connection:
        return _Connection(quic, node, live)

    server = await serve(host, port, configuration=server_configuration(node), create_protocol=make)
    transport = server._transport  # aioquic exposes no public accessor for the bound address
    if transport is None:
        raise OSError(f"QUIC server on {host}:{port} has no transport")
    bound = transport.get_extra_info("sockname")[1]

    async def close() -> None:
        for conn in list(live):
            conn.shut_down()
        server.close()
        await asyncio.sleep(0)

    return int(bound), close


class _Stream:
    """One request stream: its bytes until the frame is complete, then done."""

    __slots__ = ("reader", "started")

    def __init__(self, reader: FrameReader) -> None:
        self.reader = reader  # 0.8 or 0.9, decided by the stream's first bytes
        self.started = False


class _Connection(QuicConnectionProtocol):
    def __init__(self, quic: Any, node: Node, live: set[_Connection]) -> None:
        super().__init__(quic)
        self._node = node
        self._live = live
        self._peer = "unknown:0"
        self._session: Session | None = None
        self._streams: dict[int, _Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed_session = False
        self._guard: Guard | None = None

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        if self._session is None and self._peer == "unknown:0":
            self._peer = f"{addr[0]}:{addr[1]}"
        super().datagram_received(data, addr)

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived):
            self._on_stream_data(event)
        elif isinstance(event, HandshakeCompleted):
            if self._session is None and not self._closed_session:
                self._guard = self._node.limits.open("quic", self.shut_down)
                if self._guard is None:  # over limits_max_connections
                    self._closed_session = True
                    self._quic.close(error_code=0x2, reason_phrase="too many connections")  # CONNECTION_REFUSED
                    self.transmit()
                    return
                self._session = self._node.clients.open(self._peer, TRANSPORT_QUIC)
                self._live.add(self)
                self._node.metrics.connections(+1)
        elif isinstance(event, StreamReset):
            self._streams.pop(event.stream_id, None)
        elif isinstance(event, ConnectionTerminated):
            self.shut_down()

    def _on_stream_data(self, event: StreamDataReceived) -> None:
        sid = event.stream_id
        if self._session is None or sid & 0x2:  # before the handshake, or a unidirectional stream
            return
        if self._guard is not None:
            self._guard.touch(len(event.data), False)  # idle bound only; QUIC flow control bounds the rest
        stream = self._streams.get(sid)
        if stream is None:
            stream = self._streams[sid] = _Stream(self._node.limits.reader("quic"))
        if stream.started:
            return  # one request per stream; anything after the frame is ignored
        stream.reader.feed(event.data)
        frame = stream.reader.next_frame()
        if isinstance(frame, Unreadable):  # this stream only: 0.8 gets the status, 0.9 no reply
            stream.started = True
            self._reply(sid, [] if frame.status is None else [encode_error(frame.status)])
            return
        if frame is not None:
            stream.started = True
            task = self._loop.create_task(self._run(sid, frame))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif event.end_stream:
            stream.started = True
            self._reply(sid, [] if stream.reader.is_v09 else [encode_error(InvalidCommand.code)])

    async def _run(self, sid: int, frame: Frame) -> None:
        assert self._session is not None
        buffers, close = await answer_frame(self._node, self._session, frame)
        if self._closed_session:
            return
        self._reply(sid, buffers)
        if close:
            self.close()

    def _reply(self, sid: int, buffers: list[Any]) -> None:
        quic = self._quic
        last = len(buffers) - 1
        self._streams.pop(sid, None)
        try:
            if not buffers:  # nothing to say (a broken 0.9 frame): just finish the stream
                quic.send_stream_data(sid, b"", end_stream=True)
            for i, buf in enumerate(buffers):  # aioquic appends each to the stream's send buffer
                quic.send_stream_data(sid, buf, end_stream=i == last)
        except (RuntimeError, ValueError) as exc:  # the client reset or stopped the stream meanwhile
            log.debug("QUIC stream %d dropped its reply: %s", sid, exc)
            return
        self.transmit()

    def shut_down(self) -> None:
        """Close the connection (if still open) and release its session and running requests."""
        if self._closed_session:
            return
        self._closed_session = True
        if self._guard is not None:
            self._guard.release()
        for task in list(self._tasks):
            task.cancel()
        self._streams.clear()
        self._live.discard(self)
        if self._session is not None:
            self._node.session_closed(self._session)
            self._node.metrics.connections(-1)
        try:
            self.close()  # sends CONNECTION_CLOSE unless the connection already ended
        except (RuntimeError, OSError) as exc:  # the UDP endpoint is already closed at shutdown
            log.debug("QUIC close after shutdown: %s", exc)
