"""The checker: pure functions over a trial's history and the replicas' final logs.

It accepts a trial only when, after the heal (phase ``run``) and again after a
whole-cluster restart (phase ``restart``):

* ``lost``: every acknowledged message is in its partition's final log
  (``misplaced``: it is, but in another partition, or not at the offset the
  acknowledgement of a SEND_MESSAGES_APPENDED named);
* ``non-contiguous``: every replica's offsets run 0, 1, 2, ... and every poll
  answers consecutive offsets from the one it asked for;
* ``duplicate``: no message is stored twice, except a message of the official SDK
  (whose ids the node assigns per request) up to twice per attempt (its client
  replays a request once after a reconnect: :data:`OFFICIAL_REPLAYS`);
  with deduplication on, a retried id of our SDK stored twice is an anomaly;
* ``phantom``: nothing is stored that no client sent;
* ``divergent`` / ``replica-lag``: every replica holds the same record (id and
  payload) at every offset, and all end at the same offset once the cluster is quiet;
* ``dirty-read``: a record a consumer read at offset o is the final record at o;
* ``offset-regression``: a stored consumer offset read back is never below a value
  the same consumer stored, and had acknowledged, before the read began;
* ``restart-changed``: the restart keeps every record the cluster held before it;
* ``crash``: no node exits by itself.

The final log of a partition is its leader's (as the nodes reported just before the
stop), or the longest replica when no single leader was known.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "KINDS",
    "Anomaly",
    "Observation",
    "check",
    "check_phase",
    "check_restart",
    "failover_times",
]

KINDS = ("lost", "misplaced", "non-contiguous", "duplicate", "phantom", "divergent", "replica-lag", "dirty-read",
         "offset-regression", "restart-changed", "crash")

#: Copies one attempt of the official SDK may store: its TCP client reconnects and sends
#: a request again once when the answer is lost (``send_raw_with_response``), and the
#: node gives the replay new ids, so deduplication cannot tell it apart.
OFFICIAL_REPLAYS = 2

Event = dict[str, Any]
#: (offset, message id on the wire, payload)
Record = tuple[int, int, bytes]
_EXAMPLES = 5


@dataclass(frozen=True)
class Anomaly:
    kind: str
    phase: str
    partition: int | None
    count: int
    examples: list[Any] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Observation:
    """What the cluster held at the end of a phase: node -> partition -> records, and the
    leader each partition's nodes reported (None when none or several)."""

    logs: dict[int, dict[int, list[Record]]]
    leaders: dict[int, int | None]

    def final(self, partition: int) -> list[Record]:
        leader = self.leaders.get(partition)
        if leader is not None and partition in self.logs.get(leader, {}):
            return self.logs[leader][partition]
        replicas = [logs[partition] for logs in self.logs.values() if partition in logs]
        return max(replicas, key=len) if replicas else []


def _lid(payload: bytes) -> int | None:
    try:
        return int(payload[:16], 16)
    except ValueError:
        return None


def _anomaly(out: list[Anomaly], kind: str, phase: str, partition: int | None, items: list[Any]) -> None:
    """Every item is kept here; :func:`check` drops repeats of the run phase and trims the examples."""
    if items:
        out.append(Anomaly(kind, phase, partition, len(items), items))


def _phase_events(events: list[Event], phase: str) -> list[Event]:
    """The run phase sees its own events; the restart phase sees everything."""
    if phase == "restart":
        return events
    later = {e["req"] for e in events if e["type"] == "invoke" and e.get("phase", "run") != "run"}
    return [e for e in events if e.get("phase", "run") == "run" and e.get("req") not in later]


@dataclass
class _Sends:
    partition: dict[int, int] = field(default_factory=dict)  # lid -> partition it was sent to
    sdk: dict[int, str] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    acked: dict[int, float] = field(default_factory=dict)  # lid -> time of its first ok
    #: (ids, where the node said it stored them) of acknowledged SEND_MESSAGES_APPENDED sends
    placed: list[tuple[list[int], dict[str, int]]] = field(default_factory=list)


