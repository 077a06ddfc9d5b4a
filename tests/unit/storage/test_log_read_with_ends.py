"""read_with_ends gives the record boundaries a follower needs, across segments."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from whippet.storage.log import LogConfig, PartitionLog
from whippet.wire.batch import encode_record


def _batch(payloads: list[bytes]) -> tuple[bytes, np.ndarray]:
    records = [encode_record(0, p) for p in payloads]
    return b"".join(records), np.cumsum([len(r) for r in records]).astype(np.uint32)


def test_read_with_ends_roundtrips_through_append_stamped(tmp_path: Path) -> None:
    src = PartitionLog.open(tmp_path / "a", LogConfig(segment_size=4096))
    for i in range(12):
        src.append(*_batch([bytes([i]) * (100 + 37 * j) for j in range(5)]), now_us=1000 + i)
    assert src.segments_count > 3
    dst = PartitionLog.open(tmp_path / "b", LogConfig(segment_size=4096))
    offset = 0
    while offset < src.next_offset:
        result, ends = src.read_with_ends(offset, 7)
        assert len(ends) == result.count and int(ends[-1]) == len(result.data)
        dst.append_stamped(result.data, ends)
        offset += result.count
    assert dst.read(0, 1000).data == src.read(0, 1000).data
    src.close()
    dst.close()
    reopened = PartitionLog.open(tmp_path / "a", LogConfig(segment_size=4096))
    result, ends = reopened.read_with_ends(3, 40)  # sealed segments: ends from the index files
    assert result.count == 40 and int(ends[-1]) == len(result.data)
