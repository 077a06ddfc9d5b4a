"""Request codecs: roundtrip, truncation, golden bytes from the protocol reference, bad input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.wire_samples import PERMS, REQUESTS, S, T
from whippet.wire import requests as rq
from whippet.wire.errors import IggyError, InvalidCommand, InvalidFormat
from whippet.wire.primitives import (
    Consumer,
    Identifier,
    PollingKind,
    PollingStrategy,
    encode_permissions,
)
from whippet.wire.table import COMMAND_TABLE

SAMPLE_IDS = [f"{type(r).__name__}-{i}" for i, r in enumerate(REQUESTS)]
REQUEST_TYPES = sorted(
    {spec.request for spec in COMMAND_TABLE.values() if spec.request is not None},
    key=lambda c: c.CODE,
)


def test_every_command_has_a_sample() -> None:
    assert {type(r) for r in REQUESTS} == set(REQUEST_TYPES)


@pytest.mark.parametrize("request_type", REQUEST_TYPES, ids=lambda c: c.__name__)
def test_layout_names_the_fields_in_order(request_type: type[rq.WireStruct]) -> None:
    assert request_type.layout_matches_fields()


@pytest.mark.parametrize("sample", REQUESTS, ids=SAMPLE_IDS)
def test_roundtrip(sample: rq.WireStruct) -> None:
    encoded = sample.encode()
    assert type(sample).decode(encoded) == sample
    assert type(sample).decode(memoryview(encoded)) == sample


@pytest.mark.parametrize("sample", REQUESTS, ids=SAMPLE_IDS)
def test_trailing_bytes_are_tolerated(sample: rq.WireStruct) -> None:
    assert type(sample).decode(sample.encode() + b"\xff\x00\xff") == sample


@pytest.mark.parametrize("sample", REQUESTS, ids=SAMPLE_IDS)
def test_every_truncation_raises_invalid_command(sample: rq.WireStruct) -> None:
    encoded = sample.encode()
    for cut in range(len(encoded)):
        with pytest.raises(InvalidCommand):
            type(sample).decode(encoded[:cut])


# --- golden bytes, built by hand from the protocol reference ----------------------


def test_create_stream_orders() -> None:
    assert rq.CreateStream(name="orders").encode() == bytes.fromhex("06 6f 72 64 65 72 73")


def test_create_topic_offsets_after_the_stream_id() -> None:
    req = rq.CreateTopic(
        stream_id=Identifier(7),
        partitions_count=3,
        compression=2,
        message_expiry=0x0102030405060708,
        max_topic_size=0x1112131415161718,
        replication_factor=1,
        name="ev",
    )
    b = req.encode()
    assert b[:6] == bytes.fromhex("01 04 07 00 00 00")
    tail = b[6:]
    assert tail[0:4] == (3).to_bytes(4, "little")  # partitions_count @+0
    assert tail[4] == 2  # compression @+4
    assert tail[5:13] == (0x0102030405060708).to_bytes(8, "little")  # message_expiry @+5
    assert tail[13:21] == (0x1112131415161718).to_bytes(8, "little")  # max_topic_size @+13
    assert tail[21] == 1  # replication_factor @+21
    assert tail[22:] == b"\x02ev"  # name @+22
    assert len(b) == 6 + 22 + 3


def test_update_topic_offsets_after_the_ids() -> None:
    req = rq.UpdateTopic(
        stream_id=Identifier(1),
        topic_id=Identifier(2),
        compression=1,
        message_expiry=5,
        max_topic_size=6,
        replication_factor=3,
        name="x",
    )
    tail = req.encode()[12:]
    assert tail == b"\x01" + struct.pack("<QQ", 5, 6) + b"\x03" + b"\x01x"


def test_poll_messages_tail_is_19_bytes() -> None:
    req = rq.PollMessages(
        consumer=Consumer.group(Identifier(5)),
        stream_id=Identifier(1),
        topic_id=Identifier("t"),
        partition_id=7,
        strategy=PollingStrategy(PollingKind.TIMESTAMP, 0xAABB),
        count=50,
        auto_commit=True,
    )
    b = req.encode()
    assert b[:7] == bytes.fromhex("02 01 04 05 00 00 00")  # consumer: kind 2 + Id 5
    assert b[7:13] == bytes.fromhex("01 04 01 00 00 00")
    assert b[13:16] == bytes.fromhex("02 01 74")
    tail = b[16:]
    assert len(tail) == 19
    assert tail[0] == 1  # has_partition @+0
    assert tail[1:5] == (7).to_bytes(4, "little")  # partition_id @+1
    assert tail[5] == 2  # strategy kind @+5
    assert tail[6:14] == (0xAABB).to_bytes(8, "little")  # value @+6
    assert tail[14:18] == (50).to_bytes(4, "little")  # count @+14
    assert tail[18] == 1  # auto_commit @+18


def test_poll_without_partition_still_sends_the_u32() -> None:
    req = rq.PollMessages(Consumer.consumer(1), S, T, None, PollingStrategy.first(), 1, False)
    tail = req.encode()[-19:]
    assert tail[:5] == b"\x00\x00\x00\x00\x00"


def test_poll_partition_flag_other_than_one_means_absent() -> None:
    req = rq.PollMessages(Consumer.consumer(1), S, T, 4, PollingStrategy.first(), 1, False)
    b = bytearray(req.encode())
    b[-19] = 2
    assert rq.PollMessages.decode(bytes(b)).partition_id is None


def test_login_user_as_the_sdk_sends_it() -> None:
    req = rq.LoginUser(username="iggy", password="iggy", version="0.10.0", context=None)
    expected = b"\x04iggy" + b"\x04iggy" + struct.pack("<I", 6) + b"0.10.0" + struct.pack("<I", 0)
    assert req.encode() == expected
    assert rq.LoginUser.decode(expected) == req


def test_update_user_with_nothing_to_change() -> None:
    req = rq.UpdateUser(user_id=Identifier(2), username=None, status=None)
    assert req.encode() == bytes.fromhex("01 04 02 00 00 00 00 00")


def test_create_user_permissions_block_has_its_length() -> None:
    block = encode_permissions(PERMS)
    req = rq.CreateUser(username="bob", password="pw", status=1, permissions=PERMS)
    assert req.encode() == b"\x03bob\x02pw\x01\x01" + struct.pack("<I", len(block)) + block


def test_create_user_permissions_length_mismatch_is_invalid_format() -> None:
    block = encode_permissions(PERMS)
    payload = b"\x03bob\x02pw\x01\x01" + struct.pack("<I", len(block) + 1) + block + b"\x00"
    with pytest.raises(InvalidFormat):
        rq.CreateUser.decode(payload)


def test_get_snapshot_file_layout() -> None:
    assert rq.GetSnapshotFile(compression=2, snapshot_types=(1, 6)).encode() == bytes([2, 2, 1, 6])


def test_get_client_is_a_bare_u32() -> None:
    assert rq.GetClient(client_id=0x01020304).encode() == bytes([4, 3, 2, 1])


# --- bad input -------------------------------------------------------------------


def test_unknown_consumer_kind_is_invalid_command() -> None:
    b = bytearray(rq.GetConsumerOffset(Consumer.consumer(1), S, T, None).encode())
    b[0] = 3
    with pytest.raises(InvalidCommand):
        rq.GetConsumerOffset.decode(bytes(b))


def test_unknown_polling_kind_is_invalid_command() -> None:
    b = bytearray(
        rq.PollMessages(Consumer.consumer(1), S, T, None, PollingStrategy.last(), 1, False).encode()
    )
    b[-14] = 6
    with pytest.raises(InvalidCommand):
        rq.PollMessages.decode(bytes(b))


def test_empty_name_is_invalid_format() -> None:
    with pytest.raises(InvalidFormat):
        rq.CreateStream.decode(b"\x00")
    with pytest.raises(InvalidFormat):
        rq.CreateStream(name="").encode()


def test_name_over_255_bytes_cannot_be_encoded() -> None:
    with pytest.raises(InvalidFormat):
        rq.CreateStream(name="x" * 256).encode()


def test_bad_utf8_name_is_invalid_command() -> None:
    with pytest.raises(InvalidCommand):
        rq.CreateStream.decode(b"\x02\xff\xfe")


def test_numeric_id_with_wrong_length_is_invalid_format() -> None:
    with pytest.raises(InvalidFormat):
        rq.GetStream.decode(bytes.fromhex("01 02 07 00"))


def test_fields_out_of_range_cannot_be_encoded() -> None:
    with pytest.raises(InvalidFormat):
        rq.GetClient(client_id=2**32).encode()
    with pytest.raises(InvalidFormat):
        rq.CreatePersonalAccessToken(name="tok", expiry=-1).encode()


# --- properties ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=96))
@pytest.mark.parametrize("request_type", REQUEST_TYPES, ids=lambda c: c.__name__)
def test_random_bytes_raise_only_iggy_errors(
    request_type: type[rq.WireStruct], data: bytes
) -> None:
    try:
        decoded = request_type.decode(data)
    except IggyError:
        return
    # Whatever decodes is a valid value: it encodes, and decodes back to itself.
    assert request_type.decode(decoded.encode()) == decoded


@settings(max_examples=300, deadline=None)
@given(sample=st.sampled_from(REQUESTS), data=st.data())
def test_mutated_encodings_raise_only_iggy_errors(
    sample: rq.WireStruct, data: st.DataObject
) -> None:
    encoded = bytearray(sample.encode())
    if encoded:
        for _ in range(data.draw(st.integers(0, 3))):
            at = data.draw(st.integers(0, len(encoded) - 1))
            encoded[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.just(len(encoded)), st.integers(0, len(encoded))))
    try:
        type(sample).decode(bytes(encoded[:cut]))
    except IggyError:
        pass
