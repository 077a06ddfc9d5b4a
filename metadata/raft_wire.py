"""The bytes pysyncobj puts on the Raft port and in its log entries: our codec, never pickle.

pysyncobj serializes every Raft message, and every replicated command inside a log
entry, with ``pickle``; a peer that can reach the port and get past its
authentication could make a node run code. :func:`install` rebinds the module-level
``pickle`` name that pysyncobj's ``syncobj`` and ``tcp_connection`` modules call
(``dumps``/``loads``) to this codec, so only plain data ever crosses the port:
``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list``, ``tuple`` and
``dict``. pysyncobj's node objects (in membership-change commands) are written as
their address string, which pysyncobj turns back into a node itself. Anything else
is refused when encoding (a bug) and when decoding (a bad frame).

Format: one tag byte per value, then

=====  =======================================================
``N``  None                       ``T``/``F`` True / False
``i``  int: zigzag LEB128         ``d`` float: 8 bytes LE
``s``  str: len (LEB128) + UTF-8  ``b`` bytes: len + bytes
``l``  list: count + values       ``t`` tuple: count + values
``m``  dict: count + key, value pairs
=====  =======================================================

A frame is one value and nothing after it. Decoding is bounded: nesting depth,
and every length and count is checked against the bytes that remain, so a frame
of N bytes never allocates much more than N.

Also here, because it is the other half of the port: :func:`legacy_command` reads
log entries written by versions that pickled commands (only from the node's own
journal, with an unpickler that can build nothing but plain data).
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any

__all__ = ["DecodeError", "dumps", "loads", "legacy_command", "MAX_DEPTH"]

MAX_DEPTH = 32
_F64 = struct.Struct("<d")


class DecodeError(ValueError):
    """A Raft frame or log entry that is not valid codec bytes."""


def _varint(out: bytearray, n: int) -> None:
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return


def _encode(out: bytearray, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("raft message nested too deeply")
    if value is None:
        out += b"N"
    elif value is True:
        out += b"T"
    elif value is False:
        out += b"F"
    elif isinstance(value, int):
        out += b"i"
        _varint(out, (value << 1) if value >= 0 else ((-value << 1) - 1))
    elif isinstance(value, float):
        out += b"d"
        out += _F64.pack(value)
    elif isinstance(value, str):
        raw = value.encode()
        out += b"s"
        _varint(out, len(raw))
        out += raw
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        out += b"b"
        _varint(out, len(raw))
        out += raw
    elif isinstance(value, (list, tuple)):
        out += b"l" if isinstance(value, list) else b"t"
        _varint(out, len(value))
        for item in value:
            _encode(out, item, depth + 1)
    elif isinstance(value, dict):
        out += b"m"
        _varint(out, len(value))
        for key, item in value.items():
            _encode(out, key, depth + 1)
            _encode(out, item, depth + 1)
    elif hasattr(value, "address") and hasattr(value, "id"):  # a pysyncobj TCPNode
        _encode(out, str(value.address), depth)
    else:
        raise TypeError(f"cannot put a {type(value).__name__} on the Raft port")


def dumps(value: Any) -> bytes:
    out = bytearray()
    _encode(out, value, 0)
    return bytes(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise DecodeError("truncated raft frame")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def varint(self) -> int:
        result = shift = 0
        while True:
            if self.pos >= len(self.data):
                raise DecodeError("truncated varint")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise DecodeError("varint too long")

    def count(self) -> int:
        n = self.varint()
        if n > len(self.data) - self.pos:  # every element takes at least one byte
            raise DecodeError("count larger than the frame")
        return n


def _decode(r: _Reader, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise DecodeError("raft frame nested too deeply")
    tag = r.take(1)
    if tag == b"N":
        return None
    if tag == b"T":
        return True
    if tag == b"F":
        return False
    if tag == b"i":
        z = r.varint()
        return (z >> 1) if not z & 1 else -((z + 1) >> 1)
    if tag == b"d":
        return _F64.unpack(r.take(8))[0]
    if tag == b"s":
        try:
            return r.take(r.count()).decode()
        except UnicodeDecodeError:
            raise DecodeError("invalid UTF-8 in a raft frame") from None
    if tag == b"b":
        return r.take(r.count())
    if tag in (b"l", b"t"):
        items = [_decode(r, depth + 1) for _ in range(r.count())]
        return items if tag == b"l" else tuple(items)
    if tag == b"m":
        out: dict[Any, Any] = {}
        for _ in range(r.count()):
            key = _decode(r, depth + 1)
            if isinstance(key, (list, dict)):
                raise DecodeError("unhashable key in a raft frame")
            out[key] = _decode(r, depth + 1)
        return out
    raise DecodeError(f"unknown tag {tag!r} in a raft frame")


def loads(data: bytes | bytearray | memoryview) -> Any:
    """Decode one value; raises :class:`DecodeError` on anything that is not exactly one."""
    r = _Reader(bytes(data))
    value = _decode(r, 0)
    if r.pos != len(r.data):
        raise DecodeError("trailing bytes after a raft frame")
    return value


class _PlainUnpickler(pickle.Unpickler):
    """Builds containers and scalars only: every global lookup is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("pysyncobj.node", "TCPNode"):
            return _LegacyNode
        raise DecodeError(f"legacy log entry refers to {module}.{name}")


class _LegacyNode:
    """A TCPNode from an old membership command: only its address is kept."""

    def __setstate__(self, state: Any) -> None:
        attrs = state if isinstance(state, dict) else {}
        self.address = str(attrs.get("_TCPNode__address") or attrs.get("_id") or "")


def legacy_command(payload: bytes) -> Any:
    """A command pickled by an older version, from this node's own journal."""
    value = _PlainUnpickler(io.BytesIO(payload)).load()
    if isinstance(value, list):  # membership change: ['add'|'rem', id, node]
        return [item.address if isinstance(item, _LegacyNode) else item for item in value]
    return value
