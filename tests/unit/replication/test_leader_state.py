"""High watermark, acknowledgements and in-sync tracking of a partition leader."""

from __future__ import annotations

import asyncio

import pytest

from whippet.replication.leader import LeaderState
from whippet.wire.errors import NotLeader, ReplicationTimeout

pytestmark = pytest.mark.asyncio


async def test_rf1_commits_on_append() -> None:
    s = LeaderState(epoch=0, replicas=(1,), self_id=1, log_end=0)
    s.appended(5)
    assert s.high_watermark == 5
    await s.acknowledged(5, "quorum", 0.1)
    await s.acknowledged(5, "all", 0.1)


async def test_quorum_hw_and_acks_rf3() -> None:
    s = LeaderState(epoch=1, replicas=(1, 2, 3), self_id=1, log_end=0)
    s.appended(10)
    assert s.high_watermark == 0
    waiter = asyncio.create_task(s.acknowledged(10, "quorum", 2))
    all_waiter = asyncio.create_task(s.acknowledged(10, "all", 2))
    await s.acknowledged(10, "leader", 0.1)
    await asyncio.sleep(0)
    assert not waiter.done()
    s.fetched(2, 6)
    assert s.high_watermark == 6
    s.fetched(2, 10)
    await asyncio.wait_for(waiter, 1)
    assert s.high_watermark == 10
    assert not all_waiter.done(), "follower 3 is in sync (grace period) and lacks the data"
    s.fetched(3, 10)
    await asyncio.wait_for(all_waiter, 1)


async def test_timeout_and_resign() -> None:
    s = LeaderState(epoch=1, replicas=(1, 2, 3), self_id=1, log_end=0)
    s.appended(3)
    with pytest.raises(ReplicationTimeout):
        await s.acknowledged(3, "quorum", 0.05)
    pending = asyncio.create_task(s.acknowledged(3, "quorum", 5))
    await asyncio.sleep(0)
    s.resign()
    with pytest.raises(NotLeader):
        await pending


async def test_lagging_follower_leaves_isr_and_hw_never_goes_back() -> None:
    s = LeaderState(epoch=1, replicas=(1, 2, 3), self_id=1, log_end=0, lag_ms=30)
    s.appended(4)
    s.fetched(2, 4)
    await asyncio.sleep(0.06)
    assert s.in_sync() == [1]
    s.fetched(2, 4)
    assert 2 in s.in_sync()
    with pytest.raises(AssertionError):
        s.appended(2)  # a leader's log never shrinks within its epoch
    assert s.high_watermark == 4


async def test_long_poll_wakes_on_append() -> None:
    s = LeaderState(epoch=1, replicas=(1, 2), self_id=1, log_end=0)
    waiting = asyncio.create_task(s.wait_for_data(5))
    await asyncio.sleep(0)
    s.appended(1)
    await asyncio.wait_for(waiting, 1)


async def test_tail_is_kept_until_every_follower_has_it() -> None:
    import numpy as np

    from whippet.replication.leader import Tail

    s = LeaderState(epoch=1, replicas=(1, 2, 3), self_id=1, log_end=0)
    tail = Tail(0, memoryview(b"abcdef"), np.array([3, 6]))
    s.appended(2, tail)
    assert s.tail is tail
    s.fetched(2, 2)
    assert s.tail is tail  # follower 3 still needs it
    s.fetched(3, 2)
    assert s.tail is None


async def test_tail_not_kept_without_followers_or_when_stale() -> None:
    import numpy as np

    from whippet.replication.leader import Tail

    solo = LeaderState(epoch=1, replicas=(1,), self_id=1, log_end=0)
    solo.appended(2, Tail(0, memoryview(b"ab"), np.array([1, 2])))
    assert solo.tail is None
    s = LeaderState(epoch=1, replicas=(1, 2), self_id=1, log_end=0)
    s.appended(5, Tail(0, memoryview(b"ab"), np.array([1, 2])))  # does not end at the log end
    assert s.tail is None
    s.appended(7, Tail(5, memoryview(b"ab"), np.array([1, 2])))  # ends at 7: kept
    assert s.tail is not None
    s.purged()
    assert s.tail is None



async def test_publish_hands_the_batch_to_one_parked_fetch_before_the_write() -> None:
    import numpy as np

    from whippet.replication.leader import Tail

    s = LeaderState(epoch=1, replicas=(1, 2, 3), self_id=1, log_end=4)
    order: list[str] = []

    async def fetch(name: str) -> None:
        await s.wait_for_data(5)
        order.append(name)
        if s.tail is not None and s.tail.first == 4 and s.log_end == 4:
            s.served()

    fetches = [asyncio.create_task(fetch(n)) for n in ("f2", "f3")]
    await asyncio.sleep(0)
    tail = Tail(4, memoryview(b"xy"), np.array([1, 2]))
    await s.publish(tail, 1.0)
    order.append("write")
    assert s.available_end == 6 and s.log_end == 4
    # A follower may hold the batch before the leader wrote it: counted, not committed.
    s.fetched(2, 6)
    s.fetched(3, 6)
    assert s.follower_end == {2: 6, 3: 6} and s.high_watermark == 4
    s.appended(6, tail)
    assert s.high_watermark == 6
    await asyncio.gather(*fetches)
    assert order == ["f2", "write", "f3"]


async def test_publish_without_parked_fetches_or_followers_does_not_wait() -> None:
    import numpy as np

    from whippet.replication.leader import Tail

    s = LeaderState(epoch=1, replicas=(1, 2), self_id=1, log_end=0)
    await asyncio.wait_for(s.publish(Tail(0, memoryview(b"a"), np.array([1])), 5.0), 0.5)
    assert s.available_end == 1
    s.unpublish()
    assert s.available_end == 0 and s.tail is None
    solo = LeaderState(epoch=1, replicas=(1,), self_id=1, log_end=0)
    await solo.publish(Tail(0, memoryview(b"a"), np.array([1])), 5.0)
    assert solo.tail is None


async def test_an_append_finishing_after_resign_fails_at_once() -> None:
    s = LeaderState(epoch=1, replicas=(1, 2, 3), self_id=1, log_end=0)
    s.resign()
    s.appended(3)
    with pytest.raises(NotLeader):
        await asyncio.wait_for(s.acknowledged(3, "quorum", 10), 1)


async def test_a_producer_hears_within_the_lease_that_its_leader_lost_the_quorum() -> None:
    import time

    s = LeaderState(epoch=1, replicas=(1, 2, 3), self_id=1, log_end=0, lease_s=0.3)
    s.appended(3)
    started = time.monotonic()
    with pytest.raises(NotLeader):
        await s.acknowledged(3, "quorum", 10)
    assert time.monotonic() - started < 1.5  # not the 10 s ack timeout
