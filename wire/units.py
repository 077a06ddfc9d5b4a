"""Human-readable durations and sizes ("7 days", "128 MiB") as Iggy's tools and options spell them.

Shared by the CLI (message expiry and max topic size arguments) and the 0.9 topic
option catalog, which accepts the same words as string values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from whippet.wire._codec import U64_MAX

__all__ = ["expiry_us", "size_bytes"]

_DURATION_UNITS = {
    "us": 1, "usec": 1, "ms": 1_000, "msec": 1_000, "s": 1_000_000, "sec": 1_000_000, "secs": 1_000_000,
    "second": 1_000_000, "seconds": 1_000_000, "m": 60_000_000, "min": 60_000_000, "mins": 60_000_000,
    "minute": 60_000_000, "minutes": 60_000_000, "h": 3_600_000_000, "hr": 3_600_000_000, "hour": 3_600_000_000,
    "hours": 3_600_000_000, "d": 86_400_000_000, "day": 86_400_000_000, "days": 86_400_000_000,
    "w": 604_800_000_000, "week": 604_800_000_000, "weeks": 604_800_000_000,
}
_SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}
_PART = re.compile(r"([0-9]+)\s*([a-z]+)")


def expiry_us(words: Sequence[str]) -> int:
    """Message expiry in µs: 0 = server default, u64::MAX = never."""
    text = " ".join(words).strip().lower()
    if text in ("", "server_default", "default"):
        return 0
    if text in ("never_expire", "never", "unlimited", "none"):
        return U64_MAX
    if text.isdigit():
        return int(text) * 1_000_000  # bare numbers are seconds
    total, pos = 0, 0
    for match in _PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        unit = _DURATION_UNITS.get(match.group(2))
        if unit is None:
            raise ValueError(f"unknown time unit {match.group(2)!r} in {text!r}")
        total += int(match.group(1)) * unit
        pos = match.end()
    if pos != len(text) or total == 0:
        raise ValueError(f"not an expiry: {text!r} (use server_default, never_expire, or e.g. '1h 30min')")
    return total


def size_bytes(text: str) -> int:
    """Max topic size: 0 = server default, u64::MAX = unlimited."""
    t = text.strip().lower().replace(" ", "")
    if t in ("server_default", "default"):
        return 0
    if t in ("unlimited", "none"):
        return U64_MAX
    match = re.fullmatch(r"([0-9]+)([a-z]*)", t)
    if not match or match.group(2) not in ("", *_SIZE_UNITS):
        raise ValueError(f"not a size: {text!r} (use server_default, unlimited, or e.g. 10GB, 512MiB)")
    return int(match.group(1)) * _SIZE_UNITS.get(match.group(2) or "b", 1)
