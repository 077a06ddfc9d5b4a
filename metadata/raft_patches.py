"""What whippet changes in pysyncobj, and why (the only other module importing it is ``raft``).

pysyncobj stays the metadata Raft (the design card keeps it); these are the places
where its behaviour broke safety or security, each replaced behind a subclass or a
rebound module name, so ``raft.py`` keeps to the asyncio facade:

1. **No pickle on the port or in the log** (:func:`install`). pysyncobj calls
   ``pickle.loads`` on every frame and on every command it applies. Its module-level
   ``pickle`` name is rebound to :mod:`.raft_wire`, which carries plain data only.
2. **Bounded, logged frames** (:class:`GuardedConnection`). A frame longer than
   :data:`MAX_FRAME` or one that does not decrypt/decode closes the connection and is
   logged (pysyncobj dropped it silently); compressed payloads are inflated with a
   bound, so a small frame cannot expand into gigabytes.
3. **No utility or read-only peers** (:class:`MemberTransport`). pysyncobj lets any
   connection that says ``readonly`` follow the log and accepts "utility" commands
   (add/remove members, status) from anyone who can reach the port. Only configured
   members may connect.
4. **A memberless node opens no port** (:class:`LocalTransport`). A single node never
   binds its Raft port, so nothing can reach it.
5. **AppendEntries keeps matching entries** (:func:`trim_append_entries`). pysyncobj
   deletes every entry after ``prevLogIdx`` whenever the follower has more, even when
   they match the leader's. A heartbeat or a resent batch with an old ``prevLogIdx``
   (after the leader rewinds its next index) then cut committed, already applied
   entries ("truncating already-applied log entries"), leaving a window in which a
   crash loses committed metadata. Raft truncates only from the first conflicting
   entry; this does the same, answering success for the verified prefix.
6. **Large entries are never sent as a pickled "transmission"**; such messages are
   refused (``appendEntriesBatchSizeBytes`` is raised so a member never sends one).
"""

from __future__ import annotations

import logging
import struct
import time
import zlib
from typing import Any

import pysyncobj.syncobj as _syncobj
import pysyncobj.tcp_connection as _tcp_connection
import pysyncobj.tcp_server as _tcp_server
import pysyncobj.transport as _transport
from pysyncobj.tcp_connection import TcpConnection
from pysyncobj.transport import TCPTransport

from whippet.metadata import raft_wire

__all__ = ["MAX_FRAME", "GuardedConnection", "LocalTransport", "MemberTransport", "install",
           "trim_append_entries", "rejected_frames"]

log = logging.getLogger(__name__)

#: largest Raft frame accepted (a metadata command is a few KB; snapshots travel in chunks)
MAX_FRAME = 64 * 1024 * 1024
_LEN = struct.Struct("i")  # native, as pysyncobj writes it
_LOG_EVERY = 5.0
_last_logged = 0.0
#: frames and connections refused since start, by reason (exported as a metric by the node)
rejected_frames: dict[str, int] = {}


def _reject(reason: str, peer: str) -> None:
    global _last_logged
    rejected_frames[reason] = rejected_frames.get(reason, 0) + 1
    now = time.monotonic()
    if now - _last_logged >= _LOG_EVERY:
        _last_logged = now
        log.warning("raft port: refused %s from %s (%d so far)", reason, peer, rejected_frames[reason])


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_FRAME)
    if d.unconsumed_tail or not d.eof:
        raise ValueError("frame inflates past the limit or is incomplete")
    return out


