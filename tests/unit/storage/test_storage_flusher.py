"""Group commit: shared fsyncs, fatal errors, the interval syncer, sync racing appends."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from tests.unit.storage.storage_helpers import batch, payloads
from whippet.storage.flusher import Flusher, IntervalSyncer
from whippet.storage.log import LogConfig, PartitionLog


class GatedLog:
    """A fake log whose fsync blocks until the test opens the gate."""

    def __init__(self) -> None:
        self.calls = 0
        self.finished = 0
        self.gate = threading.Event()
        self.started = threading.Event()
        self.fail: BaseException | None = None
        self.needs_sync = True

    def sync(self) -> None:
        self.calls += 1
        self.started.set()
        assert self.gate.wait(5)
        if self.fail is not None:
            raise self.fail
        self.finished += 1


async def test_syncs_arriving_during_an_fsync_share_the_next_one() -> None:
    fake = GatedLog()
    fatal: list[BaseException] = []
    flusher = Flusher(on_fatal=fatal.append)

    async def waiter() -> int:
        await flusher.sync(fake)
        return fake.finished

    first = asyncio.create_task(waiter())
    assert await asyncio.to_thread(fake.started.wait, 5)
    late = [asyncio.create_task(waiter()) for _ in range(10)]
    await asyncio.sleep(0.02)
    assert fake.calls == 1 and not first.done() and not any(t.done() for t in late)
    fake.gate.set()
    assert await first >= 1
    # every late waiter saw a fsync that started after it asked, and they shared it
    assert await asyncio.gather(*late) == [2] * 10
    assert fake.calls == 2 and not fatal and flusher.in_flight == 0
    await flusher.sync(fake)  # idle again: a new call starts its own fsync
    assert fake.calls == 3


async def test_a_failed_fsync_is_fatal_and_raised_to_every_waiter() -> None:
    fake = GatedLog()
    fatal: list[BaseException] = []
    flusher = Flusher(on_fatal=fatal.append)
    error = OSError(5, "Input/output error")
    fake.fail = error
    first = asyncio.create_task(flusher.sync(fake))
    assert await asyncio.to_thread(fake.started.wait, 5)
    second = asyncio.create_task(flusher.sync(fake))
    await asyncio.sleep(0.01)
    fake.gate.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert results == [error, error]
    assert fatal == [error, error]


async def test_a_cancelled_waiter_does_not_cancel_the_shared_fsync() -> None:
    fake = GatedLog()
    flusher = Flusher(on_fatal=lambda exc: None)
    first = asyncio.create_task(flusher.sync(fake))
    assert await asyncio.to_thread(fake.started.wait, 5)
    impatient = asyncio.create_task(flusher.sync(fake))
    patient = asyncio.create_task(flusher.sync(fake))
    await asyncio.sleep(0.01)
    impatient.cancel()
    fake.gate.set()
    await asyncio.gather(first, patient)
    assert impatient.cancelled() and fake.finished == 2


async def test_interval_syncer_syncs_dirty_logs_only() -> None:
    dirty, clean = GatedLog(), GatedLog()
    dirty.gate.set()
    clean.gate.set()
    clean.needs_sync = False
    syncer = IntervalSyncer(Flusher(on_fatal=lambda e: None), lambda: [dirty, clean], 10)
    syncer.start()
    assert syncer.running
    await asyncio.sleep(0.1)
    await syncer.stop()
    assert not syncer.running
    assert dirty.finished >= 3 and clean.calls == 0
    before = dirty.finished
    await asyncio.sleep(0.03)
    assert dirty.finished == before


async def test_flusher_with_a_real_log(tmp_path: Path) -> None:
    log = PartitionLog.open(tmp_path, LogConfig(segment_size=500))
    flusher = Flusher(on_fatal=lambda e: None)
    for b in range(5):
        log.append(*batch(payloads(10, 10 * b)), b)
        await asyncio.gather(*(flusher.sync(log) for _ in range(3)))
    assert not log.needs_sync
    log.close()


def test_sync_in_a_thread_while_appending_and_rolling(tmp_path: Path) -> None:
    log = PartitionLog.open(tmp_path, LogConfig(segment_size=300))
    stop = threading.Event()
    errors: list[BaseException] = []

    def syncer() -> None:
        while not stop.is_set():
            try:
                log.sync()
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)
                return

    thread = threading.Thread(target=syncer)
    thread.start()
    try:
        for b in range(60):
            log.append(*batch(payloads(4, 4 * b)), b)
            if b % 20 == 19:
                log.delete_oldest_segments(3, None)
            if b == 45:
                log.truncate(log.next_offset - 10)
    finally:
        stop.set()
        thread.join(10)
    assert not errors
    log.sync()
    count = log.next_offset - log.first_offset
    assert log.read(0, 10_000).count == count
    log.close()
