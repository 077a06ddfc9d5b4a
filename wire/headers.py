"""User headers of a message (protocol §4.2): typed key/value pairs as TLV bytes.

Each pair is ``[key kind u8][key len u32][key][value kind u8][value len u32][value]``.
The server never parses these (it only caps their total size), so this module is
for clients: :func:`encode_user_headers` and :func:`decode_user_headers` apply the
SDK's checks (kind != 0, each field 1..255 bytes, whole pairs, no trailing bytes).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from enum import IntEnum

from whippet.wire._codec import Reader
from whippet.wire.errors import InvalidFormat

__all__ = ["HeaderKind", "UserHeader", "encode_user_headers", "decode_user_headers"]

_TL = struct.Struct("<BI")
_MAX_FIELD = 255


class HeaderKind(IntEnum):
    RAW = 1
    STRING = 2
    BOOL = 3
    INT8 = 4
    INT16 = 5
    INT32 = 6
    INT64 = 7
    INT128 = 8
    UINT8 = 9
    UINT16 = 10
    UINT32 = 11
    UINT64 = 12
    UINT128 = 13
    FLOAT32 = 14
    FLOAT64 = 15


#: ``(key_kind, key, value_kind, value)``; numbers are little-endian bytes.
UserHeader = tuple[int, bytes, int, bytes]


def _check_field(kind: int, data: bytes) -> None:
    if not 1 <= kind <= 0xFF:
        raise InvalidFormat(f"header kind must be 1..255, got {kind}")
    if not 1 <= len(data) <= _MAX_FIELD:
        raise InvalidFormat(f"header field must be 1..255 bytes, got {len(data)}")


def encode_user_headers(items: Iterable[UserHeader]) -> bytes:
    """Encode pairs in the order given (the SDK sends them sorted by key)."""
    out = bytearray()
    for key_kind, key, value_kind, value in items:
        _check_field(key_kind, key)
        _check_field(value_kind, value)
        out += _TL.pack(key_kind, len(key)) + key + _TL.pack(value_kind, len(value)) + value
    return bytes(out)


def decode_user_headers(data: bytes | bytearray | memoryview) -> list[UserHeader]:
    """Decode and validate; truncation is 3, a rule violation is 4."""
    r = Reader(data)
    fields: list[tuple[int, bytes]] = []
    while r.remaining():
        kind = r.u8()
        if kind == 0:
            raise InvalidFormat(f"header kind 0 at offset {r.position - 1}")
        length = r.u32()
        if not 1 <= length <= _MAX_FIELD:
            raise InvalidFormat(f"header field length {length} is not 1..255")
        fields.append((kind, bytes(r.raw(length))))
    if len(fields) % 2:
        raise InvalidFormat("user headers hold an odd number of fields")
    return [
        (fields[i][0], fields[i][1], fields[i + 1][0], fields[i + 1][1])
        for i in range(0, len(fields), 2)
    ]
