"""Stored consumer and consumer-group offsets of one partition.

One file per consumer under the partition's ``offsets`` directory:
``offsets/consumers/<id>`` or ``offsets/groups/<id>``,
holding the offset as a u64 LE (Iggy 0.8's layout). A store writes a temporary
file, fsyncs it, renames it over the old one and fsyncs the directory, so after
kill -9 or power loss each file holds either the old or the new value, never a
torn one. Leftover ``*.tmp`` files from an interrupted store are removed on load.

All offsets are read once, on first use, and served from memory afterwards.
``fsync=False`` keeps the rename (atomic against kill -9) but skips the fsyncs, for
servers that do not promise durability across power loss.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from whippet.storage import layout

__all__ = ["ConsumerOffsets"]

_U64 = struct.Struct("<Q")
_TMP = ".tmp"
_KINDS = (layout.CONSUMER_KIND, layout.GROUP_KIND)


class ConsumerOffsets:
    __slots__ = ("_cache", "_dir", "_fsync")

    def __init__(self, directory: Path, *, fsync: bool = True) -> None:
        """``directory`` is ``<partition dir>/offsets`` (``layout.offsets_dir``)."""
        self._dir = Path(directory)
        self._fsync = fsync
        self._cache: dict[tuple[int, int], int] | None = None

    def get(self, kind: int, consumer_id: int) -> int | None:
        return self._loaded().get((_check_kind(kind), consumer_id))

    def store(self, kind: int, consumer_id: int, offset: int) -> None:
        """Durably replace the stored offset (see the module docstring)."""
        cache = self._loaded()
        key = (_check_kind(kind), consumer_id)
        folder = layout.kind_dir(self._dir, kind)
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            if self._fsync:  # make the new directories themselves durable
                layout.fsync_dir(self._dir)
                layout.fsync_dir(self._dir.parent)
        final = layout.offset_path(self._dir, kind, consumer_id)
        tmp = final.with_name(final.name + _TMP)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, _U64.pack(offset))
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        if self._fsync:
            layout.fsync_dir(folder)
        cache[key] = offset

    def delete(self, kind: int, consumer_id: int) -> bool:
        """Forget a stored offset; False if there was none."""
        cache = self._loaded()
        key = (_check_kind(kind), consumer_id)
        if cache.pop(key, None) is None:
            return False
        try:
            os.unlink(layout.offset_path(self._dir, kind, consumer_id))
        except FileNotFoundError:
            pass
        if self._fsync:
            layout.fsync_dir(layout.kind_dir(self._dir, kind))
        return True

    def lowest(self) -> int | None:
        """The smallest stored offset of any consumer or group: the retention barrier."""
        cache = self._loaded()
        return min(cache.values()) if cache else None

    def items(self, kind: int) -> dict[int, int]:
        """consumer id -> stored offset, for one kind."""
        kind = _check_kind(kind)
        return {cid: off for (k, cid), off in self._loaded().items() if k == kind}

    def clear(self) -> None:
        """Forget every stored offset (partition purge or deletion)."""
        for kind in _KINDS:
            folder = layout.kind_dir(self._dir, kind)
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            for name in names:
                try:
                    os.unlink(folder / name)
                except FileNotFoundError:
                    pass
            if self._fsync:
                layout.fsync_dir(folder)
        self._cache = {}

    def _loaded(self) -> dict[tuple[int, int], int]:
        if self._cache is None:
            self._cache = self._load()
        return self._cache

    def _load(self) -> dict[tuple[int, int], int]:
        found: dict[tuple[int, int], int] = {}
        for kind in _KINDS:
            folder = layout.kind_dir(self._dir, kind)
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            for name in names:
                path = folder / name
                if name.endswith(_TMP):
                    path.unlink(missing_ok=True)
                    continue
                if not name.isdigit():
                    continue
                data = path.read_bytes()
                if len(data) == _U64.size:
                    found[(kind, int(name))] = _U64.unpack(data)[0]
        return found


def _check_kind(kind: int) -> int:
    if kind not in _KINDS:
        raise ValueError(f"unknown consumer kind {kind}")
    return kind
