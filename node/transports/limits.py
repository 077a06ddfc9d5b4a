"""Bounds against abusive or broken clients, applied where connections are accepted and read.

Four limits, each a setting with a default (docs/CONFIG.md), each counted in
``whippet_limit_rejections_total{limit, transport}`` (docs/METRICS.md):

- ``frame_size``: a binary-protocol frame whose length field exceeds the
  transport's ``<transport>_max_frame_size`` is refused as soon as its 8-byte
  header is in (``InvalidCommand``, then the connection closes, as Iggy does for
  an oversize control frame); the payload is never buffered. HTTP bodies are
  bounded by ``http_max_request_size`` (413).
- ``connections``: at most ``limits_max_connections`` client connections at once,
  over all transports; one more is closed at accept.
- ``idle``: a connection that sent nothing for ``limits_idle_timeout_s`` is closed.
- ``slow_client``: a request that has started to arrive (or a new HTTP/WebSocket
  connection that has not sent its request head yet) must arrive whole within
  ``limits_request_timeout_s``, extended by one second per
  ``limits_request_min_rate`` bytes received meanwhile (Apache's
  ``RequestReadTimeout`` rule), so a big request on a slow link passes and a
  slowloris dribble does not. Time spent while the node itself stopped reading
  (its queue of received requests is full) does not count.

Why a sweep and no per-connection timers: a transport calls :meth:`Guard.touch`
on every read, which only stores the current sweep time and a few integers; one
task wakes every :data:`SWEEP_S` and closes what is over a bound, so the read
path pays no timer scheduling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter

from whippet.node.transports.sniff import FrameReader
from whippet.tasks import stop_task

if TYPE_CHECKING:
    from whippet.node.config import NodeConfig

__all__ = ["SWEEP_S", "Guard", "Limits"]

log = logging.getLogger(__name__)

#: how often the bounds are checked (the resolution of the time limits)
SWEEP_S = 0.25
LIMITS = ("frame_size", "connections", "idle", "slow_client")


class Guard:
    """One connection's bookkeeping: when it last sent anything and since when a request
    has been arriving. Created by :meth:`Limits.open`, dropped by :meth:`release`."""

    __slots__ = ("_limits", "transport", "_close", "last_seen", "partial_since", "partial_bytes", "held", "closed")

    def __init__(self, limits: Limits, transport: str, close: Callable[[], object], awaiting: bool) -> None:
        self._limits = limits
        self.transport = transport
        self._close = close
        self.last_seen = limits.now
        #: when the request now arriving started (None: nothing is half-received)
        self.partial_since: float | None = limits.now if awaiting else None
        self.partial_bytes = 0
        #: the node paused reading this connection: its time limits stand still
        self.held = False
        self.closed = False

    def touch(self, nbytes: int, partial: bool) -> None:
        """``nbytes`` arrived; ``partial``: a request is (still) half-received after them."""
        now = self._limits.now
        self.last_seen = now
        if not partial:
            self.partial_since = None
        elif self.partial_since is None:
            self.partial_since, self.partial_bytes = now, nbytes
        else:
            self.partial_bytes += nbytes

    def hold(self, held: bool) -> None:
        """The node stopped (True) or resumed (False) reading this connection."""
        self.held = held
        if not held:
            now = self._limits.now
            self.last_seen = now
            if self.partial_since is not None:
                self.partial_since, self.partial_bytes = now, 0

    def release(self) -> None:
        """The connection closed (idempotent)."""
        if not self.closed:
            self.closed = True
            self._limits._released(self)

    def _over(self, now: float) -> str | None:
        lim = self._limits
        if self.held:
            return None
        if lim.request_timeout and self.partial_since is not None:
            allowed = lim.request_timeout + (self.partial_bytes / lim.min_rate if lim.min_rate else 0.0)
            if now - self.partial_since > allowed:
                return "slow_client"
        if lim.idle_timeout and now - self.last_seen > lim.idle_timeout:
            return "idle"
        return None

    def _expire(self, limit: str) -> None:
        self._limits.count(limit, self.transport)
        self.release()
        try:
            self._close()
        except Exception:  # the transport is already gone: nothing to close
            log.debug("closing an expired %s connection failed", self.transport, exc_info=True)


class Limits:
    """The node's limits: connection admission, per-connection guards, frame readers."""

    def __init__(self, config: NodeConfig, registry: CollectorRegistry | None = None) -> None:
        self.max_connections = config.limits_max_connections
        self.idle_timeout = float(config.limits_idle_timeout_s)
        self.request_timeout = float(config.limits_request_timeout_s)
        self.min_rate = config.limits_request_min_rate
        self.max_frame = {
            "tcp": config.tcp_max_frame_size, "ws": config.ws_max_frame_size, "quic": config.quic_max_frame_size
        }
        self.now = time.monotonic()
        self._guards: set[Guard] = set()
        self._rejections = Counter(
            "whippet_limit_rejections",
            "Connections closed or requests refused by a limit (docs/CONFIG.md [limits]), by limit and transport",
            ["limit", "transport"], registry=registry,
        )
        for limit in LIMITS:
            for transport in ("tcp", "ws", "quic", "http"):
                self._rejections.labels(limit, transport)  # every series exists from the start (0)
        self._task: asyncio.Task[None] | None = None

    @property
    def open_connections(self) -> int:
        return len(self._guards)

    def open(self, transport: str, close: Callable[[], object], *, awaiting: bool = False) -> Guard | None:
        """Admit a new connection (None: over ``limits_max_connections``; the caller closes it).

        ``awaiting``: the client must send a request head first (HTTP, WebSocket), so the
        slow-client clock runs from the accept.
        """
        if self.max_connections and len(self._guards) >= self.max_connections:
            self.count("connections", transport)
            return None
        guard = Guard(self, transport, close, awaiting)
        self._guards.add(guard)
        return guard

    def reader(self, transport: str) -> FrameReader:
        """A frame reader (0.8 or 0.9, by the first bytes) bounded by ``transport``'s max frame
        size, counting refusals."""
        return FrameReader(max_frame=self.max_frame[transport],
                           on_oversize=lambda: self.count("frame_size", transport))

    def count(self, limit: str, transport: str) -> None:
        self._rejections.labels(limit, transport).inc()

    def _released(self, guard: Guard) -> None:
        self._guards.discard(guard)

    # --- the sweep -------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None and (self.idle_timeout or self.request_timeout):
            self._task = asyncio.get_running_loop().create_task(self._sweep_forever(), name="limits-sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    def sweep(self, now: float) -> int:
        """Close every connection over a time bound at ``now``; returns how many."""
        self.now = now
        expired = [(g, limit) for g in self._guards if (limit := g._over(now)) is not None]
        for guard, limit in expired:
            guard._expire(limit)
        return len(expired)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            self.sweep(time.monotonic())
