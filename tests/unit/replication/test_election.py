"""Choosing a partition's next leader (replication.election) and finding divergence
(replication.divergence): the pure rules, case by case."""

from __future__ import annotations

from pathlib import Path

from whippet.replication.divergence import EpochEndAnswer, next_cut
from whippet.replication.election import (
    CONTACT_S,
    Position,
    Probe,
    choose_leader,
    leader_still_heard,
)
from whippet.replication.epochs import EpochCache


def test_no_choice_without_a_majority_of_the_replicas() -> None:
    # Issue 9 anomaly 1b: a lone reachable follower must never be elected.
    assert choose_leader((1, 2, 3), {2: Position(4, 10)}, suspect=1) is None
    assert choose_leader((1, 2, 3, 4, 5), {2: Position(4, 10), 3: Position(4, 9)}, suspect=1) is None
    assert choose_leader((1, 2, 3), {2: Position(4, 10), 9: Position(9, 99)}, suspect=1) is None


def test_newest_epoch_then_longest_log_wins() -> None:
    assert choose_leader((1, 2, 3), {2: Position(4, 10), 3: Position(5, 2)}, suspect=1) == 3
    assert choose_leader((1, 2, 3), {2: Position(4, 10), 3: Position(4, 9)}, suspect=1) == 2


def test_ties_leave_the_suspect_then_follow_the_assignment_order() -> None:
    assert choose_leader((1, 2, 3), {1: Position(4, 10), 2: Position(4, 10)}, suspect=1) == 2
    assert choose_leader((3, 2, 1), {2: Position(4, 10), 3: Position(4, 10)}, suspect=1) == 3


def test_pre_vote_sees_a_leader_its_followers_still_hear() -> None:
    fresh = Probe(following=1, epoch=4, contact_age_s=CONTACT_S / 2)
    assert leader_still_heard(1, 4, [None, fresh])
    assert not leader_still_heard(1, 5, [fresh])  # another epoch
    assert not leader_still_heard(1, 4, [Probe(1, 4, CONTACT_S * 2), None])
    assert not leader_still_heard(1, 4, [Probe(2, 4, 0.0)])


def test_divergence_same_epoch_cuts_to_the_shorter_end() -> None:
    entries = [(1, 0), (3, 5)]
    assert next_cut(entries, 8, EpochEndAnswer(True, 3, 7)) == (7, True)
    assert next_cut(entries, 8, EpochEndAnswer(True, 3, 12)) == (8, True)


def test_divergence_an_epoch_the_leader_never_had_is_cut_then_asked_again() -> None:
    """KIP-279: the follower's epoch 3 never reached the leader, whose largest epoch <= 3 is
    2; the follower has no epoch 2, so it cuts to where its own epoch 1 ends, then asks again."""
    entries = [(1, 0), (3, 5)]
    cut, done = next_cut(entries, 8, EpochEndAnswer(True, 2, 9))
    assert (cut, done) == (5, False)
    assert next_cut([(1, 0)], 5, EpochEndAnswer(True, 1, 5)) == (5, True)


def test_divergence_inside_an_epoch_both_know() -> None:
    entries = [(1, 0), (2, 4), (3, 6)]
    assert next_cut(entries, 9, EpochEndAnswer(True, 2, 5)) == (5, False)  # its 2 ends at 5 there


def test_divergence_without_a_common_epoch_or_log() -> None:
    assert next_cut([(4, 3)], 6, EpochEndAnswer(False, 0, 2)) == (2, True)
    assert next_cut([], 6, EpochEndAnswer(True, 1, 0)) == (6, True)
    assert next_cut([(1, 0)], 0, EpochEndAnswer(True, 1, 0)) == (0, True)


def test_the_promise_is_durable_and_never_goes_down(tmp_path: Path) -> None:
    cache = EpochCache(tmp_path / "epochs")
    cache.assign(2, 0)
    assert cache.promise(5) and not cache.promise(4) and cache.promised == 5
    reloaded = EpochCache(tmp_path / "epochs")
    assert reloaded.promised == 5 and reloaded.entries == [(2, 0)]
    reloaded.clear()
    assert EpochCache(tmp_path / "epochs").promised == 5  # a purge keeps the promise
    memory = EpochCache(None)
    memory.promise(3)
    assert memory.promised == 3
