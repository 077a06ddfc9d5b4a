"""Typed header values (protocol §4.2): Python values in, Python values out (sans-IO, shared by SDK, CLI and console).

On the wire a header is a typed key/value pair (``wire.headers``: a kind byte and
little-endian bytes). Callers should not have to pre-encode ``int32(7)`` into four
bytes, so a header mapping may hold plain values, mapped to a kind by their type:

=========  =========================
``str``    string
``bytes``  raw
``bool``   bool
``int``    int64 (uint64 above 2**63-1)
``float``  float64
=========  =========================

or a :class:`HeaderValue` to pick another kind (``HeaderValue.uint32(7)``,
``HeaderValue.float32(0.5)``, ``HeaderValue.int128(...)``). Reading decodes every
kind back to a Python value (:meth:`HeaderValue.value`); the kind is kept, so a
header read and sent again keeps its type. Keys are strings (sent as string-kind
keys, sorted, as Iggy's SDKs do).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Union

from whippet.wire.errors import InvalidFormat
from whippet.wire.headers import HeaderKind, decode_user_headers, encode_user_headers

__all__ = ["HeaderInput", "HeaderValue", "decode_headers", "encode_headers", "header_kind_name"]

_FIXED: dict[HeaderKind, struct.Struct] = {
    HeaderKind.INT8: struct.Struct("<b"),
    HeaderKind.INT16: struct.Struct("<h"),
    HeaderKind.INT32: struct.Struct("<i"),
    HeaderKind.INT64: struct.Struct("<q"),
    HeaderKind.UINT8: struct.Struct("<B"),
    HeaderKind.UINT16: struct.Struct("<H"),
    HeaderKind.UINT32: struct.Struct("<I"),
    HeaderKind.UINT64: struct.Struct("<Q"),
    HeaderKind.FLOAT32: struct.Struct("<f"),
    HeaderKind.FLOAT64: struct.Struct("<d"),
}
_INT128 = (HeaderKind.INT128, HeaderKind.UINT128)


def header_kind_name(kind: int) -> str:
    """``"int32"``, ``"string"``, ...; ``"kind<n>"`` for a kind this SDK does not know."""
    try:
        return HeaderKind(kind).name.lower()
    except ValueError:
        return f"kind{kind}"


@dataclass(frozen=True, slots=True)
class HeaderValue:
    """A header value with its wire kind; build one with the class methods, read ``value``."""

    kind: int
    data: bytes

    NAMES: ClassVar[tuple[str, ...]] = tuple(k.name.lower() for k in HeaderKind)

    @classmethod
    def of(cls, kind: HeaderKind | str | int, value: Any) -> HeaderValue:
        """Encode ``value`` as ``kind`` (a :class:`HeaderKind`, its lower-case name, or its number)."""
        if isinstance(kind, str):
            try:
                kind = HeaderKind[kind.upper()]
            except KeyError:
                raise InvalidFormat(f"unknown header kind {kind!r} (one of {', '.join(cls.NAMES)})") from None
        kind = HeaderKind(kind)
        try:
            if kind == HeaderKind.RAW:
                data = bytes(value)
            elif kind == HeaderKind.STRING:
                data = str(value).encode()
            elif kind == HeaderKind.BOOL:
                data = b"\x01" if value else b"\x00"
            elif kind in _INT128:
                data = int(value).to_bytes(16, "little", signed=kind == HeaderKind.INT128)
            elif kind in (HeaderKind.FLOAT32, HeaderKind.FLOAT64):
                data = _FIXED[kind].pack(float(value))
            else:
                data = _FIXED[kind].pack(int(value))
        except (struct.error, OverflowError, TypeError, ValueError) as exc:
            raise InvalidFormat(f"{value!r} is not a valid {kind.name.lower()} header value: {exc}") from None
        return cls(int(kind), data)

    @classmethod
    def raw(cls, value: bytes) -> HeaderValue:
        return cls.of(HeaderKind.RAW, value)

    @classmethod
    def string(cls, value: str) -> HeaderValue:
        return cls.of(HeaderKind.STRING, value)

    @classmethod
    def boolean(cls, value: bool) -> HeaderValue:
        return cls.of(HeaderKind.BOOL, value)

    @classmethod
    def int32(cls, value: int) -> HeaderValue:
        return cls.of(HeaderKind.INT32, value)

    @classmethod
    def int64(cls, value: int) -> HeaderValue:
        return cls.of(HeaderKind.INT64, value)

    @classmethod
    def uint32(cls, value: int) -> HeaderValue:
        return cls.of(HeaderKind.UINT32, value)

    @classmethod
    def uint64(cls, value: int) -> HeaderValue:
        return cls.of(HeaderKind.UINT64, value)

    @classmethod
    def float32(cls, value: float) -> HeaderValue:
        return cls.of(HeaderKind.FLOAT32, value)

    @classmethod
    def float64(cls, value: float) -> HeaderValue:
        return cls.of(HeaderKind.FLOAT64, value)

    @property
    def kind_name(self) -> str:
        return header_kind_name(self.kind)

    @property
    def value(self) -> str | bytes | bool | int | float:
        """The Python value: str, bytes (raw, or a kind this SDK does not know), bool, int, float."""
        try:
            kind = HeaderKind(self.kind)
        except ValueError:
            return self.data
        if kind == HeaderKind.RAW:
            return self.data
        if kind == HeaderKind.STRING:
            return self.data.decode(errors="replace")
        if kind == HeaderKind.BOOL:
            return self.data != b"\x00"
        if kind in _INT128:
            return int.from_bytes(self.data, "little", signed=kind == HeaderKind.INT128)
        fixed = _FIXED[kind]
        if len(self.data) != fixed.size:
            return self.data  # malformed on the wire: hand back the bytes rather than fail a poll
        return fixed.unpack(self.data)[0]  # type: ignore[no-any-return]

    def __str__(self) -> str:
        value = self.value
        return value.hex() if isinstance(value, bytes) else str(value)


HeaderInput = Union[HeaderValue, str, bytes, bool, int, float]


def _typed(value: HeaderInput) -> HeaderValue:
    if isinstance(value, HeaderValue):
        return value
    if isinstance(value, bool):  # before int: bool is an int subclass
        return HeaderValue.boolean(value)
    if isinstance(value, str):
        return HeaderValue.string(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return HeaderValue.raw(bytes(value))
    if isinstance(value, int):
        return HeaderValue.uint64(value) if value > 2**63 - 1 else HeaderValue.int64(value)
    if isinstance(value, float):
        return HeaderValue.float64(value)
    raise InvalidFormat(f"a header value must be str, bytes, bool, int, float or HeaderValue, not {type(value).__name__}")


def encode_headers(headers: Mapping[str, HeaderInput]) -> bytes:
    """The TLV bytes of a header mapping (keys sorted); empty mapping, empty bytes."""
    return encode_user_headers(
        (HeaderKind.STRING, key.encode(), (v := _typed(value)).kind, v.data) for key, value in sorted(headers.items())
    )


def decode_headers(data: bytes | bytearray | memoryview) -> dict[str, HeaderValue]:
    """The headers of a received message by key (a non-string key is shown as its hex)."""
    out: dict[str, HeaderValue] = {}
    for key_kind, key, kind, value in decode_user_headers(data):
        name = key.decode(errors="replace") if key_kind == HeaderKind.STRING else key.hex()
        out[name] = HeaderValue(kind, value)
    return out
