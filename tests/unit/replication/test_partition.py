"""The rules a partition replica enforces on its own log (replication.partition), on a real
PartitionLog: fenced roles, the promise, an epoch led once, and a leader's failed write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.unit.storage.storage_helpers import batch, payloads
from whippet.replication.epochs import EpochCache
from whippet.replication.partition import Following, ReplicatedPartition
from whippet.storage.log import LogConfig, PartitionLog
from whippet.wire.errors import NotLeader

pytestmark = pytest.mark.asyncio
T0 = 1_700_000_000_000_000


class _Durable:
    async def appended(self, plog: PartitionLog) -> None:
        return None

    async def flush(self, plog: PartitionLog) -> None:
        return None


def _replica(tmp_path: Path, config: LogConfig | None = None) -> ReplicatedPartition:
    plog = PartitionLog.open(tmp_path / "log", config or LogConfig())
    return ReplicatedPartition((1, 1, 0), plog, asyncio.Lock(), EpochCache(tmp_path / "epochs"), 1, _Durable())


def _stamped(source: PartitionLog, first: int, count: int) -> tuple[bytes, np.ndarray]:
    read, ends = source.read_with_ends(first, count)
    return read.data, ends


async def test_an_epoch_is_led_once_even_across_a_restart(tmp_path: Path) -> None:
    asked: list[int] = []
    part = _replica(tmp_path)
    assert part.lead(3, (1,), lambda _n: True) is not None
    await part.append(*batch(payloads(2)), "quorum", T0)
    part.log.close()
    again = _replica(tmp_path)  # the node restarted: same log, same epochs file
    again.on_new_epoch_needed = lambda _p, epoch: asked.append(epoch)
    assert again.lead(3, (1,), lambda _n: True) is None and asked == [3]
    with pytest.raises(NotLeader) as refused:
        await again.append(*batch(payloads(1)), "quorum", T0 + 1)
    assert refused.value.not_applied
    assert again.lead(4, (1,), lambda _n: True) is not None
    assert (await again.append(*batch(payloads(1)), "quorum", T0 + 2)).first_offset == 2


async def _leader_of_four_and_its_follower(tmp_path: Path) -> tuple[ReplicatedPartition, ReplicatedPartition, Following]:
    """A leader (epoch 1) holding 4 records, and a replica following it at epoch 1."""
    source = _replica(tmp_path / "leader")
    source.lead(1, (1,), lambda _n: True)
    await source.append(*batch(payloads(4)), "quorum", T0)
    part = _replica(tmp_path / "follower")
    role = part.follow(leader=2, epoch=1)
    assert role is not None
    return source, part, role


async def test_a_follower_role_that_ended_cannot_touch_the_log(tmp_path: Path) -> None:
    source, part, role = await _leader_of_four_and_its_follower(tmp_path)
    records, ends = _stamped(source.log, 0, 2)
    assert part.follower_append(role.generation, 1, records, ends, [(1, 0)], high_watermark=2)
    part.lead(2, (1, 2, 3), lambda _n: True)  # the metadata made this node the leader
    records, ends = _stamped(source.log, 2, 2)
    assert not part.follower_append(role.generation, 1, records, ends, [(1, 0)], high_watermark=4)
    assert not part.follower_truncate(role.generation, 0)  # the old loop woke up late: refused
    assert part.log.next_offset == 2


async def test_a_follower_refuses_answers_of_another_epoch_and_below_its_promise(tmp_path: Path) -> None:
    source = _replica(tmp_path / "leader")
    source.lead(1, (1,), lambda _n: True)
    await source.append(*batch(payloads(2)), "quorum", T0)
    part = _replica(tmp_path / "follower")
    role = part.follow(leader=2, epoch=5)
    assert role is not None
    records, ends = _stamped(source.log, 0, 2)
    assert not part.follower_append(role.generation, 4, records, ends, [], high_watermark=2)
    await part.fence(6)
    assert part.following is None and part.follow(leader=2, epoch=5) is None  # promised 6
    assert part.follow(leader=3, epoch=6) is not None


async def test_fence_stops_a_lower_leadership_and_reports_a_frozen_position(tmp_path: Path) -> None:
    part = _replica(tmp_path)
    state = part.lead(2, (1, 2, 3), lambda _n: True)
    assert state is not None
    position = await part.fence(3)
    assert state.resigned and part.leader_state is None
    assert (position.last_epoch, position.log_end) == (2, 0)
    assert part.lead(2, (1, 2, 3), lambda _n: True) is None  # below the promise


async def test_an_epoch_starting_at_the_cut_is_forgotten(tmp_path: Path) -> None:
    """The follower's divergence search cut at the start of an epoch that wrote nothing: the
    epoch must go too, or the search asks about it forever (seen in chaos seed 14)."""
    part = _replica(tmp_path)
    part.epochs.assign(0, 0)
    part.epochs.assign(2, 0)  # replaces 0 (started at the same offset)
    part.epochs.assign(4, 0)
    role = part.follow(leader=2, epoch=5)
    assert role is not None and part.follower_truncate(role.generation, 0)
    assert part.epochs.entries == []


async def test_a_failed_write_fences_the_leader_and_asks_for_a_new_epoch(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    part = _replica(tmp_path)
    part.on_new_epoch_needed = lambda _p, epoch: asked.append(epoch)
    state = part.lead(7, (1, 2, 3), lambda _n: True)
    assert state is not None

    from whippet.storage import segment

    def failing(fd: int, data: memoryview, position: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(segment, "pwrite_all", failing)
    with pytest.raises(OSError):
        await part.append(*batch(payloads(1)), "quorum", T0)
    assert state.fenced and asked == [7]
    with pytest.raises(NotLeader):
        part.writable()


async def test_a_retry_of_stored_messages_waits_for_the_originals(tmp_path: Path) -> None:
    part = _replica(tmp_path, LogConfig(dedup_window=100))
    state = part.lead(1, (1, 2, 3), lambda _n: True)
    assert state is not None
    first = asyncio.create_task(part.append(*batch(payloads(2), ids=[5, 6]), "quorum", T0))
    await asyncio.sleep(0.01)
    retry = asyncio.create_task(part.append(*batch(payloads(2), ids=[5, 6]), "quorum", T0 + 1))
    await asyncio.sleep(0.01)
    assert not first.done() and not retry.done()  # nothing acknowledged without a quorum
    state.fetched(2, 2)
    assert (await asyncio.wait_for(first, 1)).count == 2
    assert (await asyncio.wait_for(retry, 1)).count == 0


async def test_a_fenced_follower_that_becomes_leader_keeps_the_high_watermark(tmp_path: Path) -> None:
    source, part, role = await _leader_of_four_and_its_follower(tmp_path)
    records, ends = _stamped(source.log, 0, 4)
    assert part.follower_append(role.generation, 1, records, ends, [(1, 0)], high_watermark=3)
    await part.fence(2)  # an election: the follower role stops
    state = part.lead(2, (1, 2, 3), lambda _n: True)
    assert state is not None and state.high_watermark == 3 and part.visible_end() == 3


async def test_a_hand_over_waits_for_the_append_already_past_the_fence(tmp_path: Path) -> None:
    """Fault suite seed 140: a leader handing over to a restarted preferred replica compared
    the successor's position with its log end while an append, already past the fence, was
    still offering its batch to a fetch (publish). The successor was named at the old end,
    the other follower acknowledged the batch, and the successor then cut it. The end a
    hand-over waits for must include that batch, and no append may follow it."""
    part = _replica(tmp_path)
    state = part.lead(1, (1, 2, 3), lambda _n: True)
    assert state is not None
    parked = asyncio.ensure_future(state.wait_for_data(1.0))  # a follower's fetch waits for data
    await asyncio.sleep(0)
    append = asyncio.ensure_future(part.append(*batch(payloads(3)), "leader", T0))
    await asyncio.sleep(0)
    assert part.log.next_offset == 0  # past the fence, offering the batch, not yet written
    assert await part.stop_appending(state)
    assert part.log.next_offset == 3  # what the successor must hold before it is named
    with pytest.raises(NotLeader) as refused:
        await part.append(*batch(payloads(1)), "leader", T0 + 1)
    assert refused.value.not_applied
    assert (await append).last_offset == 2
    assert part.log.next_offset == 3
    await parked


async def test_a_replica_does_not_follow_an_epoch_older_than_its_log(tmp_path: Path) -> None:
    """A restarted node replaying its metadata meets placements older than its log: it led
    epoch 4 (given by a hand-over, so without a promise), and "node 2 leads epoch 3" must
    not make it follow, or the divergence search would cut epoch 4's records."""
    part = _replica(tmp_path)
    assert part.lead(4, (1, 2, 3), lambda _n: True) is not None
    await part.append(*batch(payloads(3)), "leader", T0)
    assert part.epochs.promised < 4
    assert part.follow(leader=2, epoch=3) is None and part.role is None
    assert part.follow(leader=2, epoch=5) is not None  # a later epoch is followed as before
