"""The invariants, checked as the simulation runs and once it has settled.

- **Leader completeness**: a node that starts leading epoch E holds every record
  acknowledged in an epoch below E (a node may lead an old epoch late, from a lagging
  metadata replica; it then cannot reach a quorum, and does not need later records).
- **One leader per epoch.**
- **Committed is forever**: once any leader's high watermark covers an offset, the record
  there never changes on any leader that covers it later, and every read matches it
  (no dirty read, no acknowledged loss).
- **Acknowledged at the right place**: two acknowledgements never name one offset with
  different records.
- At the end, with the network healed and every node up: every replica holds every
  acknowledged record, all replicas are identical, and every node's metadata replica
  equals the authority.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Observer", "Violation"]


class Violation(AssertionError):
    pass


@dataclass
class Observer:
    acked: dict[int, str] = field(default_factory=dict)
    acked_epoch: dict[int, int] = field(default_factory=dict)
    committed: dict[int, str] = field(default_factory=dict)
    leaders: dict[int, int] = field(default_factory=dict)
    checked_hw: dict[tuple[int, int], int] = field(default_factory=dict)
    reads: int = 0
    elections: int = 0

    def became_leader(self, node: Any, epoch: int) -> None:
        self.elections += 1
        other = self.leaders.setdefault(epoch, node.id)
        if other != node.id:
            raise Violation(f"t={node.w.now:.3f}: epoch {epoch} led by nodes {other} and {node.id}")
        for offset, value in self.acked.items():
            if self.acked_epoch[offset] >= epoch:
                continue
            if offset >= len(node.log) or node.log[offset] != value:
                have = node.log[offset] if offset < len(node.log) else None
                raise Violation(f"t={node.w.now:.3f}: node {node.id} leads epoch {epoch} without acknowledged "
                                f"record {offset}={value} (has {have})")

    def acknowledged(self, node: Any, op: int, offset: int, value: str, epoch: int) -> None:
        self.acked_epoch.setdefault(offset, epoch)
        prior = self.acked.setdefault(offset, value)
        if prior != value:
            raise Violation(f"t={node.w.now:.3f}: offset {offset} acknowledged as {prior} and as {value}")

    def high_watermark(self, node: Any, hw: int) -> None:
        key = (node.id, node.incarnation)
        start = self.checked_hw.get(key, 0)
        if hw <= start:
            return
        for offset in range(start, hw):
            value = node.log[offset]
            prior = self.committed.setdefault(offset, value)
            if prior != value:
                raise Violation(f"t={node.w.now:.3f}: committed offset {offset} was {prior}, node {node.id} "
                                f"now serves {value} below its high watermark {hw}")
        self.checked_hw[key] = hw

    def read(self, node: Any, entries: list[tuple[int, str]]) -> None:
        self.reads += 1
        for offset, value in entries:
            if self.committed.get(offset, value) != value:
                raise Violation(f"t={node.w.now:.3f}: dirty read at {offset}: {value}, "
                                f"committed {self.committed[offset]}")

    def settled(self, nodes: dict[int, Any], replicas: tuple[int, ...], authority_snapshot: bytes) -> None:
        logs = {i: nodes[i].log for i in replicas}
        for offset, value in self.acked.items():
            for i, log in logs.items():
                if offset >= len(log) or log[offset] != value:
                    raise Violation(f"after settling: node {i} lacks acknowledged record {offset}={value}")
        first = next(iter(logs.values()))
        for i, log in logs.items():
            if log != first:
                diff = next((o for o, (a, b) in enumerate(zip(log, first)) if a != b), min(len(log), len(first)))
                raise Violation(f"after settling: replicas differ (node {i}, from offset {diff}; "
                                f"lengths {sorted((k, len(v)) for k, v in logs.items())})")
        for i, n in nodes.items():
            if n.meta.snapshot() != authority_snapshot:
                raise Violation(f"after settling: node {i}'s metadata replica differs from the log's state")
