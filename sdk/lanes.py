"""Per-partition ordering when a partition's requests move from one connection to another.

Each connection keeps its own requests in order (the node answers them in
order), but two connections do not: when routing moves a partition from the
connected node (which forwards) to the leader's own connection, or back after a
failure, a batch sent on the new connection could overtake the batches still in
flight on the old one. A :class:`PartitionLanes` lane remembers which link a
partition's in-flight requests use; a request for another link waits until
they are all answered, and once anyone waits, later requests queue behind it,
so requests enter in the order they arrived. On one link nothing ever waits:
the cost on the hot path is a dict lookup and a counter.

Pure asyncio, no I/O: unit-tested with plain objects as links.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

__all__ = ["PartitionLanes"]


class _Lane:
    __slots__ = ("link", "count", "waiting", "drained")

    def __init__(self, link: object) -> None:
        self.link = link
        self.count = 1  # requests in flight on ``link``
        self.waiting = 0  # requests queued for the lane to drain
        self.drained: asyncio.Future[None] | None = None


class PartitionLanes:
    def __init__(self) -> None:
        self._lanes: dict[Hashable, _Lane] = {}

    def __len__(self) -> int:
        return len(self._lanes)

    async def enter(self, key: Hashable, link: object) -> None:
        """Wait until a request for ``key`` may be written on ``link``; pair with :meth:`leave`."""
        while True:
            lane = self._lanes.get(key)
            if lane is None:
                self._lanes[key] = _Lane(link)
                return
            if lane.link is link and not lane.waiting:
                lane.count += 1
                return
            if lane.drained is None:
                lane.drained = asyncio.get_running_loop().create_future()
            lane.waiting += 1
            try:
                await asyncio.shield(lane.drained)
            finally:
                lane.waiting -= 1

    def leave(self, key: Hashable) -> None:
        """The request's answer (or failure) arrived."""
        lane = self._lanes[key]
        lane.count -= 1
        if lane.count == 0:
            del self._lanes[key]  # waiters wake in arrival order and start a new lane
            if lane.drained is not None and not lane.drained.done():
                lane.drained.set_result(None)
