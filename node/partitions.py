"""The partition logs this node holds, opened from metadata and kept in step with it.

Metadata events (topic created, partitions deleted, stream purged, ...) arrive on
the event loop in apply order; this registry opens, purges and removes the
matching ``storage.PartitionLog`` directories. A log is opened once and kept open:
the hot path looks a partition up in a dict.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from whippet.storage import layout
from whippet.storage.log import LogConfig, PartitionLog
from whippet.wire.errors import PartitionNotFound

__all__ = ["PartitionHandle", "PartitionRegistry"]

log = logging.getLogger(__name__)

Key = tuple[int, int, int]


@dataclass(slots=True)
class PartitionHandle:
    key: Key
    log: PartitionLog
    #: held from stage to commit of an append (``PartitionLog`` stages one batch at a time)
    append_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class PartitionRegistry:
    def __init__(self, root: Path, config: LogConfig) -> None:
        self._root = root
        self._config = config
        self._open: dict[Key, PartitionHandle] = {}

    def get(self, stream_id: int, topic_id: int, partition_id: int) -> PartitionHandle:
        handle = self._open.get((stream_id, topic_id, partition_id))
        if handle is None:
            raise PartitionNotFound()
        return handle

    def local_log(self, stream_id: int, topic_id: int, partition_id: int) -> PartitionLog | None:
        handle = self._open.get((stream_id, topic_id, partition_id))
        return None if handle is None else handle.log

    def find(self, stream_id: int, topic_id: int, partition_id: int) -> PartitionHandle | None:
        return self._open.get((stream_id, topic_id, partition_id))

    def ensure(self, stream_id: int, topic_id: int, partition_id: int) -> PartitionHandle:
        key = (stream_id, topic_id, partition_id)
        handle = self._open.get(key)
        if handle is None:
            directory = layout.partition_dir(self._root, stream_id, topic_id, partition_id)
            handle = PartitionHandle(key=key, log=PartitionLog.open(directory, self._config))
            self._open[key] = handle
        return handle

    def handles(self) -> list[PartitionHandle]:
        return list(self._open.values())

    def of_topic(self, stream_id: int, topic_id: int) -> list[PartitionHandle]:
        return [h for k, h in sorted(self._open.items()) if k[0] == stream_id and k[1] == topic_id]

    def of_stream(self, stream_id: int) -> list[PartitionHandle]:
        return [h for k, h in sorted(self._open.items()) if k[0] == stream_id]

    # --- reactions to metadata ---
    def remove_partition(self, stream_id: int, topic_id: int, partition_id: int) -> None:
        handle = self._open.pop((stream_id, topic_id, partition_id), None)
        if handle is not None:
            handle.log.close()
        shutil.rmtree(layout.partition_dir(self._root, stream_id, topic_id, partition_id), ignore_errors=True)

    def remove_topic(self, stream_id: int, topic_id: int) -> None:
        for handle in self.of_topic(stream_id, topic_id):
            self._open.pop(handle.key, None)
            handle.log.close()
        shutil.rmtree(layout.topic_dir(self._root, stream_id, topic_id), ignore_errors=True)

    def remove_stream(self, stream_id: int) -> None:
        for handle in self.of_stream(stream_id):
            self._open.pop(handle.key, None)
            handle.log.close()
        shutil.rmtree(layout.stream_dir(self._root, stream_id), ignore_errors=True)

    def purge(self, handles: list[PartitionHandle]) -> None:
        """Delete every message; offsets restart at 0 (stored consumer offsets are metadata's)."""
        for handle in handles:
            handle.log.purge()

    def sync_all(self) -> None:
        for handle in self._open.values():
            handle.log.sync(index=True)

    def close_all(self) -> None:
        for handle in self._open.values():
            handle.log.close()
        self._open.clear()
