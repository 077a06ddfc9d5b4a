"""Hand-over from the Raft thread to the event loop: results and events, in order.

The Raft thread :meth:`Outbox.post`\\ s what one tick produced (events of applied
commands, proposal outcomes) and :meth:`Outbox.flush`\\ es it as one
``call_soon_threadsafe`` batch once the journal is synced; the loop then runs
subscribers and settles futures in exactly the apply order. Knows nothing of
pysyncobj.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from whippet.metadata.events import Event
from whippet.wire.errors import IggyError, TaskTimeout

__all__ = ["MetadataUnavailable", "Outbox"]

log = logging.getLogger(__name__)


class MetadataUnavailable(IggyError):
    """The command could not be committed now: no leader, leader changed, queue full,
    timed out or store closed. Retriable; if ``outcome_unknown`` it may still have
    been applied (check the state before retrying a create). Status 12001."""

    retriable = True

    def __init__(self, reason: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(reason, code=TaskTimeout.code)
        self.outcome_unknown = outcome_unknown


@dataclass(slots=True)
class _Subscriber:
    callback: Callable[[Event], None]
    since: int  # apply sequence number at subscription: older events are not delivered


class Outbox:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []

    # --- any thread --------------------------------------------------------------------
    def post_events(self, seq: int, events: list[Event]) -> None:
        """Events of the command applied as number ``seq`` on this node."""
        with self._lock:
            self._items.append(("events", seq, events))

    def post_outcome(
        self, fut: asyncio.Future[Any], result: Any, error: BaseException | None
    ) -> None:
        with self._lock:
            self._items.append(("outcome", fut, result, error))

    def flush(self) -> None:
        """Schedule everything posted so far on the loop, as one batch."""
        with self._lock:
            items, self._items = self._items, []
        if items:
            try:
                self._loop.call_soon_threadsafe(self._deliver, items)
            except RuntimeError:
                log.warning("event loop closed: dropped %d metadata deliveries", len(items))

    # --- loop thread -------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None], since: int) -> Callable[[], None]:
        sub = _Subscriber(callback, since)
        self._subscribers.append(sub)

        def unsubscribe() -> None:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

        return unsubscribe

    def _deliver(self, items: list[tuple[Any, ...]]) -> None:
        for item in items:
            if item[0] == "events":
                _, seq, events = item
                for sub in tuple(self._subscribers):
                    if seq > sub.since:
                        self._call(sub, events)
                continue
            _, fut, result, error = item
            if fut.done():  # timed out or cancelled meanwhile
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

    @staticmethod
    def _call(sub: _Subscriber, events: list[Event]) -> None:
        for event in events:
            try:
                sub.callback(event)
            except Exception:
                log.exception("metadata subscriber failed on %r", event)
