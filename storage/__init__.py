"""The partition log engine: segments, indexes, recovery, retention, consumer offsets.

Concurrency model: synchronous, single writer per partition. Every call runs on
the caller's thread (the server's event loop) except ``PartitionLog.sync``, the
blocking fsync, which ``storage.flusher`` (the one asyncio module here) runs in an
executor with group commit. See ``storage/README.md`` for the on-disk format and
the recovery rules.
"""

from whippet.storage.flusher import Flusher, IntervalSyncer
from whippet.storage.log import PartitionLog
from whippet.storage.model import AppendResult, LogConfig, ReadResult, SegmentInfo

__all__ = [
    "AppendResult",
    "Flusher",
    "IntervalSyncer",
    "LogConfig",
    "PartitionLog",
    "ReadResult",
    "SegmentInfo",
]