def _sends(events: Iterable[Event]) -> _Sends:
    s = _Sends()
    invokes: dict[int, Event] = {}
    for e in events:
        if e.get("op") != "send":
            continue
        if e["type"] == "invoke":
            invokes[e["req"]] = e
            for lid in e["ids"]:
                s.partition[lid] = e["partition"]
                s.sdk[lid] = e["sdk"]
                s.attempts[lid] += 1
        elif e["type"] == "ok":
            for lid in invokes[e["req"]]["ids"]:
                s.acked.setdefault(lid, e["t"])
            if e.get("appended"):
                s.placed.append((invokes[e["req"]]["ids"], e["appended"]))
    return s


def check_phase(events: list[Event], phase: str, obs: Observation, partitions: int) -> list[Anomaly]:
    events = _phase_events(events, phase)
    out: list[Anomaly] = []
    sends = _sends(events)
    finals = {p: obs.final(p) for p in range(partitions)}
    where: dict[int, list[tuple[int, int]]] = defaultdict(list)  # lid -> [(partition, offset)]
    phantoms: list[Any] = []
    for p, log in finals.items():
        for offset, _, payload in log:
            lid = _lid(payload)
            if lid is None or lid not in sends.partition:
                phantoms.append({"partition": p, "offset": offset, "payload": payload[:24].decode(errors="replace")})
            else:
                where[lid].append((p, offset))
    _anomaly(out, "phantom", phase, None, phantoms)

    for node, logs in sorted(obs.logs.items()):
        for p, log in sorted(logs.items()):
            holes = [{"node": node, "index": k, "offset": r[0]} for k, r in enumerate(log) if r[0] != k]
            _anomaly(out, "non-contiguous", phase, p, holes)
    polls = [e for e in events if e.get("op") == "poll" and e["type"] == "ok"]
    gaps: list[Any] = []
    for e in polls:
        offsets = [r[0] for r in e["records"]]
        if offsets and offsets != list(range(e["offset"], e["offset"] + len(offsets))):
            gaps.append({"client": e["client"], "partition": e["partition"], "asked": e["offset"],
                         "got": offsets[:6], "t": e["t"]})
    _anomaly(out, "non-contiguous", phase, None, gaps)

    lost: dict[int, list[Any]] = defaultdict(list)
    misplaced: list[Any] = []
    for lid, t in sorted(sends.acked.items(), key=lambda kv: kv[1]):
        p = sends.partition[lid]
        found = where.get(lid, [])
        if not any(fp == p for fp, _ in found):
            if found:
                misplaced.append({"id": lid, "sent_to": p, "found": found[:3]})
            else:
                lost[p].append({"id": hex(lid), "acked_at": t})
    for ids, at in sends.placed:
        if at["duplicates"] or at["stored"] != len(ids):
            continue  # a retry partly dropped by deduplication: which ones were stored is not said
        final = finals.get(at["partition"], [])
        for k, lid in enumerate(ids):
            o = at["first"] + k
            rec = final[o] if o < len(final) else None
            if (rec is None or _lid(rec[2]) != lid) and lid in where:  # not lost: stored elsewhere
                misplaced.append({"id": hex(lid), "acked_at": [at["partition"], o], "found": where[lid][:3]})
    for p, items in sorted(lost.items()):
        _anomaly(out, "lost", phase, p, items)
    _anomaly(out, "misplaced", phase, None, misplaced)

    dups: dict[int, list[Any]] = defaultdict(list)
    for lid, found in where.items():
        copies = len(found)
        if copies > 1:
            allowed = OFFICIAL_REPLAYS * sends.attempts[lid] if sends.sdk.get(lid) == "iggy" else 1
            if copies > allowed:
                dups[found[0][0]].append({"id": hex(lid), "offsets": [o for _, o in found], "sdk": sends.sdk.get(lid),
                                          "attempts": sends.attempts[lid]})
    for p, items in sorted(dups.items()):
        _anomaly(out, "duplicate", phase, p, items)

    for p in range(partitions):
        final = finals[p]
        for node, logs in sorted(obs.logs.items()):
            if p not in logs or logs[p] is final:
                continue
            log = logs[p]
            differ = [{"node": node, "offset": a[0], "final": [hex(_lid(a[2]) or 0), a[1]],
                       "replica": [hex(_lid(b[2]) or 0), b[1]]}
                      for a, b in zip(final, log) if (a[1], a[2]) != (b[1], b[2])]
            _anomaly(out, "divergent", phase, p, differ)
            if len(log) != len(final):
                out.append(Anomaly("replica-lag", phase, p, abs(len(final) - len(log)),
                                   [{"node": node, "end": len(log), "final_end": len(final),
                                     "leader": obs.leaders.get(p)}]))

    dirty: dict[int, list[Any]] = defaultdict(list)
    for e in polls:
        final = finals[e["partition"]]
        for offset, lid, wid in e["records"]:
            rec = final[offset] if 0 <= offset < len(final) and final[offset][0] == offset else None
            if rec is None or rec[1] != wid or _lid(rec[2]) != lid:
                dirty[e["partition"]].append({"client": e["client"], "offset": offset, "read": hex(lid or 0),
                                              "final": hex(_lid(rec[2]) or 0) if rec else None, "t": e["t"]})
    for p, items in sorted(dirty.items()):
        _anomaly(out, "dirty-read", phase, p, items)

    out += _offset_regressions(events, phase)
    return out


