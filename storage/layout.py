"""Every on-disk path of the partition data, in one place.

The names follow Iggy 0.8 so a data directory reads the same in both servers:

    <root>/streams/<sid>/topics/<tid>/partitions/<pid>/
        {start_offset:020}.log      message records (see ``storage.record``)
        {start_offset:020}.index    16-byte entries (see ``storage.index``)
        epochs                      leader epochs of this replica (``replication.epochs``)

Stored consumer offsets are not files here (as in Iggy) but replicated metadata,
so they survive a partition leader failover (docs/ARCHITECTURE.md).

Zero-padded start offsets make name order equal offset order, which is what
recovery relies on when it lists a partition directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "INDEX_SUFFIX",
    "LOG_SUFFIX",
    "fsync_dir",
    "index_path",
    "list_segment_starts",
    "log_path",
    "partition_dir",
    "segment_name",
    "stream_dir",
    "topic_dir",
]

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"

#: Consumer kinds as the wire protocol numbers them (§4.7).


def stream_dir(root: Path, stream_id: int) -> Path:
    return Path(root) / "streams" / str(stream_id)


def topic_dir(root: Path, stream_id: int, topic_id: int) -> Path:
    return stream_dir(root, stream_id) / "topics" / str(topic_id)


def partition_dir(root: Path, stream_id: int, topic_id: int, partition_id: int) -> Path:
    return topic_dir(root, stream_id, topic_id) / "partitions" / str(partition_id)


def segment_name(start_offset: int) -> str:
    return f"{start_offset:020}"


def log_path(directory: Path, start_offset: int) -> Path:
    return directory / (segment_name(start_offset) + LOG_SUFFIX)


def index_path(directory: Path, start_offset: int) -> Path:
    return directory / (segment_name(start_offset) + INDEX_SUFFIX)


def list_segment_starts(directory: Path) -> list[int]:
    """Start offsets of every segment that has a .log or an .index file, ascending.

    A segment whose log exists without an index (crash right after creating it)
    still counts: recovery rebuilds the index from the log. Names that do not
    parse are not ours and are ignored.
    """
    starts: set[int] = set()
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        stem, dot, suffix = name.partition(".")
        if not dot or "." + suffix not in (LOG_SUFFIX, INDEX_SUFFIX):
            continue
        if len(stem) == 20 and stem.isdigit():
            starts.add(int(stem))
    return sorted(starts)


def fsync_dir(directory: Path) -> None:
    """Make created, renamed or deleted names in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
