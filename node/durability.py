"""When an append counts as acknowledged: the node's fsync policy.

- ``always``: the reply waits for an fsync of the partition's files; concurrent
  appends share one fsync (group commit, ``storage.flusher.Flusher``).
- ``interval``: every N ms all logs are fsynced in the background; replies do not wait.
- ``never``: the OS writes pages back when it likes (kill -9 still loses nothing
  that was written, a power cut may).
A failed fsync is fatal for the node: it is reported to ``on_fatal``.

Every wait for an fsync is timed and handed to ``on_fsync`` (seconds) when set:
the node's metrics set it, and a fsync that stalls the replies shows there first.
"""

from __future__ import annotations

import logging
import time
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
        #: called with the seconds each fsync wait took (set by ``NodeMetrics.watch``)
        self.on_fsync: Callable[[float], None] | None = None

    def start(self, partitions: PartitionRegistry) -> None:
        if self.mode == "interval":
            self._syncer = IntervalSyncer(
                _Timed(self), lambda: [h.log for h in partitions.handles()], self._interval_ms  # type: ignore[arg-type]
            )
            self._syncer.start()

    async def stop(self) -> None:
        if self._syncer is not None:
            await self._syncer.stop()
            self._syncer = None

    async def appended(self, plog: PartitionLog) -> None:
        """Wait until an append to ``plog`` is as durable as the policy promises."""
        if self.mode == "always":
            await self._sync(plog)

    async def flush(self, plog: PartitionLog) -> None:
        """An explicit flush (FlushUnsavedBuffer with fsync=1): always fsync."""
        await self._sync(plog)

    async def _sync(self, plog: PartitionLog) -> None:
        observe = self.on_fsync
        if observe is None:
            await self._flusher.sync(plog)
            return
        started = time.perf_counter()
        await self._flusher.sync(plog)
        observe(time.perf_counter() - started)


class _Timed:
    """What the interval syncer sees as its flusher: the same group commit, timed."""

    __slots__ = ("_durability",)

    def __init__(self, durability: Durability) -> None:
        self._durability = durability

    async def sync(self, plog: PartitionLog) -> None:
        await self._durability._sync(plog)
