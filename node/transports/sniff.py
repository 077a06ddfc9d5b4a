"""One port, two protocols: tell a 0.8 from a 0.9 connection by its first bytes.

Every binary transport (TCP, TLS, WebSocket, QUIC streams) reads through a
:class:`FrameReader`. It holds at most the first 4 bytes until it can decide
(``wire.v09.header.is_v09_start``: 4 zero bytes are a 0.9 header's unsealed
checksum, anything else is a 0.8 length), then cuts frames with that version's
reader. :func:`answer_frame` runs a frame through the matching codec, so the
transports never look at versions themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from whippet.node.v09.dispatch import answer09
from whippet.wire.errors import IggyError
from whippet.wire.framing import RequestFrame, RequestReader
from whippet.wire.v09.header import FramingError, HeaderReader, RequestHeader, is_v09_start

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["Frame", "FrameReader", "Unreadable", "V09Frame", "answer_frame"]


@dataclass(frozen=True, slots=True)
class V09Frame:
    header: RequestHeader
    body: memoryview


@dataclass(frozen=True, slots=True)
class Unreadable:
    """The byte stream broke: 0.8 answers ``status`` and closes, 0.9 just closes (as upstream)."""

    status: int | None


Frame = RequestFrame | V09Frame | Unreadable


class FrameReader:
    """Bytes in, frames of either version out; the version is fixed by the first 4 bytes.

    :meth:`next_frame` never raises: a framing failure comes out as one
    :class:`Unreadable`, after which the reader yields nothing more.
    """

    __slots__ = ("_head", "_reader", "_broken", "_max_frame", "_on_oversize")

    def __init__(self, *, max_frame: int | None = None, on_oversize: Callable[[], object] | None = None) -> None:
        """``max_frame``: the transport's frame-size limit (``transports.limits``), for either
        version; ``on_oversize`` is called when a frame is refused for it."""
        self._head = b""
        self._reader: RequestReader | HeaderReader | None = None
        self._broken = False
        self._max_frame = max_frame
        self._on_oversize = on_oversize

    @property
    def is_v09(self) -> bool | None:
        """None until decided."""
        return None if self._reader is None else isinstance(self._reader, HeaderReader)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._reader is None:
            self._head += bytes(data)
            decided = is_v09_start(self._head)
            if decided is None:
                return
            self._reader = (
                HeaderReader(max_frame=self._max_frame, on_oversize=self._on_oversize) if decided
                else RequestReader(max_frame=self._max_frame, on_oversize=self._on_oversize)
            )
            data, self._head = self._head, b""
        self._reader.feed(data)

    def receiving(self) -> bool:
        """A frame has started to arrive and is not complete yet (the slow-client bound)."""
        return bool(self._head) or (self._reader is not None and not self._broken and self._reader.receiving())

    def next_frame(self) -> Frame | None:
        if self._reader is None or self._broken:
            return None
        try:
            if isinstance(self._reader, HeaderReader):
                got = self._reader.next_frame()
                return None if got is None else V09Frame(*got)
            return self._reader.next_frame()
        except IggyError as exc:
            self._broken = True
            return Unreadable(exc.status)
        except FramingError:  # no reply on a 0.9 connection, as upstream
            self._broken = True
            return Unreadable(None)


async def answer_frame(node: Node, session: Session, frame: Frame) -> tuple[list[Any], bool]:
    """Run one frame of either version; return the reply buffers and whether to close."""
    from whippet.node.transports.binary import answer  # binary.py reads through this module

    if isinstance(frame, V09Frame):
        return await answer09(node, session, frame.header, frame.body)
    if isinstance(frame, Unreadable):
        if frame.status is None:
            return [], True
        return await answer(node, session, -frame.status, memoryview(b""))
    return await answer(node, session, frame.code, frame.payload)