class GuardedConnection(TcpConnection):  # type: ignore[misc]
    """pysyncobj's connection with a frame-size bound, bounded inflation, and logging."""

    # pysyncobj's attributes this class reads and writes (its base is untyped).
    _TcpConnection__readBuffer: bytes
    recvLastTimestamp: int

    def _peer(self) -> str:
        sock = self._TcpConnection__socket
        try:
            return "%s:%s" % sock.getpeername()[:2] if sock is not None else "?"
        except OSError:
            return "?"

    def _TcpConnection__processRead(self) -> bool:
        more = bool(TcpConnection._TcpConnection__processRead(self))
        if len(self._TcpConnection__readBuffer) > MAX_FRAME + 4:
            _reject("an oversize frame", self._peer())
            self.disconnect()
            return False
        return more

    def _TcpConnection__processParseMessage(self) -> Any:
        buf = self._TcpConnection__readBuffer
        if len(buf) < 4:
            return None
        size = _LEN.unpack_from(buf)[0]
        if size <= 0 or size > MAX_FRAME:
            _reject("a frame with length %d" % size, self._peer())
            self.disconnect()
            return None
        if len(buf) - 4 < size:
            return None
        data = buf[4 : 4 + size]
        try:
            if self.encryptor:
                stamp = self.encryptor.extract_timestamp(data)
                if stamp < self.recvLastTimestamp:
                    raise ValueError("frame older than the previous one")
                self.recvLastTimestamp = stamp
                data = self.encryptor.decrypt(data)
            message = raft_wire.loads(_inflate(data))
            if self.recvRandKey:
                if not (isinstance(message, tuple) and len(message) == 2 and message[0] == self.recvRandKey):
                    raise ValueError("frame without this connection's key (a replay?)")
                message = message[1]
        except Exception as exc:  # noqa: BLE001 (any bad frame ends the connection)
            _reject(f"a bad frame ({type(exc).__name__})", self._peer())
            self.disconnect()
            return None
        self._TcpConnection__readBuffer = buf[4 + size :]
        return message


class MemberTransport(TCPTransport):  # type: ignore[misc]
    """Only configured members may connect: no read-only followers, no utility commands."""

    def _onIncomingMessageReceived(self, conn: Any, message: Any) -> None:
        if self._syncObj.encryptor and not conn.sendRandKey:
            TCPTransport._onIncomingMessageReceived(self, conn, message)  # the key exchange
            return
        if not isinstance(message, str) or message not in self._nodeAddrToNode:
            peer = conn._peer() if isinstance(conn, GuardedConnection) else "?"
            _reject("a connection that is not a member", peer)
            conn.disconnect()
            self._unknownConnections.discard(conn)
            return
        TCPTransport._onIncomingMessageReceived(self, conn, message)


class LocalTransport(MemberTransport):
    """A one-member group: ready at once, never binds, never dials."""

    _ready: bool  # pysyncobj's TCPTransport attribute (its base is untyped)

    def _maybeBind(self) -> None:
        if not self._ready:
            self._ready = True
            self._bindOverEvent.set()

    def _connectIfNecessary(self) -> None:
        return None


def trim_append_entries(message: dict[str, Any], entry_term: Any) -> tuple[dict[str, Any] | None, int | None]:
    """Raft's AppendEntries rule on top of pysyncobj's.

    ``entry_term(idx)`` is the term of this node's entry ``idx`` (None if it has none).
    Returns ``(message, None)`` to hand on to pysyncobj (possibly rewritten so that
    entries this node already holds are dropped and ``prevLogIdx`` points at the last
    of them), or ``(bookkeeping_message, verified_end)`` when every entry is already
    here: pysyncobj must then only update leader, term and commit index (capped at the
    verified prefix), and the caller answers success itself up to ``verified_end``. A message pysyncobj would reject anyway (no or a different
    entry at ``prevLogIdx``) is handed on unchanged.
    """
    if "prevLogIdx" not in message:
        return message, None
    prev, prev_term = message["prevLogIdx"], message["prevLogTerm"]
    if entry_term(prev) != prev_term:
        return message, None
    entries = list(message.get("entries") or [])
    k = 0
    while k < len(entries) and entry_term(entries[k][1]) == entries[k][2]:
        k += 1
    last_idx = entries[k - 1][1] if k else prev
    if k < len(entries):  # the first conflicting or missing entry: pysyncobj cuts from there
        if k == 0:
            return message, None
        return {**message, "prevLogIdx": last_idx, "prevLogTerm": entries[k - 1][2], "entries": entries[k:]}, None
    # Every entry is already here: nothing to cut or append (pysyncobj would delete and
    # re-add them, briefly losing committed entries from the journal).
    bookkeeping = {k2: v for k2, v in message.items() if k2 not in ("prevLogIdx", "prevLogTerm", "entries")}
    bookkeeping["commit_index"] = min(int(message["commit_index"]), last_idx)
    return bookkeeping, last_idx


_installed = False


def install() -> None:
    """Rebind pysyncobj's pickle and connection classes (idempotent, process-wide)."""
    global _installed
    if _installed:
        return
    _syncobj.pickle = raft_wire
    _tcp_connection.pickle = raft_wire
    _transport.TcpConnection = GuardedConnection
    _tcp_server.TcpConnection = GuardedConnection
    _installed = True
