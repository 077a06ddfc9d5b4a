"""The Raft log on disk: a crash-safe replacement for pysyncobj's ``FileJournal``.

pysyncobj's own journal writes records into an mmap that is never flushed, has no
checksums, caps offsets at 4 GiB and rewrites itself in place on compaction (a
crash in the middle loses entries). This class implements the same duck-typed
interface (``add``, ``clear``, ``deleteEntriesFrom``, ``deleteEntriesTo``,
indexing, ``len``, the term / vote / commit-index accessors) with:

- records ``len u32 | crc32 u32 | idx u64 | term u64 | command`` appended with
  ``os.write``; a torn or damaged tail is cut off on open;
- :meth:`sync` (``fdatasync``), which the binding calls before any message leaves
  the node and after every tick, i.e. before an entry can count towards a commit
  and so before any proposal is acknowledged (group commit: one sync per tick);
- truncations synced at once, compaction by write-new-then-rename;
- term and vote written durably before they are used (Raft requires it); the
  commit index lazily, once a second (a stale one is safe: it only delays
  re-applying entries until the leader confirms them).

File header: ``b"WHJL" | version u8 | 3 reserved``. The meta file beside it is
``b"WHJM" | crc32 u32 | JSON``.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whippet.wire.errors import StateFileCorrupted

__all__ = ["DurableJournal", "Entry", "fsync_dir", "write_file_durably"]

log = logging.getLogger(__name__)

Entry = tuple[bytes, int, int]  # (command, raft index, term), as pysyncobj expects

_HEADER = b"WHJL\x01\x00\x00\x00"
_REC = struct.Struct("<IIQQ")  # payload length, crc32, idx, term
_META_MAGIC = b"WHJM"


def fsync_dir(path: Path) -> None:
    """Make a rename or file creation in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _record(command: bytes, idx: int, term: int) -> bytes:
    body = struct.pack("<QQ", idx, term) + command
    return struct.pack("<II", len(body), zlib.crc32(body)) + body


def write_file_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file, fsync, rename, fsync dir."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


