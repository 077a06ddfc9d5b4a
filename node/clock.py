"""The node's wall clock in Iggy's unit (µs since the Unix epoch), in one place."""

from __future__ import annotations

import time

__all__ = ["now_us"]


def now_us() -> int:
    return time.time_ns() // 1000
