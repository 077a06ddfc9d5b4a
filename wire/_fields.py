"""Declarative request layouts: a command is a dataclass plus a list of field codecs.

Every request of §3 is a fixed sequence of fields, so instead of 46 hand-written
``encode``/``decode`` pairs each request class lists ``(name, codec)`` in wire
order and :class:`WireStruct` walks that list both ways. A codec is a pair of
functions ``(read(reader) -> value, write(writer, value))``; the quirks of single
fields (a flag byte before an optional value, a length before the permissions
block) live in the codecs below, each defined once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, ClassVar, Self

from whippet.wire._codec import Identifier, Reader, Writer
from whippet.wire.ack import ACK_LEVELS
from whippet.wire.errors import InvalidCommand, InvalidFormat
from whippet.wire.permissions import Permissions
from whippet.wire.primitives import (
    Consumer,
    PollingStrategy,
    decode_permissions,
    encode_permissions,
)

__all__ = ["Codec", "WireStruct"]

Codec = tuple[Callable[[Reader], Any], Callable[[Writer, Any], Any]]


class WireStruct:
    """Base of the request dataclasses: ``decode``/``encode`` driven by ``LAYOUT``.

    Decoding ignores trailing bytes, as the 0.8 server does (protocol §1).
    """

    __slots__ = ()
    CODE: ClassVar[int]  # set by the request classes only
    LAYOUT: ClassVar[tuple[tuple[str, Codec], ...]] = ()
    #: trailing dataclass fields with defaults that are not on this wire (a later
    #: protocol version's extras, which its own codec fills)
    EXTRA: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(*[codec[0](r) for _, codec in cls.LAYOUT])

    @classmethod
    def decode(cls, payload: bytes | bytearray | memoryview) -> Self:
        return cls.read(Reader(payload))

    def write(self, w: Writer) -> None:
        for name, codec in self.LAYOUT:
            codec[1](w, getattr(self, name))

    def encode(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def layout_matches_fields(cls) -> bool:
        """True when LAYOUT names the dataclass fields in declaration order (a test hook)."""
        names = tuple(f.name for f in fields(cls) if f.name not in cls.EXTRA)  # type: ignore[arg-type]
        return tuple(n for n, _ in cls.LAYOUT) == names


def _write_struct(w: Writer, value: Any) -> None:
    value.write(w)


U8: Codec = (Reader.u8, Writer.u8)
U16: Codec = (Reader.u16, Writer.u16)
U32: Codec = (Reader.u32, Writer.u32)
U64: Codec = (Reader.u64, Writer.u64)
BOOL: Codec = (lambda r: r.u8() != 0, Writer.bool8)
NAME8: Codec = (Reader.name8, Writer.name8)
STR8: Codec = (Reader.str8, Writer.str8)
STR32: Codec = (Reader.str32, Writer.str32)
F32: Codec = (Reader.f32, Writer.f32)
IDENT: Codec = (Identifier.decode, _write_struct)
CONSUMER: Codec = (Consumer.decode, _write_struct)
STRATEGY: Codec = (PollingStrategy.decode, _write_struct)


def _read_opt_partition(r: Reader) -> int | None:
    # Flag then a u32 that is always present; only flag == 1 means "given" (Iggy).
    flag = r.u8()
    value = r.u32()
    return value if flag == 1 else None


def _write_opt_partition(w: Writer, value: int | None) -> None:
    if value is None:
        w.u8(0).u32(0)
    else:
        w.u8(1).u32(value)


OPT_PARTITION: Codec = (_read_opt_partition, _write_opt_partition)


def _read_opt_name8(r: Reader) -> str | None:
    return r.name8() if r.u8() == 1 else None


def _write_opt_name8(w: Writer, value: str | None) -> None:
    if value is None:
        w.u8(0)
    else:
        w.u8(1).name8(value)


OPT_NAME8: Codec = (_read_opt_name8, _write_opt_name8)


def _read_opt_u8(r: Reader) -> int | None:
    return r.u8() if r.u8() == 1 else None


def _write_opt_u8(w: Writer, value: int | None) -> None:
    if value is None:
        w.u8(0)
    else:
        w.u8(1).u8(value)


OPT_U8: Codec = (_read_opt_u8, _write_opt_u8)


def _read_opt_permissions(r: Reader) -> Permissions | None:
    """``has u8`` [+ ``len u32`` + block]; the length must match what the block used."""
    if r.u8() != 1:
        return None
    declared = r.u32()
    start = r.position
    perms = decode_permissions(r)
    if r.position - start != declared:
        raise InvalidFormat(
            f"permissions length mismatch: header says {declared}, decoded {r.position - start}"
        )
    return perms


def _write_opt_permissions(w: Writer, value: Permissions | None) -> None:
    if value is None:
        w.u8(0)
        return
    block = encode_permissions(value)
    w.u8(1).u32(len(block)).raw(block)


OPT_PERMISSIONS: Codec = (_read_opt_permissions, _write_opt_permissions)


def _read_opt_str32(r: Reader) -> str | None:
    # Length 0 means absent (LoginUser version/context).
    n = r.u32()
    return r.utf8(n) if n else None


def _write_opt_str32(w: Writer, value: str | None) -> None:
    w.str32(value or "")


OPT_STR32: Codec = (_read_opt_str32, _write_opt_str32)


def _read_u8_list(r: Reader) -> tuple[int, ...]:
    return tuple(r.raw(r.u8()))


def _write_u8_list(w: Writer, value: tuple[int, ...]) -> None:
    w.u8(len(value)).raw(bytes(value))


U8_LIST: Codec = (_read_u8_list, _write_u8_list)


#: whippet's ack byte is the index here: 0 = "" (the node's default), 1 leader, 2 quorum, 3 all
_ACK_NAMES = ("", *ACK_LEVELS)


def _ack(first: int) -> Codec:
    """An ack level as one byte, ``first``..3 allowed; the value is its name ("" for 0)."""
    allowed = _ACK_NAMES[first:]

    def read(r: Reader) -> str:
        code = r.u8()
        if not first <= code < len(_ACK_NAMES):
            raise InvalidCommand(f"unknown ack level {code}: must be {first}..{len(_ACK_NAMES) - 1}")
        return _ACK_NAMES[code]

    def write(w: Writer, value: str) -> None:
        if value not in allowed:
            raise InvalidFormat(f"ack level must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
        w.u8(_ACK_NAMES.index(value))

    return (read, write)


ACK: Codec = _ack(0)  # a topic's setting: "" = the node's default
EFFECTIVE_ACK: Codec = _ack(1)  # a level in force: never the default


def nested(cls: type[WireStruct]) -> Codec:
    """A nested layout (e.g. the StreamInfo at the head of StreamDetails)."""
    return (cls.read, _write_struct)


def counted(item: Codec) -> Codec:
    """``count u32`` then that many items, as a list."""
    read_item, write_item = item

    def read(r: Reader) -> list[Any]:
        # Every item is at least one byte, so a forged count ends at the first short read.
        return [read_item(r) for _ in range(r.u32())]

    def write(w: Writer, values: list[Any]) -> None:
        w.u32(len(values))
        for value in values:
            write_item(w, value)

    return (read, write)