class DurableJournal:
    """pysyncobj-compatible Raft journal with checksummed records and explicit sync."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._meta_path = self._path.with_name(self._path.name + ".meta")
        self._entries: list[Entry] = []
        self._offsets: list[int] = []
        self._dirty = False
        self._meta = self._load_meta()
        self._meta_dirty = False
        self._fd = self._open()

    # --- opening ------------------------------------------------------------------------
    def _load_meta(self) -> dict[str, Any]:
        try:
            raw = self._meta_path.read_bytes()
        except FileNotFoundError:
            return {}
        if raw[:4] != _META_MAGIC or len(raw) < 8:
            raise StateFileCorrupted(f"{self._meta_path}: not a journal meta file")
        (crc,) = struct.unpack_from("<I", raw, 4)
        if zlib.crc32(raw[8:]) != crc:
            raise StateFileCorrupted(f"{self._meta_path}: checksum mismatch")
        meta: dict[str, Any] = json.loads(raw[8:])
        return meta

    def _open(self) -> int:
        created = not self._path.exists()
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        if created or os.fstat(fd).st_size == 0:
            _write_all(fd, _HEADER)
            os.fsync(fd)
            fsync_dir(self._path.parent)
            return fd
        with open(fd, "rb", closefd=False) as f:
            data = f.read()
        if data[: len(_HEADER)] != _HEADER:
            os.close(fd)
            raise StateFileCorrupted(f"{self._path}: not a metadata journal")
        off = len(_HEADER)
        while off + _REC.size <= len(data):
            length, crc, idx, term = _REC.unpack_from(data, off)
            end = off + 8 + length
            if length < 16 or end > len(data) or zlib.crc32(data[off + 8 : end]) != crc:
                break
            self._entries.append((data[off + _REC.size : end], idx, term))
            self._offsets.append(off)
            off = end
        if off != len(data):
            log.warning("%s: dropping %d bytes of torn journal tail", self._path, len(data) - off)
            os.ftruncate(fd, off)
            os.fsync(fd)
        os.lseek(fd, off, os.SEEK_SET)
        return fd

    # --- log -----------------------------------------------------------------------------
    def add(self, command: bytes, idx: int, term: int) -> None:
        command = bytes(command)
        self._offsets.append(os.lseek(self._fd, 0, os.SEEK_CUR))
        _write_all(self._fd, _record(command, idx, term))
        self._entries.append((command, idx, term))
        self._dirty = True

    def sync(self) -> None:
        """Make every added entry durable (no-op when nothing is pending)."""
        if self._dirty:
            os.fdatasync(self._fd)
            self._dirty = False

    flush = sync

    def _truncate_at(self, pos: int) -> None:
        off = self._offsets[pos] if pos < len(self._offsets) else os.lseek(self._fd, 0, os.SEEK_CUR)
        del self._entries[pos:]
        del self._offsets[pos:]
        os.ftruncate(self._fd, off)
        os.lseek(self._fd, off, os.SEEK_SET)
        os.fdatasync(self._fd)
        self._dirty = False

    def clear(self) -> None:
        self._truncate_at(0)

    def deleteEntriesFrom(self, entryFrom: int) -> None:
        self._truncate_at(max(entryFrom, 0))

    def deleteEntriesTo(self, entryTo: int) -> None:
        """Drop the first ``entryTo`` entries (log compaction): the kept entries
        go to a new file that replaces the old one atomically."""
        self._replace(self._entries[entryTo:])

    def rewrite(self, entries: list[Entry]) -> None:
        """Replace every entry at once, atomically (a format upgrade of the commands)."""
        self._replace(list(entries))

    def _replace(self, keep: list[Entry]) -> None:
        blob = _HEADER + b"".join(_record(*e) for e in keep)
        write_file_durably(self._path, blob)
        os.close(self._fd)
        self._fd = os.open(self._path, os.O_RDWR)
        self._entries = list(keep)
        self._offsets = []
        off = len(_HEADER)
        for cmd, _idx, _term in keep:
            self._offsets.append(off)
            off += _REC.size + len(cmd)
        os.lseek(self._fd, off, os.SEEK_SET)
        self._dirty = False

    def trim_before(self, first: Entry, second: Entry) -> bool:
        """Finish a compaction a crash interrupted: if ``first`` is directly
        followed by ``second`` somewhere in the log, drop what precedes ``first``.
        Returns whether the pair was found."""
        for pos in range(len(self._entries) - 1):
            if self._entries[pos] == first and self._entries[pos + 1] == second:
                if pos:
                    self.deleteEntriesTo(pos)
                return True
        return False

    def __getitem__(self, item: Any) -> Any:
        return self._entries[item]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    # --- raft persistent state --------------------------------------------------------------
    def _store_meta(self) -> None:
        body = json.dumps(self._meta, sort_keys=True).encode()
        write_file_durably(
            self._meta_path, _META_MAGIC + struct.pack("<I", zlib.crc32(body)) + body
        )
        self._meta_dirty = False

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:
        if self._meta.get("commit") != raftCommitIndex:
            self._meta["commit"] = raftCommitIndex
            self._meta_dirty = True

    def getRaftCommitIndex(self) -> int:
        return int(self._meta.get("commit", 1))

    def setCurrentTerm(self, term: int, votedForNodeId: Any) -> None:
        self._meta["term"] = term
        self._meta["voted_for"] = None if votedForNodeId is None else str(votedForNodeId)
        self._store_meta()

    def getCurrentTerm(self) -> int:
        return int(self._meta.get("term", 0))

    def getVotedForNodeId(self) -> str | None:
        voted: str | None = self._meta.get("voted_for")
        return voted

    def onOneSecondTimer(self) -> None:
        if self._meta_dirty:
            self._store_meta()

    def _destroy(self) -> None:
        if self._fd < 0:
            return
        self.sync()
        if self._meta_dirty:
            self._store_meta()
        os.close(self._fd)
        self._fd = -1
