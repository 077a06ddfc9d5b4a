"""Stopping a background task: the one way every package here does it.

A leaf module (it imports only asyncio) so the SDK, the node, storage and replication
can all share it without depending on each other.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["stop_task"]


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended, whatever it ended with.

    Whoever stops a loop must not be outlived by it, and the loop's last error is no
    longer news, so both the task's CancelledError and its exception are dropped. The
    *caller's* own cancellation is not: suppressing every CancelledError while waiting
    also swallowed a cancellation that landed during the wait, so a client closed in a
    ``finally`` under Ctrl-C let the program carry on, and a node stopping a role
    mid-shutdown carried on with the role's work.
    """
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception:
        pass
