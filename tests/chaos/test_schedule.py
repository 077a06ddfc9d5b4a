"""Schedules: one seed decides everything, and each cut shape cuts the links it names."""

from __future__ import annotations

import json
from itertools import combinations

from whippet.chaos.schedule import Roles, Schedule, cut_links, generate


def test_a_seed_replays_the_same_schedule() -> None:
    for seed in range(30):
        for profile in ("full", "short"):
            a, b = generate(seed, profile), generate(seed, profile)
            assert a == b
            assert Schedule.from_json(json.loads(json.dumps(a.to_json()))) == a
    assert generate(1) != generate(3)


def test_sizes_alternate_and_faults_fit_the_cluster() -> None:
    kinds3: set[str] = set()
    kinds5: set[str] = set()
    for seed in range(200):
        s = generate(seed)
        assert s.nodes == (3 if seed % 2 == 0 else 5)
        assert 4 <= len(s.faults) <= 6
        (kinds3 if s.nodes == 3 else kinds5).update(f.kind for f in s.faults)
        ends = [f.end for f in s.faults]
        assert all(f.start >= e for f, e in zip(s.faults[1:], ends)), "faults do not overlap"
        assert s.duration > ends[-1]
    assert "bridge" not in kinds3 and "bridge" in kinds5
    assert {"kill", "pause", "isolate-raft-leader", "isolate-partition-leader", "isolate-follower", "split",
            "isolate-follower-kill-leader", "restart-kill-raft-leader"} <= kinds3


def test_short_profile_is_lighter() -> None:
    for seed in range(20):
        assert len(generate(seed, "short").faults) == 2
        assert generate(seed, "short").duration < 25


def roles(n: int, pick: int = 0) -> Roles:
    nodes = tuple(range(1, n + 1))
    return Roles(nodes=nodes, raft_leader=1, leader=2, followers=(3, 4) if n == 5 else (1, 3), pick=pick)


def test_isolate_cuts_every_link_of_one_node() -> None:
    assert cut_links("isolate:R", roles(3)) == [(1, 2), (1, 3)]
    assert cut_links("isolate:L", roles(5)) == [(1, 2), (2, 3), (2, 4), (2, 5)]
    assert cut_links("isolate:F", roles(5, pick=1)) == [(1, 4), (2, 4), (3, 4), (4, 5)]


def test_split_on_five_puts_a_leader_and_a_follower_in_the_minority() -> None:
    links = cut_links("split", roles(5, pick=0))  # leader 2, follower 3
    minority = {2, 3}
    assert sorted(links) == sorted((a, b) for a, b in combinations(range(1, 6), 2)
                                   if (a in minority) != (b in minority))


def test_bridge_keeps_the_middle_node_connected_to_both_halves() -> None:
    for pick in range(10):
        links = cut_links("bridge", roles(5, pick=pick))
        middle = sorted(range(1, 6))[pick % 5]
        touched = {n for link in links for n in link}
        assert middle not in touched and len(links) == 4 and touched == set(range(1, 6)) - {middle}
