"""The message cleaner: message expiry and max topic size, whole sealed segments at a time.

As in Iggy 0.8 nothing is deleted unless the cleaner is enabled
(``retention_cleaner_enabled``). A topic's expiry or max size of 0 means "the
server default" (``topic_message_expiry_us`` / ``topic_max_size``, 0 = none) and
u64::MAX means never/unlimited. Size retention starts at 90 % of the max size and
removes the oldest sealed segment across the topic's partitions (by start
timestamp) until the topic is under that mark. A segment is kept while some
consumer's stored offset has not reached its end (the consumer barrier).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from whippet.node.handlers._common import lowest_stored_offset
from whippet.node.partitions import PartitionHandle

if TYPE_CHECKING:
    from whippet.node.server import Node

__all__ = ["effective", "clean_once", "run_cleaner"]

log = logging.getLogger(__name__)
_U64_MAX = (1 << 64) - 1


def effective(value: int, default: int) -> int:
    """0 -> the server default; u64::MAX or a 0 default -> 0 (never / unlimited)."""
    if value == 0:
        value = default
    return 0 if value in (0, _U64_MAX) else value


def _shrink(node: Node, handles: list[PartitionHandle], max_size: int) -> int:
    deleted = 0
    while sum(h.log.size_bytes for h in handles) >= max_size * 0.9:
        candidates = []
        for h in handles:
            sealed = [s for s in h.log.segments() if s.sealed]
            if sealed:
                candidates.append((sealed[0].start_ts, h))
        progress = False
        for _, h in sorted(candidates, key=lambda c: c[0]):
            if h.log.delete_oldest_segments(1, lowest_stored_offset(node, *h.key)):
                deleted += 1
                progress = True
                break
        if not progress:
            break
    return deleted


def clean_once(node: Node, now_us: int) -> int:
    """One pass over every topic; returns the number of segments deleted."""
    cfg = node.config
    with node.meta.lock:
        topics = [
            (s.id, t.id, effective(t.message_expiry, cfg.topic_message_expiry_us),
             effective(t.max_topic_size, cfg.topic_max_size))
            for s in node.meta.machine.streams()
            for t in s.topics.values()
        ]
    deleted = 0
    for stream_id, topic_id, expiry, max_size in topics:
        handles = node.partitions.of_topic(stream_id, topic_id)
        if expiry:
            for h in handles:
                deleted += h.log.expire(now_us, expiry, lowest_stored_offset(node, *h.key))
        if max_size:
            deleted += _shrink(node, handles, max_size)
    return deleted


async def run_cleaner(node: Node) -> None:
    from whippet.node.clock import now_us

    interval = node.config.retention_interval_ms / 1000
    while True:
        await asyncio.sleep(interval)
        try:
            n = clean_once(node, now_us())
            if n:
                log.info("message cleaner deleted %d segments", n)
        except Exception:
            log.exception("message cleaner pass failed")
