"""The checker on synthetic histories: a clean one passes, and each anomaly it must
catch makes it fail with that anomaly's kind (and only where it happened)."""

from __future__ import annotations

from whippet.chaos.checker import Observation, check, failover_times
from whippet.chaos.history import History
from whippet.chaos.workload import payload_of


class Story:
    """A small history built through the real History writer, and the replicas' logs."""

    def __init__(self) -> None:
        self.h = History()
        self.t = 0.0

    def _tick(self) -> None:
        self.t += 1.0
        self.h.now = lambda t=self.t: t  # type: ignore[method-assign]

    def send(self, client: str, partition: int, ids: list[int], outcome: str = "ok", sdk: str = "whippet",
             phase: str = "run", appended: dict[str, int] | None = None) -> None:
        self._tick()
        req = self.h.invoke("send", client, partition=partition, ids=ids, sdk=sdk, attempt=0, phase=phase)
        self._tick()
        extra = {"appended": appended} if appended else {}
        self.h.complete(req, outcome, "send", client, partition=partition, **extra)

    def poll(self, client: str, partition: int, start: int, records: list[tuple[int, int]]) -> None:
        self._tick()
        req = self.h.invoke("poll", client, partition=partition, offset=start, phase="run")
        self._tick()
        self.h.complete(req, "ok", "poll", client, partition=partition, offset=start,
                        records=[[o, lid, lid] for o, lid in records])

    def store(self, client: str, partition: int, value: int, outcome: str = "ok") -> None:
        self._tick()
        req = self.h.invoke("store_offset", client, partition=partition, value=value, phase="run")
        self._tick()
        self.h.complete(req, outcome, "store_offset", client, partition=partition, value=value)

    def read(self, client: str, partition: int, value: int | None) -> None:
        self._tick()
        req = self.h.invoke("get_offset", client, partition=partition, phase="run")
        self._tick()
        self.h.complete(req, "ok", "get_offset", client, partition=partition, value=value)

    def nemesis(self, **fields: object) -> None:
        self._tick()
        self.h.add("nemesis", **fields)


def log(*lids: int, wire: dict[int, int] | None = None) -> list[tuple[int, int, bytes]]:
    wire = wire or {}
    return [(o, wire.get(lid, lid), payload_of(lid)) for o, lid in enumerate(lids)]


def obs(p0: list, replicas: dict[int, list] | None = None, leader: int = 1) -> Observation:
    logs = {n: {0: p0} for n in (1, 2, 3)}
    for n, other in (replicas or {}).items():
        logs[n] = {0: other}
    return Observation(logs, {0: leader})


def kinds(story: Story, observations: dict[str, Observation]) -> set[str]:
    return {a.kind for a in check(story.h.events, observations, partitions=1)}


def clean() -> Story:
    s = Story()
    s.send("p1", 0, [1, 2])
    s.send("p1", 0, [3, 4])
    s.poll("c1", 0, 0, [(0, 1), (1, 2)])
    s.store("c1", 0, 1)
    s.read("c1", 0, 1)
    return s


def test_a_clean_history_passes() -> None:
    s = clean()
    assert kinds(s, {"run": obs(log(1, 2, 3, 4))}) == set()


def test_a_clean_history_passes_after_restart_too() -> None:
    s = clean()
    s.h.add("phase", phase="restart")
    s.send("p201", 0, [9], phase="restart")
    assert kinds(s, {"run": obs(log(1, 2, 3, 4)), "restart": obs(log(1, 2, 3, 4, 9))}) == set()


def test_unknown_outcomes_may_be_stored_or_not() -> None:
    s = clean()
    s.send("p1", 0, [5, 6], outcome="info")
    s.send("p1", 0, [7], outcome="info")
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 5, 6))}) == set()


def test_acknowledged_loss() -> None:
    s = clean()
    found = check(s.h.events, {"run": obs(log(1, 2, 3))}, 1)
    assert [(a.kind, a.count, a.examples[0]["id"]) for a in found] == [("lost", 1, hex(4))]


def test_message_in_the_wrong_partition_is_misplaced() -> None:
    s = clean()
    o = Observation({n: {0: log(1, 2, 3), 1: [(0, 4, payload_of(4))]} for n in (1, 2, 3)}, {0: 1, 1: 1})
    assert {a.kind for a in check(s.h.events, {"run": o}, 2)} == {"misplaced"}


def test_acknowledged_offsets_hold() -> None:
    s = clean()
    s.send("p2", 0, [5, 6], appended={"partition": 0, "first": 4, "stored": 2, "duplicates": 0})
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 5, 6))}) == set()
    # The same messages, acknowledged at 4..5, found at 5..6: the acknowledged write was replaced.
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 7, 5, 6))}) == {"misplaced", "phantom"}


def test_offsets_of_a_partly_deduplicated_retry_are_not_held() -> None:
    s = clean()
    s.send("p2", 0, [5, 6], outcome="info")
    s.send("p2", 0, [5, 6], appended={"partition": 0, "first": 5, "stored": 1, "duplicates": 1})
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 5, 6))}) == set()


