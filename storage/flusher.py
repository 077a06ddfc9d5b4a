"""Group commit: fsync partition logs off the event loop, sharing fsyncs between waiters.

The one asyncio module of ``storage``. ``Flusher.sync(log)`` resolves once a fsync
that *started after the call* has finished:

* no fsync of that log is running: one starts now in the executor;
* one is running: it may have started before the caller's write, so the caller
  waits for the next one, which every request arriving meanwhile shares.

So at most one fsync per log is in flight and at most one is queued, however many
producers are waiting. A failed fsync is fatal (after an fsync error the kernel may
have dropped the dirty pages, so retrying could report success for lost data): it
is logged, ``on_fatal(exc)`` is called so the server can stop, and the waiters get
the exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Protocol

from whippet.tasks import stop_task

__all__ = ["Flusher", "IntervalSyncer", "Syncable"]

_log = logging.getLogger(__name__)


class Syncable(Protocol):
    def sync(self) -> None: ...


class _Chain:
    """The fsync in flight for one log and the one queued behind it."""

    __slots__ = ("queued", "running")

    def __init__(self) -> None:
        self.running: asyncio.Future[None] | None = None
        self.queued: asyncio.Future[None] | None = None


class Flusher:
    def __init__(
        self, on_fatal: Callable[[BaseException], None], executor: Executor | None = None
    ) -> None:
        self._on_fatal = on_fatal
        self._executor = executor
        self._chains: dict[Syncable, _Chain] = {}

    @property
    def in_flight(self) -> int:
        """Logs with an fsync running (for metrics and tests)."""
        return len(self._chains)

    async def sync(self, log: Syncable) -> None:
        """Return when a fsync of ``log`` begun after this call has succeeded."""
        loop = asyncio.get_running_loop()
        chain = self._chains.get(log)
        if chain is None:
            chain = self._chains[log] = _Chain()
        if chain.running is None:
            done: asyncio.Future[None] = loop.create_future()
            chain.running = done
            self._launch(loop, log, chain, done)
        else:
            if chain.queued is None:
                chain.queued = loop.create_future()
            done = chain.queued
        # Shielded: a cancelled waiter must not cancel the fsync others share.
        await asyncio.shield(done)

    def _launch(
        self,
        loop: asyncio.AbstractEventLoop,
        log: Syncable,
        chain: _Chain,
        done: asyncio.Future[None],
    ) -> None:
        job = loop.run_in_executor(self._executor, log.sync)
        job.add_done_callback(lambda j: self._finished(loop, log, chain, done, j))

    def _finished(
        self,
        loop: asyncio.AbstractEventLoop,
        log: Syncable,
        chain: _Chain,
        done: asyncio.Future[None],
        job: asyncio.Future[None],
    ) -> None:
        exc: BaseException | None
        exc = asyncio.CancelledError("fsync job cancelled") if job.cancelled() else job.exception()
        if exc is None:
            done.set_result(None)
        else:
            _log.critical("fsync of %r failed; data durability is lost", log, exc_info=exc)
            try:
                self._on_fatal(exc)
            except Exception:  # noqa: BLE001 - a bad callback must not strand the waiters
                _log.exception("on_fatal callback raised")
            done.set_exception(exc)
            done.exception()  # retrieved: waiters may all be gone; they still get it raised
        queued = chain.queued
        if queued is not None:
            chain.queued = None
            chain.running = queued
            self._launch(loop, log, chain, queued)
        else:
            chain.running = None
            self._chains.pop(log, None)


class IntervalSyncer:
    """fsync every log with unsynced writes every ``interval_ms`` (the "interval" mode).

    ``logs`` is called each round, so partitions created or deleted meanwhile are
    followed. A log without a ``needs_sync`` attribute is always synced.
    """

    def __init__(
        self, flusher: Flusher, logs: Callable[[], Iterable[Syncable]], interval_ms: int
    ) -> None:
        if interval_ms <= 0:
            raise ValueError("interval_ms must be positive")
        self._flusher = flusher
        self._logs = logs
        self._interval = interval_ms / 1000
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, final_sync: bool = True) -> None:
        """Stop the timer; by default run one last round so a clean stop loses nothing."""
        task, self._task = self._task, None
        await stop_task(task)
        if final_sync:
            await self.sync_all()

    async def sync_all(self) -> None:
        """One round: fsync every log that has unsynced writes. Errors went to on_fatal."""
        dirty = [log for log in self._logs() if getattr(log, "needs_sync", True)]
        if dirty:
            await asyncio.gather(*(self._flusher.sync(log) for log in dirty),
                                 return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.sync_all()
