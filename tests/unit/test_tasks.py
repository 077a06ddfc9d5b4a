"""Stopping a background task (``whippet.tasks.stop_task``), shared by the SDK and the node.

The task's own end is dropped; the caller's own cancellation is not. Swallowing it let
a client closed in a ``finally`` under Ctrl-C carry on, and let a node stopping a
replication role mid-shutdown carry on with the role's work.
"""

from __future__ import annotations

import asyncio

import pytest

from whippet.tasks import stop_task

pytestmark = pytest.mark.asyncio


async def _stubborn() -> None:
    """A loop that takes a moment to wind down, as a reader or a role does."""
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        await asyncio.sleep(0.05)
        raise


async def test_the_callers_own_cancellation_gets_through() -> None:
    async def closer() -> str:
        loop = asyncio.ensure_future(_stubborn())
        await asyncio.sleep(0)  # the loop runs
        await stop_task(loop)
        return "carried on"

    task = asyncio.ensure_future(closer())
    await asyncio.sleep(0.01)
    task.cancel()  # lands while closer() waits for the loop to end
    done, _ = await asyncio.wait([task], timeout=2)
    assert done and task.cancelled()


async def test_the_tasks_own_end_is_dropped() -> None:
    async def failing() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("last error, no longer news") from None

    for body in (_stubborn(), failing()):
        task = asyncio.ensure_future(body)
        await asyncio.sleep(0)
        await stop_task(task)
        assert task.done()
    await stop_task(None)

