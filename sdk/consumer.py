"""The high-level consumer: one partition or a consumer group, polling strategies,
auto-commit modes, and an async iterator.

Built with ``client.consumer("c1", "dev01", "events", partition=0)`` or
``client.consumer_group("my_app", "dev01", "events")``, then ``.auto_commit(...)``,
``.polling_strategy(...)``, ``.batch_length(...)``, ``.build()``; ``await init()``.

Commit modes (when the consumer's position is stored on the node):

* ``AutoCommit.when_polling()`` — the node stores it as it answers a poll
  (at-most-once: a crash loses the polled batch);
* ``AutoCommit.after_each()`` — after each message is processed, i.e. when the
  iterator is asked for the next one (commit-after-processing, at-least-once);
* ``AutoCommit.after_all()`` — after every message of a poll was processed;
* ``AutoCommit.interval(s)`` — every ``s`` seconds, the last processed message;
* ``AutoCommit.disabled()`` — only :meth:`Consumer.commit` / :meth:`store_offset`.

Every mode but disabled also commits on :meth:`close`, before leaving the group,
so a member that leaves hands its partitions over at the right offset.

Groups: the node assigns partitions; each poll names no partition and the node
answers from the member's next partition. The consumer keeps the last offset it
delivered per partition, so a poll that returns messages it already delivered
(the stored offset lags in interval mode) is skipped past with an offset poll.
Rebalancing awareness: the consumer's own assignment (whippet's command 9006; the
group's whole membership from an Iggy 0.8 server) is re-read every
``rebalance_check`` seconds; on a change the consumer commits what it processed,
forgets its per-partition positions, and calls ``on_rebalance`` with a
:class:`Rebalance` naming the partitions it was assigned and the ones it lost.

Idle polling backs off: after an empty poll the consumer waits ``poll_interval``,
doubling up to ``max_poll_interval`` while polls stay empty, and polls at once
again after one that returned messages. An idle consumer so sends about
``1/max_poll_interval`` polls a second (plus one assignment check per
``rebalance_check``) instead of one per ``poll_interval``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Self

from whippet.sdk.headers import HeaderValue, decode_headers
from whippet.sdk.messages import PolledMessage
from whippet.sdk.timeutil import Duration, seconds
from whippet.wire.errors import (
    ConsumerGroupIdNotFound,
    ConsumerGroupMemberNotFound,
    InvalidFormat,
    NotResolvedConsumer,
)
from whippet.wire.primitives import Consumer as WireConsumer
from whippet.wire.primitives import PollingStrategy

if TYPE_CHECKING:
    from whippet.sdk.client import Client

__all__ = ["AutoCommit", "Consumer", "ConsumerBuilder", "ConsumerConfig", "Rebalance", "ReceivedMessage"]


@dataclass(frozen=True, slots=True)
class AutoCommit:
    mode: str  # disabled | when_polling | after_each | after_all | interval
    interval: float = 0.0

    @classmethod
    def disabled(cls) -> AutoCommit:
        return cls("disabled")

    @classmethod
    def when_polling(cls) -> AutoCommit:
        return cls("when_polling")

    @classmethod
    def after_each(cls) -> AutoCommit:
        return cls("after_each")

    @classmethod
    def after_all(cls) -> AutoCommit:
        return cls("after_all")

    @classmethod
    def every(cls, value: Duration) -> AutoCommit:
        return cls("interval", seconds(value))

    interval_of = every


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    partition_id: int
    current_offset: int  # the partition's last offset when polled
    message: PolledMessage

    @property
    def offset(self) -> int:
        return self.message.offset

    @property
    def id(self) -> int:
        return self.message.id

    @property
    def payload(self) -> bytes:
        return self.message.payload

    @property
    def headers(self) -> dict[str, HeaderValue]:
        """The message's headers by name, typed (``HeaderValue.value`` is the Python value)."""
        return decode_headers(self.message.user_headers) if self.message.user_headers else {}


