"""The history of a trial: every client operation and every fault, as JSON lines.

An operation is an ``invoke`` event followed by exactly one completion with the same
``req``: ``ok`` (it happened), ``fail`` (it certainly did not) or ``info`` (unknown:
a timeout or a lost connection; a send may still be stored). Times ``t`` are seconds
on the monotonic clock since the history started, so they order events across the
workload's tasks and the nemesis. Faults are ``nemesis`` events.

Fields used by the checker: ``op`` (``send``, ``poll``, ``store_offset``,
``get_offset``), ``client``, ``partition``, ``ids`` (logical message ids of a send),
``sdk`` (``whippet``: the message ids on the wire are ours and the same on every
retry; ``iggy``: the official SDK, the node gives each attempt new ids), ``records``
(``[offset, id]`` pairs a poll returned), ``value`` (a consumer offset stored or
read back; ``None`` when none is stored), ``phase`` (``run`` or ``restart``).
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["History", "load"]

Event = dict[str, Any]


class History:
    def __init__(self, path: Path | None = None) -> None:
        self.events: list[Event] = []
        self.t0 = time.monotonic()
        self._next_req = 0
        self._phases: dict[int, str] = {}
        self._file: IO[str] | None = open(path, "w") if path is not None else None

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, type: str, **fields: Any) -> Event:
        event: Event = {"i": len(self.events), "t": round(self.now(), 6), "type": type, **fields}
        if type not in ("invoke", "ok", "fail", "info"):  # wall clock too, to find the node log lines
            event["wall"] = datetime.datetime.now().strftime("%H:%M:%S,%f")[:-3]
        self.events.append(event)
        if self._file is not None:
            self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
        return event

    def invoke(self, op: str, client: str, **fields: Any) -> int:
        self._next_req += 1
        self.add("invoke", op=op, client=client, req=self._next_req, **fields)
        if "phase" in fields:
            self._phases[self._next_req] = fields["phase"]
        return self._next_req

    def complete(self, req: int, type: str, op: str, client: str, **fields: Any) -> Event:
        """The completion of ``req``; it carries the phase of its invoke."""
        assert type in ("ok", "fail", "info"), type
        phase = self._phases.pop(req, None)
        extra = {"phase": phase} if phase is not None else {}
        return self.add(type, op=op, client=client, req=req, **extra, **fields)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def load(path: Path) -> list[Event]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
