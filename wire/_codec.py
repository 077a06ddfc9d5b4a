"""Byte-level reading and writing, and the identifier every command carries.

The cursor :class:`Reader` is the only place where a decoder touches raw bytes, so
the mapping of bad input to Iggy status codes lives here once (protocol reference
§1): a truncated buffer and bad UTF-8 raise :class:`InvalidCommand` (3); a failed
validation (empty name, numeric id whose length is not 4) raises
:class:`InvalidFormat` (4). Decoders built on it therefore never leak
``struct.error``, ``IndexError`` or ``UnicodeDecodeError``.

:class:`Identifier` lives here rather than in :mod:`primitives` because
:meth:`Reader.identifier` needs it and both are re-exported from there.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Self

from whippet.wire.errors import IggyError, InvalidCommand, InvalidFormat

__all__ = ["Reader", "Writer", "Identifier", "U32_MAX", "U64_MAX"]

U32_MAX = 0xFFFF_FFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F32 = struct.Struct("<f")

_KIND_NUMERIC = 1
_KIND_STRING = 2
_MAX_NAME = 255
# Rust's `str::parse::<u32>` accepts an optional leading '+' and leading zeros.
_U32_TEXT = re.compile(r"\+?[0-9]+")


class Reader:
    """A cursor over a bytes-like object; every read checks the remaining length."""

    __slots__ = ("_view", "_pos")

    def __init__(self, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        self._view = view
        self._pos = offset

    @property
    def position(self) -> int:
        """Bytes consumed so far (from the start of the buffer)."""
        return self._pos

    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self._view) - self._pos

    def _take(self, n: int) -> int:
        pos = self._pos
        end = pos + n
        if n < 0 or end > len(self._view):
            raise InvalidCommand(
                f"truncated payload: need {n} bytes at offset {pos}, have {len(self._view) - pos}"
            )
        self._pos = end
        return pos

    def u8(self) -> int:
        return self._view[self._take(1)]

    def u16(self) -> int:
        return int(_U16.unpack_from(self._view, self._take(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack_from(self._view, self._take(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self._view, self._take(8))[0])

    def u128(self) -> int:
        pos = self._take(16)
        return int.from_bytes(self._view[pos : pos + 16], "little")

    def f32(self) -> float:
        return float(_F32.unpack_from(self._view, self._take(4))[0])

    def raw(self, n: int) -> memoryview:
        """The next ``n`` bytes as a view (no copy)."""
        pos = self._take(n)
        return self._view[pos : pos + n]

    def skip(self, n: int) -> None:
        self._take(n)

    def utf8(self, n: int) -> str:
        """The next ``n`` bytes decoded as UTF-8."""
        data = self.raw(n)
        try:
            return str(data, "utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidCommand(f"invalid UTF-8 at offset {self._pos - n}") from exc

    def name8(self) -> str:
        """A 1-byte length (1..255) and UTF-8 text; length 0 is a validation error (4)."""
        n = self.u8()
        if n == 0:
            raise InvalidFormat("name must be 1..255 bytes, got 0")
        return self.utf8(n)

    def str8(self) -> str:
        """A 1-byte length and UTF-8 text that may be empty (passwords)."""
        return self.utf8(self.u8())

    def str32(self) -> str:
        """A u32 length and UTF-8 text."""
        return self.utf8(self.u32())

    def identifier(self) -> Identifier:
        return Identifier.decode(self)


def _out_of_range(what: str, value: object) -> IggyError:
    return InvalidFormat(f"{what} out of range: {value!r}")


class Writer:
    """An append-only payload builder; methods return ``self`` so calls chain."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf)

    def _pack(self, st: struct.Struct, value: int | float, what: str) -> Writer:
        try:
            self._buf += st.pack(value)
        except struct.error as exc:
            raise _out_of_range(what, value) from exc
        return self

    def u8(self, value: int) -> Writer:
        if not 0 <= value <= 0xFF:
            raise _out_of_range("u8", value)
        self._buf.append(value)
        return self

    def bool8(self, value: bool) -> Writer:
        self._buf.append(1 if value else 0)
        return self

    def u16(self, value: int) -> Writer:
        return self._pack(_U16, value, "u16")

    def u32(self, value: int) -> Writer:
        return self._pack(_U32, value, "u32")

    def u64(self, value: int) -> Writer:
        return self._pack(_U64, value, "u64")

    def u128(self, value: int) -> Writer:
        try:
            self._buf += value.to_bytes(16, "little")
        except OverflowError as exc:
            raise _out_of_range("u128", value) from exc
        return self

    def f32(self, value: float) -> Writer:
        return self._pack(_F32, value, "f32")

    def raw(self, data: bytes | bytearray | memoryview) -> Writer:
        self._buf += data
        return self

    def name8(self, text: str) -> Writer:
        """Write a 1..255-byte name; anything else is :class:`InvalidFormat`."""
        data = text.encode()
        if not 1 <= len(data) <= _MAX_NAME:
            raise InvalidFormat(f"name must be 1..255 bytes, got {len(data)}")
        self._buf.append(len(data))
        self._buf += data
        return self

    def str8(self, text: str) -> Writer:
        """Write text of 0..255 bytes behind a 1-byte length."""
        data = text.encode()
        if len(data) > _MAX_NAME:
            raise InvalidFormat(f"text must be at most 255 bytes, got {len(data)}")
        self._buf.append(len(data))
        self._buf += data
        return self

    def str32(self, text: str) -> Writer:
        data = text.encode()
        self.u32(len(data))
        self._buf += data
        return self

    def identifier(self, ident: Identifier) -> Writer:
        ident.write(self)
        return self

    def getvalue(self) -> bytes:
        return bytes(self._buf)


