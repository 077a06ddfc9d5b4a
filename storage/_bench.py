"""Measure append and read throughput of ``PartitionLog`` (no fsync).

    python -m whippet.storage._bench [--batches 300] [--size 1024] [--count 1000]
                                     [--segment-size 1073741824]

Appends ``batches`` client batches of ``count`` records with ``size``-byte payloads
(ids 0, so random ids are generated; checksums on), then reads everything back in
batches of ``count``. Prints MB/s of record bytes (64-byte headers included).
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from whippet.storage.log import LogConfig, PartitionLog


def client_batch(count: int, size: int) -> tuple[bytes, np.ndarray]:
    header = struct.pack("<Q16sQQQIIQ", 0, bytes(16), 0, 0, 1, 0, size, 0)
    record = header + bytes(range(256)) * (size // 256) + bytes(size % 256)
    ends = np.arange(1, count + 1, dtype=np.uint32) * len(record)
    return record * count, ends


def run(
    batches: int, count: int, size: int, checksum: bool, directory: Path, segment_size: int
) -> None:
    data, ends = client_batch(count, size)
    log = PartitionLog.open(directory, LogConfig(segment_size=segment_size, checksum=checksum))
    try:
        start = time.perf_counter()
        for i in range(batches):
            log.append(data, ends, 1_700_000_000_000_000 + i)
        append_s = time.perf_counter() - start
        total = len(data) * batches
        start = time.perf_counter()
        offset = 0
        read_bytes = 0
        while offset < log.next_offset:
            got = log.read(offset, count)
            read_bytes += len(got.data)
            offset += got.count
        read_s = time.perf_counter() - start
    finally:
        log.close()
    assert read_bytes == total
    mb = total / 1e6
    print(f"checksum={checksum}: {batches} x {count} x {size} B payload, {mb:.0f} MB, "
          f"{log.segments_count} segments")
    print(f"  append {mb / append_s:8.0f} MB/s  ({append_s / batches * 1e3:.2f} ms/batch)")
    print(f"  read   {mb / read_s:8.0f} MB/s  ({read_s / batches * 1e3:.2f} ms/batch)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--segment-size", type=int, default=1 << 30)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    for checksum in (True, False):
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            run(args.batches, args.count, args.size, checksum, Path(tmp), args.segment_size)


if __name__ == "__main__":
    main()
