"""Per-partition lanes: requests on one link never wait; a request for another link waits
until the partition's in-flight requests are answered, and arrival order is kept."""

from __future__ import annotations

import asyncio

import pytest

from whippet.sdk.lanes import PartitionLanes

pytestmark = pytest.mark.asyncio

OLD, NEW = object(), object()


async def test_one_link_never_waits_and_lanes_are_dropped_when_idle() -> None:
    lanes = PartitionLanes()
    for _ in range(3):
        await asyncio.wait_for(lanes.enter("p", OLD), 0.1)
    await asyncio.wait_for(lanes.enter("q", NEW), 0.1)  # another partition is independent
    assert len(lanes) == 2
    for _ in range(3):
        lanes.leave("p")
    lanes.leave("q")
    assert len(lanes) == 0


async def test_a_new_link_waits_for_the_old_one_to_drain_and_order_is_kept() -> None:
    lanes = PartitionLanes()
    order: list[str] = []

    async def request(name: str, link: object, hold: asyncio.Event | None = None) -> None:
        await lanes.enter("p", link)
        order.append(name)
        if hold is not None:
            await hold.wait()
        lanes.leave("p")

    hold = asyncio.Event()
    first = asyncio.create_task(request("old-1", OLD, hold))
    await asyncio.sleep(0)
    moved = asyncio.create_task(request("new-2", NEW))
    await asyncio.sleep(0)
    late_old = asyncio.create_task(request("old-3", OLD))  # must not overtake new-2
    late_new = asyncio.create_task(request("new-4", NEW))
    await asyncio.sleep(0.01)
    assert order == ["old-1"]  # everything else waits for old-1's answer
    hold.set()
    await asyncio.wait_for(asyncio.gather(first, moved, late_old, late_new), 1)
    assert order == ["old-1", "new-2", "old-3", "new-4"]
    assert len(lanes) == 0


async def test_a_cancelled_waiter_does_not_block_the_others() -> None:
    lanes = PartitionLanes()
    await lanes.enter("p", OLD)
    waiter = asyncio.create_task(lanes.enter("p", NEW))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    await asyncio.wait_for(lanes.enter("p", OLD), 0.1)  # nobody is waiting any more
    lanes.leave("p")
    lanes.leave("p")
    await asyncio.wait_for(lanes.enter("p", NEW), 0.1)
    lanes.leave("p")
    assert len(lanes) == 0