def test_gap_in_a_replica_is_non_contiguous() -> None:
    s = clean()
    gap = [(0, 1, payload_of(1)), (1, 2, payload_of(2)), (3, 3, payload_of(3)), (4, 4, payload_of(4))]
    assert "non-contiguous" in kinds(s, {"run": obs(gap, {1: gap, 2: gap, 3: gap})})


def test_gap_in_a_poll_is_non_contiguous() -> None:
    s = clean()
    s.poll("c1", 0, 2, [(2, 3), (4, 4)])
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 4))}) >= {"non-contiguous"}


def test_retried_id_of_our_sdk_stored_twice_is_a_duplicate() -> None:
    s = clean()
    s.send("p1", 0, [5], outcome="info")
    s.send("p1", 0, [5])  # the harness's retry, same id
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 5, 5))}) == {"duplicate"}


def test_official_sdk_message_may_be_stored_twice_per_attempt_and_no_more() -> None:
    """Its client replays a request once after a reconnect, with ids the node assigns anew."""
    s = clean()
    s.send("o1", 0, [5], sdk="iggy")
    twice = [*log(1, 2, 3, 4, 5), (5, 777, payload_of(5))]
    assert kinds(s, {"run": obs(twice)}) == set()
    thrice = [*twice, (6, 778, payload_of(5))]
    assert kinds(s, {"run": obs(thrice)}) == {"duplicate"}
    s.send("o1", 0, [5], sdk="iggy")  # the harness's retry: two more copies allowed
    assert kinds(s, {"run": obs(thrice)}) == set()


def test_message_sent_once_stored_twice_is_a_duplicate() -> None:
    s = clean()
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 4))}) == {"duplicate"}


def test_record_nobody_sent_is_a_phantom() -> None:
    s = clean()
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 99))}) == {"phantom"}


def test_replicas_that_differ_at_an_offset_diverge() -> None:
    s = clean()
    s.send("p1", 0, [5], outcome="info")
    s.send("p1", 0, [6], outcome="info")
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 5), {3: log(1, 2, 3, 4, 6)})}) == {"divergent"}


def test_replica_behind_after_quiet_lags() -> None:
    s = clean()
    assert kinds(s, {"run": obs(log(1, 2, 3, 4), {2: log(1, 2, 3)})}) == {"replica-lag"}


def test_read_of_a_record_later_replaced_is_dirty() -> None:
    s = clean()
    s.send("p1", 0, [5], outcome="info")
    s.send("p1", 0, [6], outcome="info")
    s.poll("c1", 0, 4, [(4, 5)])  # read 5 at offset 4; then a failover put 6 there
    assert kinds(s, {"run": obs(log(1, 2, 3, 4, 6))}) == {"dirty-read"}


def test_read_of_a_record_later_lost_is_dirty() -> None:
    s = clean()
    s.send("p1", 0, [5], outcome="info")
    s.poll("c1", 0, 4, [(4, 5)])
    assert kinds(s, {"run": obs(log(1, 2, 3, 4))}) == {"dirty-read"}


def test_stored_offset_read_back_lower_is_a_regression() -> None:
    s = clean()
    s.store("c1", 0, 3)
    s.read("c1", 0, 1)
    found = check(s.h.events, {"run": obs(log(1, 2, 3, 4))}, 1)
    assert [(a.kind, a.examples[0]["read"], a.examples[0]["stored"]) for a in found] == [
        ("offset-regression", 1, 3)]


def test_offset_missing_after_an_acknowledged_store_is_a_regression() -> None:
    s = clean()
    s.read("c1", 0, None)
    assert kinds(s, {"run": obs(log(1, 2, 3, 4))}) == {"offset-regression"}


def test_unacknowledged_store_sets_no_floor() -> None:
    s = clean()
    s.store("c1", 0, 3, outcome="info")
    s.read("c1", 0, 1)
    assert kinds(s, {"run": obs(log(1, 2, 3, 4))}) == set()


def test_restart_that_changes_a_record_is_caught() -> None:
    s = clean()
    s.send("p1", 0, [5], outcome="info")
    s.send("p1", 0, [6], outcome="info")
    s.h.add("phase", phase="restart")
    found = kinds(s, {"run": obs(log(1, 2, 3, 4, 5)), "restart": obs(log(1, 2, 3, 4, 6))})
    assert found == {"restart-changed"}


def test_loss_that_only_a_restart_shows_is_caught_in_the_restart_phase() -> None:
    s = clean()
    s.h.add("phase", phase="restart")
    found = check(s.h.events, {"run": obs(log(1, 2, 3, 4)), "restart": obs(log(1, 2, 3))}, 1)
    assert {(a.kind, a.phase) for a in found} == {("lost", "restart"), ("restart-changed", "restart")}


def test_node_that_exits_by_itself_is_a_crash() -> None:
    s = clean()
    s.nemesis(f="crash", node=2, during="start", code=1)
    assert kinds(s, {"run": obs(log(1, 2, 3, 4))}) == {"crash"}