@dataclass(frozen=True, slots=True)
class Identifier:
    """A stream/topic/group/user id: a u32 or a 1..255-byte name (protocol §2).

    Construction validates, so an ``Identifier`` always encodes; a bad value raises
    :class:`InvalidFormat`, the code Iggy gives wire validation failures.
    """

    value: int | str

    def __post_init__(self) -> None:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidFormat(f"identifier must be an int or a str, got {type(value).__name__}")
        if isinstance(value, int):
            if not 0 <= value <= U32_MAX:
                raise InvalidFormat(f"numeric identifier out of u32 range: {value}")
        elif not 1 <= len(value.encode()) <= _MAX_NAME:
            raise InvalidFormat("string identifier must be 1..255 bytes")

    @classmethod
    def numeric(cls, value: int) -> Self:
        return cls(value)

    @classmethod
    def named(cls, name: str) -> Self:
        return cls(name)

    @classmethod
    def parse(cls, value: int | str) -> Self:
        """Like Iggy's ``Identifier::from_str``: text that parses as a u32 is numeric.

        This is why an all-digit username is looked up as a user id (protocol §3.1).
        """
        if isinstance(value, str) and _U32_TEXT.fullmatch(value) and int(value) <= U32_MAX:
            return cls(int(value))
        return cls(value)

    @property
    def is_numeric(self) -> bool:
        return isinstance(self.value, int)

    def write(self, w: Writer) -> None:
        value = self.value
        if isinstance(value, int):
            w.u8(_KIND_NUMERIC).u8(4).u32(value)
        else:
            data = value.encode()
            w.u8(_KIND_STRING).u8(len(data)).raw(data)

    def encode(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read kind, length and value, then validate, in the order Iggy's decoder does.

        A short buffer is 3 even when the kind is also bad; an unknown kind is 3;
        numeric length != 4 and an empty name are 4.
        """
        kind = r.u8()
        length = r.u8()
        value = r.raw(length)
        if kind == _KIND_NUMERIC:
            if length != 4:
                raise InvalidFormat(f"numeric identifier must be 4 bytes, got {length}")
            return cls(int.from_bytes(value, "little"))
        if kind == _KIND_STRING:
            if length == 0:
                raise InvalidFormat("string identifier cannot be empty")
            try:
                return cls(str(value, "utf-8"))
            except UnicodeDecodeError as exc:
                raise InvalidCommand("identifier is not valid UTF-8") from exc
        raise InvalidCommand(f"unknown identifier kind {kind}")

    def __str__(self) -> str:
        return str(self.value)
