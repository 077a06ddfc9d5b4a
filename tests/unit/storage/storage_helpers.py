"""Build client batches and decode stored records for the storage tests."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import xxhash

HEADER = struct.Struct("<Q16sQQQIIQ")


@dataclass(frozen=True)
class Rec:
    checksum: int
    id: int
    offset: int
    timestamp: int
    origin_timestamp: int
    payload: bytes
    headers: bytes
    reserved: int
    raw: bytes


def batch(
    payloads: list[bytes], ids: list[int] | None = None, headers: list[bytes] | None = None,
    origin: int = 7,
) -> tuple[bytes, np.ndarray]:
    """A SendMessages record area as a client sends it: offset/timestamp/checksum 0."""
    parts: list[bytes] = []
    ends: list[int] = []
    pos = 0
    for i, payload in enumerate(payloads):
        mid = 0 if ids is None else ids[i]
        user = b"" if headers is None else headers[i]
        rec = HEADER.pack(0, mid.to_bytes(16, "little"), 0, 0, origin, len(user), len(payload), 0)
        rec += payload + user
        parts.append(rec)
        pos += len(rec)
        ends.append(pos)
    return b"".join(parts), np.array(ends, dtype=np.uint32)


def payloads(n: int, start: int = 0, size: int = 0) -> list[bytes]:
    """Distinct payloads; ``size`` 0 gives variable small sizes."""
    out = []
    for i in range(start, start + n):
        body = f"message-{i}".encode()
        if size:
            body = (body * (size // len(body) + 1))[:size]
        else:
            body = body * (1 + i % 3)
        out.append(body)
    return out


def parse(data: bytes) -> list[Rec]:
    out: list[Rec] = []
    pos = 0
    while pos < len(data):
        cs, mid, off, ts, origin, hl, pl, res = HEADER.unpack_from(data, pos)
        end = pos + 64 + pl + hl
        assert end <= len(data), "torn record in read result"
        out.append(
            Rec(cs, int.from_bytes(mid, "little"), off, ts, origin,
                data[pos + 64 : pos + 64 + pl], data[pos + 64 + pl : end], res, data[pos:end])
        )
        pos = end
    return out


def checksum_ok(rec: Rec) -> bool:
    return rec.checksum == xxhash.xxh3_64_intdigest(rec.raw[8:])