def _offset_regressions(events: list[Event], phase: str) -> list[Anomaly]:
    floor: dict[tuple[str, int], int] = {}
    at_invoke: dict[int, int] = {}
    found: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        op = e.get("op")
        if op == "store_offset" and e["type"] == "ok":
            key = (e["client"], e["partition"])
            floor[key] = max(floor.get(key, -1), e["value"])
        elif op == "get_offset" and e["type"] == "invoke":
            at_invoke[e["req"]] = floor.get((e["client"], e["partition"]), -1)
        elif op == "get_offset" and e["type"] == "ok":
            value = -1 if e["value"] is None else e["value"]
            expected = at_invoke.get(e["req"], -1)
            if value < expected:
                found[e["partition"]].append({"client": e["client"], "read": e["value"], "stored": expected,
                                              "t": e["t"]})
    out: list[Anomaly] = []
    for p, items in sorted(found.items()):
        _anomaly(out, "offset-regression", phase, p, items)
    return out


def check_restart(before: Observation, after: Observation, partitions: int) -> list[Anomaly]:
    """Records the cluster held at the end of the run phase must survive the restart."""
    out: list[Anomaly] = []
    for p in range(partitions):
        old, new = before.final(p), after.final(p)
        changed = [{"offset": a[0], "before": hex(_lid(a[2]) or 0),
                    "after": hex(_lid(new[k][2]) or 0) if k < len(new) else None}
                   for k, a in enumerate(old) if k >= len(new) or (a[1], a[2]) != (new[k][1], new[k][2])]
        _anomaly(out, "restart-changed", "restart", p, changed)
    return out


def check(events: list[Event], observations: dict[str, Observation], partitions: int) -> list[Anomaly]:
    """Every rule, for every phase observed, plus node crashes."""
    out: list[Anomaly] = []
    restart_at = next((e["t"] for e in events if e["type"] == "phase" and e.get("phase") == "restart"), None)
    crashes: dict[str, list[Any]] = defaultdict(list)
    for e in events:
        if e["type"] == "nemesis" and e.get("f") == "crash":
            phase = "restart" if restart_at is not None and e["t"] >= restart_at else "run"
            crashes[phase].append({"node": e["node"], "during": e.get("during"), "code": e.get("code"), "t": e["t"]})
    for phase, items in crashes.items():
        _anomaly(out, "crash", phase, None, items)
    seen: set[tuple[str, int | None, str]] = set()
    for phase in ("run", "restart"):
        if phase not in observations:
            continue
        for a in check_phase(events, phase, observations[phase], partitions):
            # The restart phase re-checks the whole history: report only what is new there.
            keys = [(a.kind, a.partition, json.dumps(item, sort_keys=True, default=str)) for item in a.examples]
            new = [item for key, item in zip(keys, a.examples) if key not in seen]
            seen.update(keys)
            if new:
                out.append(Anomaly(a.kind, a.phase, a.partition, len(new), new))
    if "run" in observations and "restart" in observations:
        out += check_restart(observations["run"], observations["restart"], partitions)
    return [Anomaly(a.kind, a.phase, a.partition, a.count, a.examples[:_EXAMPLES]) for a in out]


def _majority_side(up: set[int], cut: set[frozenset[int]], nodes: set[int], replicas: set[int]) -> bool:
    """Whether some group of live, mutually connected nodes holds a majority of the
    metadata group and of the partition's replicas: only then can a failover happen."""
    left = set(up)
    while left:
        group, todo = set(), [left.pop()]
        while todo:
            a = todo.pop()
            group.add(a)
            for b in list(left):
                if frozenset((a, b)) not in cut:
                    left.discard(b)
                    todo.append(b)
        if len(group) > len(nodes) // 2 and len(group & replicas) > len(replicas) // 2:
            return True
    return False


