"""When an append counts as acknowledged: the node's fsync policy.

- ``always``: the reply waits for an fsync of the partition's files; concurrent
  appends share one fsync (group commit, ``storage.flusher.Flusher``).
- ``interval``: every N ms all logs are fsynced in the background; replies do not wait.
- ``never``: the OS writes pages back when it likes (kill -9 still loses nothing
  that was written, a power cut may).
A failed fsync is fatal for the node: it is reported to ``on_fatal``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from whippet.storage.flusher import Flusher, IntervalSyncer

if TYPE_CHECKING:
    from whippet.node.partitions import PartitionRegistry
    from whippet.storage.log import PartitionLog

__all__ = ["Durability"]

log = logging.getLogger(__name__)


class Durability:
    def __init__(self, mode: str, interval_ms: int, on_fatal: Callable[[BaseException], None]) -> None:
        self.mode = mode
        self._on_fatal = on_fatal
        self._interval_ms = interval_ms
        self._flusher = Flusher(on_fatal=on_fatal)
        self._syncer: IntervalSyncer | None = None

    def start(self, partitions: PartitionRegistry) -> None:
        if self.mode == "interval":
            self._syncer = IntervalSyncer(
                self._flusher, lambda: [h.log for h in partitions.handles()], self._interval_ms
            )
            self._syncer.start()

    async def stop(self) -> None:
        if self._syncer is not None:
            await self._syncer.stop()
            self._syncer = None

    async def appended(self, plog: PartitionLog) -> None:
        """Wait until an append to ``plog`` is as durable as the policy promises."""
        if self.mode == "always":
            await self._flusher.sync(plog)

    async def flush(self, plog: PartitionLog) -> None:
        """An explicit flush (FlushUnsavedBuffer with fsync=1): always fsync."""
        await self._flusher.sync(plog)