def test_failover_time_is_from_the_fault_to_the_first_ack_after_it() -> None:
    h = History()
    clock = iter(range(100))
    h.now = lambda: float(next(clock))  # type: ignore[method-assign]

    def ok(req: int) -> None:
        h.complete(req, "ok", "send", "p1", partition=0)

    ok(h.invoke("send", "p1", partition=0, ids=[1], sdk="whippet", phase="run"))  # t 0, 1
    in_flight = h.invoke("send", "p1", partition=0, ids=[2], sdk="whippet", phase="run")  # t 2
    h.add("nemesis", f="kill", node=1, leaders_hit=[0], cause="kill", during_cut=False)  # t 3
    h.add("nemesis", f="kill", node=3, leaders_hit=[1], cause="kill", during_cut=False)  # t 4: no ack on 1
    ok(in_flight)  # t 5: retried by the client onto the new leader
    h.add("nemesis", f="cut", leaders_hit=[0], cause="partition")  # t 6
    h.add("nemesis", f="kill", node=2, leaders_hit=[0], cause="kill", during_cut=True)  # t 7
    ok(h.invoke("send", "p1", partition=0, ids=[3], sdk="whippet", phase="run"))  # t 8, 9
    assert failover_times(h.events) == {"kill": [2.0, None], "partition": [3.0], "kill-in-partition": [2.0],
                                        "no-majority": [], "after-majority": []}


def _ticking_history() -> History:
    """A history whose clock advances by one second per event."""
    h = History()
    clock = iter(range(100))
    h.now = lambda: float(next(clock))  # type: ignore[method-assign]
    return h


def _ack(h: History) -> None:
    """One send on partition 0, acknowledged (two events: invoke, ok)."""
    h.complete(h.invoke("send", "p1", partition=0, ids=[1], sdk="whippet", phase="run"), "ok", "send", "p1",
               partition=0)


def test_a_fault_that_leaves_no_majority_is_not_a_failover() -> None:
    """Isolate a follower, then kill the leader (3 nodes): nothing can take over until the
    heal, so the time is reported apart; an isolated leader alone is a failover."""
    h = _ticking_history()
    roles = {"nodes": [1, 2, 3], "leader": 1, "followers": [2, 3]}
    h.add("nemesis", f="start", fault=0, roles=roles)  # t 0
    h.add("nemesis", f="cut", fault=0, links=[[1, 2], [1, 3]], leaders_hit=[0], cause="partition")  # t 1
    _ack(h)  # t 2, 3: {2, 3} elected a leader
    h.add("nemesis", f="heal", fault=0)  # t 4
    h.add("nemesis", f="start", fault=1, roles=roles)  # t 5
    h.add("nemesis", f="cut", fault=1, links=[[2, 1], [2, 3]], leaders_hit=[], cause="partition")  # t 6
    h.add("nemesis", f="kill", fault=1, node=1, leaders_hit=[0], cause="kill", during_cut=True)  # t 7
    h.add("nemesis", f="heal", fault=1)  # t 8
    _ack(h)  # t 9, 10
    assert failover_times(h.events) == {"kill": [], "kill-in-partition": [], "partition": [2.0],
                                        "no-majority": [3.0], "after-majority": [2.0]}


def test_a_node_still_starting_is_not_part_of_a_majority() -> None:
    """3 nodes: node 2 killed and restarted, the leader killed before node 2 serves again:
    the time until node 2 is ready is the fault's, not the failover's; a leader killed
    once node 2 serves is an ordinary failover."""
    h = _ticking_history()
    roles = {"nodes": [1, 2, 3], "leader": 1, "followers": [2, 3]}
    h.add("nemesis", f="start", fault=0, roles=roles)  # t 0
    h.add("nemesis", f="kill", fault=0, node=2, leaders_hit=[], cause="kill", during_cut=False)  # t 1
    h.add("nemesis", f="restart", fault=0, node=2)  # t 2
    h.add("nemesis", f="kill", fault=0, node=1, leaders_hit=[0], cause="kill", during_cut=False)  # t 3
    h.add("nemesis", f="ready", node=2)  # t 4
    _ack(h)  # t 5, 6
    h.add("nemesis", f="healed", down=[])  # t 7: node 1 is back
    h.add("nemesis", f="start", fault=1, roles={"nodes": [1, 2, 3], "leader": 3, "followers": [1, 2]})  # t 8
    h.add("nemesis", f="kill", fault=1, node=3, leaders_hit=[0], cause="kill", during_cut=False)  # t 9
    _ack(h)  # t 10, 11
    assert failover_times(h.events) == {"kill": [2.0], "kill-in-partition": [], "partition": [],
                                        "no-majority": [3.0], "after-majority": [2.0]}


def test_an_anomaly_of_the_run_phase_is_not_counted_again_after_restart() -> None:
    s = clean()
    s.store("c1", 0, 3)
    s.read("c1", 0, 1)
    s.h.add("phase", phase="restart")
    found = check(s.h.events, {"run": obs(log(1, 2, 3)), "restart": obs(log(1, 2, 3))}, 1)
    assert sorted((a.kind, a.phase, a.count) for a in found) == [("lost", "run", 1), ("offset-regression", "run", 1)]
