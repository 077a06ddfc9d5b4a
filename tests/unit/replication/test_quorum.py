"""The pure commit rules of a partition leader (replication.quorum.LeaderCore)."""

from __future__ import annotations

from whippet.replication.quorum import LeaderCore, majority


def core(**kw: object) -> LeaderCore:
    args: dict[str, object] = {"epoch": 3, "start": 10, "replicas": (1, 2, 3), "self_id": 1, "log_end": 10,
                               "now": 0.0, "high_watermark": 8}
    args.update(kw)
    return LeaderCore(**args)  # type: ignore[arg-type]


def test_majorities() -> None:
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_followers_below_the_epoch_start_do_not_count() -> None:
    """Raft's figure 8: records of an older epoch become committed only once a majority
    reached this epoch's start, never by counting replicas that hold them."""
    c = core()
    c.fetched(2, 9, available_end=10, now=0.1)  # holds 8 of the old records, not this epoch
    assert c.high_watermark == 8
    c.fetched(2, 10, available_end=10, now=0.2)  # reached the start: carries epoch 3 now
    assert c.high_watermark == 10


def test_the_high_watermark_never_passes_the_leaders_own_write() -> None:
    c = core(high_watermark=10)
    c.fetched(2, 15, available_end=15, now=0.1)  # took a published batch the leader has not written
    c.fetched(3, 15, available_end=15, now=0.1)
    assert c.high_watermark == 10 and not c.satisfied(15, "quorum", 0.1)
    c.appended(15)
    assert c.high_watermark == 15 and c.satisfied(15, "quorum", 0.2)


def test_claims_past_what_could_be_fetched_are_capped() -> None:
    c = core(high_watermark=10)
    c.fetched(2, 99, available_end=12, now=0.1)
    assert c.follower_end[2] == 12


def test_ack_levels() -> None:
    c = core(high_watermark=10, log_end=14)
    assert c.satisfied(14, "leader", 0.0) and not c.satisfied(14, "quorum", 0.0)
    c.fetched(2, 14, available_end=14, now=0.1)
    assert c.satisfied(14, "quorum", 0.1)
    assert not c.satisfied(14, "all", 0.1)  # follower 3 is in sync (grace) and lacks it
    assert c.satisfied(14, "all", 20.0)  # the in-sync set shrank to the leader; a quorum holds it
    c.fetched(3, 14, available_end=14, now=0.2)
    assert c.satisfied(14, "all", 0.2)


def test_a_duplicate_of_an_older_offset_waits_for_the_high_watermark() -> None:
    c = core(high_watermark=5, start=10, log_end=10)
    assert c.satisfied(5, "quorum", 0.0) and not c.satisfied(9, "quorum", 0.0)


def test_lease_needs_a_quorum_heard_recently() -> None:
    c = core(lease_s=2.0)
    assert c.has_lease(1.9)  # grace from the start of the epoch
    assert not c.has_lease(2.1)
    c.fetched(3, 10, available_end=10, now=2.5)
    assert c.has_lease(3.0) and not c.has_lease(4.6)
    assert core(replicas=(1,)).has_lease(1e9)


def test_in_sync_set_uses_lag_and_liveness() -> None:
    dead = {3}
    c = core(lag_s=1.0, alive=lambda r: r not in dead)
    assert c.in_sync(0.5) == [1, 2]
    dead.clear()
    assert c.in_sync(0.5) == [1, 2, 3] and c.in_sync(1.5) == [1]


def test_replica_set_changes_and_purge() -> None:
    c = core()
    c.set_replicas((1, 2, 3, 4, 5), now=0.1)
    assert c.quorum == 3 and 4 in c.follower_end
    c.set_replicas((1, 2), now=0.2)
    assert set(c.follower_end) == {2}
    c.purged()
    assert (c.log_end, c.start, c.high_watermark) == (0, 0, 0)