def failover_times(events: list[Event]) -> dict[str, list[float | None]]:
    """Seconds from a fault that hit a partition's leader to the first acknowledged send on
    that partition after it (None: none before the run phase ended).

    A send in flight when the fault struck counts when it is acknowledged after it: the
    client's own retry that lands on the new leader is the end of the failover, as an
    application sees it. ``kill``: a kill -9 with no link cut at the time;
    ``kill-in-partition``: a kill while links were cut; ``partition``: a cut that left
    the leader on the minority side. ``no-majority``: after the fault no connected group of
    live nodes held a majority of the metadata group and of the partition's replicas
    (e.g. a follower cut off, then its leader killed; or, on 3 nodes, the leader killed
    while another node is still starting) until a heal or a restarted node is ready, and
    the first ack came only after that: by design (a CP system) nothing can take over
    meanwhile, so these measure the faults' length, not a failover, and are reported apart;
    ``after-majority`` holds, for each of them, the seconds from the majority's return to
    that ack (the failover proper).
    """
    acks: dict[int, list[float]] = defaultdict(list)  # partition -> ok times
    for e in events:
        if e.get("op") == "send" and e["type"] == "ok" and e.get("phase", "run") == "run":
            acks[e["partition"]].append(e["t"])
    out: dict[str, list[float | None]] = {"kill": [], "kill-in-partition": [], "partition": [], "no-majority": [],
                                         "after-majority": []}
    timeline = _majority_timeline(events)
    for e in events:
        if e["type"] != "nemesis" or not e.get("leaders_hit"):
            continue
        cause = e["cause"] if e["cause"] != "kill" or not e.get("during_cut") else "kill-in-partition"
        for p in e["leaders_hit"]:
            after = [t for t in acks[p] if t > e["t"]]
            end = min(after) if after else float("inf")
            back_at = _majority_back_at(timeline, e.get("fault"), e["t"], end)
            if back_at is None:
                out[cause].append(round(end - e["t"], 3) if after else None)
            else:  # the fault's length, and the failover that followed the majority's return
                out["no-majority"].append(round(end - e["t"], 3))
                out["after-majority"].append(round(end - back_at, 3))
    return out


def _majority_back_at(timeline: list[tuple[float, int, bool]], fault: Any, start: float, end: float) -> float | None:
    """When the partition lost every majority side between ``start`` and ``end`` and the
    ack at ``end`` came only after one existed again (the wait was for a heal or a node's
    restart, not a failover): the time the majority came back; else None."""
    states = [(t, ok) for t, f, ok in timeline if f == fault and t >= start]
    lost_at = next((t for t, ok in states if not ok and t <= end), None)
    if lost_at is None:
        return None
    back_at = next((t for t, ok in states if ok and t > lost_at), float("inf"))
    return back_at if end >= back_at else None


def _majority_timeline(events: list[Event]) -> list[tuple[float, int, bool]]:
    """(time, fault id, whether a majority side exists for that fault's partition) after
    every fault step, replaying cuts, heals, kills and restarts."""
    nodes: set[int] = set()
    down: set[int] = set()
    cut: set[frozenset[int]] = set()
    replicas: dict[int, set[int]] = {}
    out: list[tuple[float, int, bool]] = []
    for e in events:
        if e["type"] != "nemesis":
            continue
        f = e.get("f")
        roles = e.get("roles") or {}
        if f == "start" and roles:
            nodes |= set(roles.get("nodes", []))
            if roles.get("leader") is not None:
                replicas[e["fault"]] = {roles["leader"], *roles.get("followers", [])}
        elif f == "cut":
            cut |= {frozenset(link) for link in e.get("links", [])}
        elif f in ("heal", "healed"):
            cut = set()
        elif f in ("kill", "crash"):
            down.add(e["node"])
        elif f == "ready":  # not at "restart": a node still starting cannot vote, promise or lead
            down.discard(e["node"])
        elif f == "healed":
            down = set(e.get("down", []))
        if nodes:
            for fault, group in replicas.items():
                out.append((e["t"], fault, _majority_side(nodes - down, cut, nodes, group)))
    return out
