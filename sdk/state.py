"""Connection-state events: what a client tells the application about its connection.

``client.on_connection_state(callback)`` (or ``Client(..., on_connection_state=cb)``)
registers a callback that receives a :class:`ConnectionEvent` when the client's
connection to the cluster (its *home* node) changes:

* ``CONNECTED`` — the first connection is up and logged in (``connect()``);
* ``DISCONNECTED`` — it was lost (the node stopped, the network broke). TCP and
  WebSocket notice at once; QUIC when the connection is next used. The client
  starts reconnecting at once, in the background;
* ``RECONNECTED`` — a new connection is up, logged in again, groups re-joined
  (``node`` may be another node of the pool);
* ``CLOSED`` — ``close()`` was called; nothing follows.

A callback may be a plain function or a coroutine function (it is then run as a
task); an exception it raises is logged and otherwise ignored, so a bad callback
cannot break the client.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from whippet.sdk.options import NodeAddress

__all__ = ["ConnectionEvent", "ConnectionState", "StateCallback", "StateNotifier"]

log = logging.getLogger("whippet.sdk")


class ConnectionState(enum.Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    state: ConnectionState
    node: NodeAddress | None
    reason: str = ""


StateCallback = Callable[[ConnectionEvent], Any]


class StateNotifier:
    """The registered callbacks and the one place that calls them."""

    def __init__(self) -> None:
        self._callbacks: list[StateCallback] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.last: ConnectionState | None = None

    def add(self, callback: StateCallback) -> None:
        self._callbacks.append(callback)

    def emit(self, state: ConnectionState, node: NodeAddress | None, reason: str = "") -> None:
        self.last = state
        event = ConnectionEvent(state, node, reason)
        for callback in list(self._callbacks):
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._finished)
            except Exception:
                log.exception("connection state callback failed on %s", state.value)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("connection state callback failed", exc_info=task.exception())