@dataclass(frozen=True, slots=True)
class Rebalance:
    """What a rebalance changed for this consumer.

    ``partitions`` is what it owns now, ``assigned`` what it gained and ``revoked`` what
    it lost (sorted). Against an Iggy 0.8 server, which cannot tell a client its own
    assignment, the three are None and only "the group changed" is known.
    """

    partitions: tuple[int, ...] | None
    assigned: tuple[int, ...] | None
    revoked: tuple[int, ...] | None

    @classmethod
    def between(cls, before: tuple[int, ...], after: tuple[int, ...]) -> Rebalance:
        return cls(after, tuple(sorted(set(after) - set(before))), tuple(sorted(set(before) - set(after))))


RebalanceCallback = Callable[[Rebalance], Any] | Callable[[], Any]


def _as_event_callback(callback: RebalanceCallback | None) -> Callable[[Rebalance], Any] | None:
    """Accept the old zero-argument callbacks as well as ones that take the :class:`Rebalance`."""
    if callback is None:
        return None
    try:
        takes_event = bool(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        takes_event = True
    if takes_event:
        return callback  # type: ignore[return-value]
    return lambda _event: callback()  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    name: str | int
    stream: str | int
    topic: str | int
    group: bool
    partition: int | None = None
    strategy: PollingStrategy = PollingStrategy.next()
    batch_length: int = 100
    poll_interval: float = 0.01
    max_poll_interval: float = 0.25
    auto_commit: AutoCommit = AutoCommit("after_all")
    create_group: bool = True
    rebalance_check: float = 1.0


class ConsumerBuilder:
    def __init__(self, client: Client, config: ConsumerConfig) -> None:
        self._client = client
        self._config = config
        self._on_rebalance: RebalanceCallback | None = None

    def _set(self, **changes: object) -> Self:
        self._config = replace(self._config, **changes)  # type: ignore[arg-type]
        return self

    def auto_commit(self, value: AutoCommit) -> Self:
        return self._set(auto_commit=value)

    def polling_strategy(self, value: PollingStrategy) -> Self:
        return self._set(strategy=value)

    def batch_length(self, n: int) -> Self:
        if n < 1:
            raise InvalidFormat("batch_length must be at least 1")
        return self._set(batch_length=n)

    def poll_interval(self, value: Duration) -> Self:
        """The wait after an empty poll (it doubles while polls stay empty, see ``max_poll_interval``)."""
        return self._set(poll_interval=seconds(value))

    def max_poll_interval(self, value: Duration) -> Self:
        """The longest wait between polls of an idle consumer (default 250 ms)."""
        return self._set(max_poll_interval=seconds(value))

    def partition(self, partition_id: int | None) -> Self:
        return self._set(partition=partition_id)

    def create_consumer_group_if_not_exists(self, enabled: bool = True) -> Self:
        return self._set(create_group=enabled)

    def rebalance_check(self, value: Duration) -> Self:
        return self._set(rebalance_check=seconds(value))

    def on_rebalance(self, callback: RebalanceCallback) -> Self:
        """Called after each rebalance with a :class:`Rebalance` (or with no argument, if the
        callback takes none); an awaitable it returns is awaited."""
        self._on_rebalance = callback
        return self

    def build(self) -> Consumer:
        return Consumer(self._client, self._config, self._on_rebalance)


class Consumer:
    def __init__(self, client: Client, config: ConsumerConfig, on_rebalance: RebalanceCallback | None = None) -> None:
        self.client = client
        self.config = config
        self._on_rebalance = _as_event_callback(on_rebalance)
        self._wire = WireConsumer.group(config.name) if config.group else WireConsumer.consumer(config.name)
        self._buffer: deque[ReceivedMessage] = deque()
        self._delivered: dict[int, int] = {}  # partition -> last offset handed to the caller
        self._committed: dict[int, int] = {}  # partition -> last offset stored on the node
        self._last: ReceivedMessage | None = None  # yielded, commit pending (after_each)
        self._membership: tuple[object, ...] | None = None
        self._checked_at = 0.0
        self._assignment: tuple[int, ...] | None = None  # own partitions (None: the server cannot say)
        self._idle_wait = 0.0
        self._commit_task: asyncio.Task[None] | None = None
        self._joined = False
        self._closed = False
        self.rebalances = 0

    async def init(self) -> Self:
        cfg = self.config
        await self.client.connect()
        if cfg.group:
            try:
                await self.client.join_consumer_group(cfg.stream, cfg.topic, cfg.name)
            except ConsumerGroupIdNotFound:
                if not cfg.create_group or not isinstance(cfg.name, str):
                    raise
                await self.client.create_consumer_group(cfg.stream, cfg.topic, cfg.name)
                await self.client.join_consumer_group(cfg.stream, cfg.topic, cfg.name)
            self._joined = True
            await self._read_membership()
        if cfg.auto_commit.mode == "interval":
            self._commit_task = asyncio.get_running_loop().create_task(self._commit_loop())
        return self

    # --- polling ---
    async def poll(self) -> list[ReceivedMessage]:
        """One poll: the messages not delivered before, possibly empty."""
        cfg = self.config
        server_commit = cfg.auto_commit.mode == "when_polling"
        partition = None if cfg.group else (cfg.partition if cfg.partition is not None else 0)
        strategy = cfg.strategy
        if partition is not None and partition in self._delivered:
            # Whatever the starting strategy, once reading has begun it continues by offset.
            strategy = PollingStrategy.offset(self._delivered[partition] + 1)
        polled = await self.client.poll_messages(
            cfg.stream, cfg.topic, partition, self._wire, strategy, cfg.batch_length, server_commit
        )
        messages = self._fresh(polled.partition_id, polled.messages)
        if polled.messages and not messages and polled.partition_id in self._delivered:
            # The node's stored offset lags what we delivered: read on from our own position.
            p = polled.partition_id
            polled = await self.client.poll_messages(
                cfg.stream, cfg.topic, p, self._wire, PollingStrategy.offset(self._delivered[p] + 1),
                cfg.batch_length, server_commit,
            )
            messages = self._fresh(p, polled.messages)
        if cfg.group and time.monotonic() - self._checked_at >= cfg.rebalance_check:
            await self._check_rebalance()
        out = [ReceivedMessage(polled.partition_id, polled.current_offset, m) for m in messages]
        if out:
            self._delivered[polled.partition_id] = out[-1].offset
            if server_commit:
                self._committed[polled.partition_id] = out[-1].offset
        return out

    def _fresh(self, partition: int, messages: list[PolledMessage]) -> list[PolledMessage]:
        last = self._delivered.get(partition)
        if last is None or not messages or messages[0].offset > last:
            return messages
        return [m for m in messages if m.offset > last]

    @property
    def assignment(self) -> tuple[int, ...] | None:
        """The partitions the group assigned to this consumer as last read (None: not known)."""
        return self._assignment

    async def _read_membership(self) -> bool:
        """Re-read this member's assignment (or, from a 0.8 server, the group's membership);
        True when it changed since the last read."""
        cfg = self.config
        self._checked_at = time.monotonic()
        mine = await self.client.get_consumer_assignment(cfg.stream, cfg.topic, cfg.name)
        if mine is not None:
            changed = self._assignment is not None and tuple(mine.partitions) != self._assignment
            self._assignment = tuple(mine.partitions)
            return changed
        group = await self.client.get_consumer_group(cfg.stream, cfg.topic, cfg.name)
        membership = None if group is None else tuple((m.id, tuple(m.partitions)) for m in group.members)
        changed = membership != self._membership
        self._membership = membership
        return changed

    async def _check_rebalance(self) -> None:
        before = self._assignment
        if not await self._read_membership():
            return
        if self.config.auto_commit.mode != "disabled":
            await self.commit()
        self._delivered.clear()
        after = self._assignment
        event = Rebalance.between(before, after) if before is not None and after is not None else Rebalance(None, None, None)
        await self._rebalanced(event)

    async def _rebalanced(self, event: Rebalance) -> None:
        self.rebalances += 1
        if self._on_rebalance is not None:
            result = self._on_rebalance(event)
            if inspect.isawaitable(result):
                await result

    # --- committing ---
    async def store_offset(self, partition_id: int, offset: int) -> None:
        """Store a position. In a group, a partition that was reassigned meanwhile cannot be
        committed any more (the node answers 3022/5006): that is a rebalance, not an error; the
        new owner starts from the last commit, so the message may be delivered again."""
        cfg = self.config
        try:
            await self.client.store_consumer_offset(self._wire, cfg.stream, cfg.topic, partition_id, offset)
        except (NotResolvedConsumer, ConsumerGroupMemberNotFound):
            if not cfg.group:
                raise
            self._delivered.pop(partition_id, None)
            if self._assignment is not None:
                before, self._assignment = self._assignment, tuple(p for p in self._assignment if p != partition_id)
                await self._rebalanced(Rebalance.between(before, self._assignment))
            else:
                await self._rebalanced(Rebalance(None, None, None))
            return
        self._committed[partition_id] = offset

    async def commit(self, message: ReceivedMessage | None = None) -> None:
        """Store the position of ``message``, or of everything delivered so far."""
        if message is not None:
            await self.store_offset(message.partition_id, message.offset)
            return
        for partition, offset in list(self._processed().items()):
            if self._committed.get(partition) != offset:
                await self.store_offset(partition, offset)

    def _processed(self) -> dict[int, int]:
        """Last processed offset per partition: everything delivered except what is still buffered."""
        done = dict(self._delivered)
        pending: dict[int, int] = {}
        for m in self._buffer:
            pending.setdefault(m.partition_id, m.offset)
        for partition, first_pending in pending.items():
            if first_pending == 0:
                done.pop(partition, None)
            else:
                done[partition] = first_pending - 1
        return done

    async def _commit_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.config.auto_commit.interval)
            try:
                await self.commit()
            except Exception:  # retried on the next tick; close() commits again
                pass

    # --- iteration ---
    def __aiter__(self) -> AsyncIterator[ReceivedMessage]:
        return self

    async def __anext__(self) -> ReceivedMessage:
        mode = self.config.auto_commit.mode
        if self._last is not None and mode == "after_each":
            last, self._last = self._last, None
            await self.store_offset(last.partition_id, last.offset)
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            if mode == "after_all":
                await self.commit()
            batch = await self.poll()
            if self._closed:  # closed by another task while polling: deliver nothing more
                raise StopAsyncIteration
            if not batch:
                await asyncio.sleep(self._next_idle_wait())
                continue
            self._idle_wait = 0.0
            self._buffer.extend(batch)
        message = self._buffer.popleft()
        self._last = message
        return message

    def _next_idle_wait(self) -> float:
        """The wait after an empty poll: ``poll_interval``, doubling up to ``max_poll_interval``."""
        cfg = self.config
        self._idle_wait = min(max(cfg.max_poll_interval, cfg.poll_interval),
                              self._idle_wait * 2 if self._idle_wait else cfg.poll_interval)
        return self._idle_wait

    async def close(self) -> None:
        """Commit what was processed (unless disabled), leave the group, stop background work."""
        if self._closed:
            return
        self._closed = True
        if self._commit_task is not None:
            self._commit_task.cancel()
        try:
            if self.config.auto_commit.mode not in ("disabled", "when_polling"):
                await self.commit()
        finally:
            self._buffer.clear()
            if self._joined:
                cfg = self.config
                await self.client.leave_consumer_group(cfg.stream, cfg.topic, cfg.name)
                self._joined = False

    async def __aenter__(self) -> Self:
        return await self.init()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

