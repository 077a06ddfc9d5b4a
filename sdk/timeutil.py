"""Durations as the Rust SDK's builders take them: seconds as a number, or text like ``"5ms"``."""

from __future__ import annotations

import re

from whippet.wire.errors import InvalidFormat

__all__ = ["Duration", "seconds"]

Duration = float | int | str
_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_TEXT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zµ]+)\s*")


def seconds(value: Duration) -> float:
    """``0.005``, ``"5ms"``, ``"100us"``, ``"2s"``, ``"1m"`` -> seconds; anything else is InvalidFormat."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise InvalidFormat(f"a duration cannot be negative: {value}")
        return float(value)
    if isinstance(value, str):
        match = _TEXT.fullmatch(value)
        if match and match.group(2) in _UNITS:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise InvalidFormat(f"not a duration: {value!r} (use seconds or text like '5ms', '2s')")
