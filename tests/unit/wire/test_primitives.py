"""Reader/Writer, identifiers, consumers, partitioning, polling strategy and permissions."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.wire_samples import PERMS
from whippet.metadata.permissions import ROOT_PERMISSIONS
from whippet.wire.errors import IggyError, InvalidCommand, InvalidFormat
from whippet.wire.permissions import (
    GlobalPermissions,
    Permissions,
    StreamPermissions,
    TopicPermissions,
)
from whippet.wire.primitives import (
    Consumer,
    ConsumerKind,
    Identifier,
    Partitioning,
    PartitioningKind,
    PollingKind,
    PollingStrategy,
    Reader,
    Writer,
    decode_permissions,
    encode_permissions,
)

# --- Reader / Writer -------------------------------------------------------------


def test_reader_reads_little_endian_and_tracks_remaining() -> None:
    data = (
        b"\x01"
        + struct.pack("<H", 0x0203)
        + struct.pack("<I", 0x04050607)
        + struct.pack("<Q", 2**63 + 5)
        + (2**100 + 3).to_bytes(16, "little")
        + struct.pack("<f", 1.5)
    )
    r = Reader(data)
    assert (r.u8(), r.u16(), r.u32(), r.u64(), r.u128(), r.f32()) == (
        1,
        0x0203,
        0x04050607,
        2**63 + 5,
        2**100 + 3,
        1.5,
    )
    assert r.remaining() == 0
    assert r.position == len(data)


@pytest.mark.parametrize(
    "method", ["u8", "u16", "u32", "u64", "u128", "f32", "name8", "str8", "str32"]
)
def test_reader_truncation_is_invalid_command(method: str) -> None:
    with pytest.raises(InvalidCommand):
        getattr(Reader(b""), method)()


def test_reader_truncated_text_and_raw() -> None:
    with pytest.raises(InvalidCommand):
        Reader(b"\x05abc").name8()
    with pytest.raises(InvalidCommand):
        Reader(struct.pack("<I", 10) + b"abc").str32()
    with pytest.raises(InvalidCommand):
        Reader(b"ab").raw(3)


def test_reader_bad_utf8_is_invalid_command() -> None:
    with pytest.raises(InvalidCommand):
        Reader(b"\x02\xc3\x28").name8()
    with pytest.raises(InvalidCommand):
        Reader(struct.pack("<I", 1) + b"\xff").str32()


def test_reader_empty_name_is_invalid_format_but_empty_str8_is_fine() -> None:
    with pytest.raises(InvalidFormat):
        Reader(b"\x00").name8()
    assert Reader(b"\x00").str8() == ""


def test_writer_builds_and_checks_ranges() -> None:
    w = Writer().u8(1).u16(2).u32(3).u64(4).u128(5).f32(0.5).name8("ab").str8("").str32("xyz")
    r = Reader(w.getvalue())
    assert (r.u8(), r.u16(), r.u32(), r.u64(), r.u128(), r.f32()) == (1, 2, 3, 4, 5, 0.5)
    assert (r.name8(), r.str8(), r.str32()) == ("ab", "", "xyz")
    for call in (
        lambda: Writer().u8(256),
        lambda: Writer().u16(-1),
        lambda: Writer().u32(2**32),
        lambda: Writer().u64(2**64),
        lambda: Writer().u128(2**128),
        lambda: Writer().name8("é" * 128),
        lambda: Writer().str8("x" * 256),
    ):
        with pytest.raises(InvalidFormat):
            call()


# --- Identifier ------------------------------------------------------------------


def test_identifier_golden_bytes() -> None:
    assert Identifier(7).encode() == bytes.fromhex("01 04 07 00 00 00")
    assert Identifier("orders").encode() == bytes.fromhex("02 06 6f 72 64 65 72 73")
    assert Identifier(0).encode() == bytes.fromhex("01 04 00 00 00 00")


@pytest.mark.parametrize("value", [0, 7, 2**32 - 1, "a", "orders", "ü" * 127, "x" * 255])
def test_identifier_roundtrip(value: int | str) -> None:
    ident = Identifier(value)
    assert Identifier.decode(Reader(ident.encode())) == ident
    assert ident.is_numeric == isinstance(value, int)


@pytest.mark.parametrize("value", [-1, 2**32, "", "x" * 256, "é" * 128, 1.5, True])
def test_identifier_validation_is_invalid_format(value: object) -> None:
    with pytest.raises(InvalidFormat):
        Identifier(value)  # type: ignore[arg-type]


def test_identifier_parse_like_iggy_from_str() -> None:
    assert Identifier.parse("42") == Identifier(42)
    assert Identifier.parse("007") == Identifier(7)
    assert Identifier.parse("+5") == Identifier(5)
    assert Identifier.parse(9) == Identifier(9)
    assert Identifier.parse("orders") == Identifier("orders")
    assert Identifier.parse("4294967296") == Identifier("4294967296")  # beyond u32: a name
    assert Identifier.parse("-1") == Identifier("-1")
    with pytest.raises(InvalidFormat):
        Identifier.parse("")


def test_identifier_decode_errors() -> None:
    with pytest.raises(InvalidFormat):  # numeric length != 4
        Identifier.decode(Reader(bytes.fromhex("01 08 00 00 00 00 00 00 00 00")))
    with pytest.raises(InvalidFormat):  # empty name
        Identifier.decode(Reader(bytes.fromhex("02 00")))
    with pytest.raises(InvalidCommand):  # unknown kind
        Identifier.decode(Reader(bytes.fromhex("03 04 00 00 00 00")))
    with pytest.raises(InvalidCommand):  # short value wins over the bad length (read first)
        Identifier.decode(Reader(bytes.fromhex("01 05 00 00")))
    with pytest.raises(InvalidCommand):  # bad UTF-8
        Identifier.decode(Reader(bytes.fromhex("02 01 ff")))
    for cut in range(6):
        with pytest.raises(InvalidCommand):
            Identifier.decode(Reader(Identifier(7).encode()[:cut]))


# --- Consumer, partitioning, polling ----------------------------------------------


def test_consumer_golden_and_roundtrip() -> None:
    c = Consumer.group(Identifier("g"))
    assert c.encode() == bytes.fromhex("02 02 01 67")
    assert Consumer.decode(Reader(c.encode())) == c
    assert Consumer.consumer(5) == Consumer(ConsumerKind.CONSUMER, Identifier(5))
    with pytest.raises(InvalidCommand):
        Consumer.decode(Reader(bytes.fromhex("00 01 04 05 00 00 00")))


def test_partitioning_golden() -> None:
    assert Partitioning.balanced().encode() == bytes.fromhex("01 00")
    assert Partitioning.partition_id(3).encode() == bytes.fromhex("02 04 03 00 00 00")
    assert Partitioning.messages_key(b"ab").encode() == bytes.fromhex("03 02 61 62")
    assert Partitioning.messages_key("ab") == Partitioning.messages_key(b"ab")
    assert Partitioning.partition_id(3).partition == 3


@pytest.mark.parametrize(
    "sample",
    [
        Partitioning.balanced(),
        Partitioning.partition_id(2**32 - 1),
        Partitioning.messages_key(b"k" * 255),
    ],
)
def test_partitioning_roundtrip(sample: Partitioning) -> None:
    decoded = Partitioning.decode(Reader(sample.encode()))
    assert decoded == sample
    assert isinstance(decoded.kind, PartitioningKind)


@pytest.mark.parametrize(
    "raw", ["01 01 00", "02 03 00 00 00", "02 05 00 00 00 00 00", "03 00", "04 00", "00 00"]
)
def test_bad_partitioning_is_invalid_command(raw: str) -> None:
    with pytest.raises(InvalidCommand):
        Partitioning.decode(Reader(bytes.fromhex(raw)))


def test_partitioning_construction_checks_lengths() -> None:
    with pytest.raises(InvalidCommand):
        Partitioning.messages_key(b"")
    with pytest.raises(InvalidCommand):
        Partitioning.messages_key(b"k" * 256)
    with pytest.raises(InvalidCommand):
        Partitioning(PartitioningKind.BALANCED, b"x")


def test_polling_strategy_golden_and_errors() -> None:
    s = PollingStrategy.offset(0x0102)
    assert s.encode() == bytes.fromhex("01 02 01 00 00 00 00 00 00")
    assert PollingStrategy.decode(Reader(s.encode())) == s
    assert PollingStrategy.next() == PollingStrategy(PollingKind.NEXT, 0)
    for bad in (0, 6):
        with pytest.raises(InvalidCommand):
            PollingStrategy.decode(Reader(bytes([bad]) + bytes(8)))


# --- permissions (§9.4) -----------------------------------------------------------


def test_permissions_golden_bytes() -> None:
    perms = Permissions(
        global_=GlobalPermissions(manage_servers=True, send_messages=True),
        streams={
            5: StreamPermissions(
                read_stream=True, topics={2: TopicPermissions(poll_messages=True)}
            ),
            1: StreamPermissions(manage_stream=True),
        },
    )
    expected = (
        bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])  # global flags
        + b"\x01"  # has_streams
        + struct.pack("<I", 1) + bytes([1, 0, 0, 0, 0, 0]) + b"\x00"  # stream 1, no topics
        + b"\x01"  # has_next_stream
        + struct.pack("<I", 5) + bytes([0, 1, 0, 0, 0, 0]) + b"\x01"  # stream 5, has topics
        + struct.pack("<I", 2) + bytes([0, 0, 1, 0]) + b"\x00"  # topic 2, last topic
        + b"\x00"  # last stream
    )  # fmt: skip
    assert encode_permissions(perms) == expected
    assert decode_permissions(Reader(expected)) == perms


@pytest.mark.parametrize("perms", [PERMS, ROOT_PERMISSIONS, Permissions()])
def test_permissions_roundtrip_and_truncation(perms: Permissions) -> None:
    encoded = encode_permissions(perms)
    assert decode_permissions(Reader(encoded)) == perms
    for cut in range(len(encoded)):
        with pytest.raises(InvalidCommand):
            decode_permissions(Reader(encoded[:cut]))


def test_permissions_any_nonzero_byte_is_true_and_empty_maps_are_none() -> None:
    decoded = decode_permissions(Reader(bytes([7] * 10) + b"\x00"))
    assert decoded == ROOT_PERMISSIONS
    empty_topics = bytes(10) + b"\x01" + struct.pack("<I", 3) + bytes(6) + b"\x00" + b"\x00"
    assert decode_permissions(Reader(empty_topics)).streams == {3: StreamPermissions(topics=None)}
    assert encode_permissions(Permissions(streams={})) == encode_permissions(
        Permissions(streams=None)
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_decode_to_permissions_or_iggy_error(data: bytes) -> None:
    try:
        perms = decode_permissions(Reader(data))
    except IggyError:
        return
    assert decode_permissions(Reader(encode_permissions(perms))) == perms
