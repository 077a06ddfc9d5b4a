"""Small file-I/O helpers shared by the storage modules."""

from __future__ import annotations

import os

__all__ = ["pwrite_all"]


def pwrite_all(fd: int, data: memoryview | bytes, position: int) -> None:
    """Write all of ``data`` at ``position``; a short write is continued, not ignored."""
    view = memoryview(data).cast("B")
    done = 0
    total = len(view)
    while done < total:
        written = os.pwrite(fd, view[done:], position + done)
        if written <= 0:
            raise OSError(f"pwrite wrote {written} bytes")
        done += written
