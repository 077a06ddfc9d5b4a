"""Response codecs: roundtrip, truncation, golden offsets, list decoders."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.wire_samples import (
    CLIENT,
    GROUP,
    PARTITION,
    PERMS,
    RESPONSES,
    STATS,
    STREAM,
    TOPIC,
    USER,
)
from whippet.wire import responses as rs
from whippet.wire.errors import IggyError, InvalidCommand, InvalidFormat
from whippet.wire.primitives import encode_permissions

SAMPLE_IDS = [f"{type(r).__name__}-{i}" for i, r in enumerate(RESPONSES)]


@pytest.mark.parametrize("sample", RESPONSES, ids=SAMPLE_IDS)
def test_roundtrip(sample: rs.WireStruct) -> None:
    assert type(sample).decode(sample.encode()) == sample


@pytest.mark.parametrize("sample", RESPONSES, ids=SAMPLE_IDS)
def test_every_truncation_raises_invalid_command(sample: rs.WireStruct) -> None:
    encoded = sample.encode()
    # Details responses whose list runs to the end of the payload are also
    # count-checked; cutting exactly between items is a count mismatch (4).
    for cut in range(len(encoded)):
        with pytest.raises((InvalidCommand, InvalidFormat)) as info:
            type(sample).decode(encoded[:cut])
        if not isinstance(sample, (rs.StreamDetails, rs.TopicDetails)):
            assert isinstance(info.value, InvalidCommand)


def test_stream_response_offsets() -> None:
    b = STREAM.encode()
    assert struct.unpack_from("<I", b, 0)[0] == STREAM.id
    assert struct.unpack_from("<Q", b, 4)[0] == STREAM.created_at
    assert struct.unpack_from("<I", b, 12)[0] == STREAM.topics_count
    assert struct.unpack_from("<Q", b, 16)[0] == STREAM.size_bytes
    assert struct.unpack_from("<Q", b, 24)[0] == STREAM.messages_count
    assert b[32:] == b"\x06orders"


def test_topic_header_offsets() -> None:
    b = TOPIC.encode()
    assert struct.unpack_from("<I", b, 0)[0] == TOPIC.id
    assert struct.unpack_from("<Q", b, 4)[0] == TOPIC.created_at
    assert struct.unpack_from("<I", b, 12)[0] == TOPIC.partitions_count
    assert struct.unpack_from("<Q", b, 16)[0] == TOPIC.message_expiry
    assert b[24] == TOPIC.compression
    assert struct.unpack_from("<Q", b, 25)[0] == TOPIC.max_topic_size
    assert b[33] == TOPIC.replication_factor
    assert struct.unpack_from("<Q", b, 34)[0] == TOPIC.size_bytes
    assert struct.unpack_from("<Q", b, 42)[0] == TOPIC.messages_count
    assert b[50:] == b"\x06events"


def test_partition_response_is_40_bytes() -> None:
    b = PARTITION.encode()
    assert b == struct.pack("<IQIQQQ", 1, 6, 1, 2, 50, 3)
    assert len(b) == 40


def test_user_details_without_permissions_ends_in_four_zero_bytes() -> None:
    b = rs.UserDetails(user=USER, permissions=None).encode()
    assert b == struct.pack("<IQB", 0, 8, 1) + b"\x04iggy" + b"\x00\x00\x00\x00"


def test_user_details_with_permissions() -> None:
    block = encode_permissions(PERMS)
    b = rs.UserDetails(user=USER, permissions=PERMS).encode()
    assert b == USER.encode() + b"\x01" + struct.pack("<I", len(block)) + block


def test_client_response_layout() -> None:
    b = CLIENT.encode()
    assert b[:9] == struct.pack("<IIB", 99, 0xFFFFFFFF, 1)
    assert b[9:13] == struct.pack("<I", len("127.0.0.1:5555"))
    assert b[13:27] == b"127.0.0.1:5555"
    assert b[27:] == struct.pack("<I", 2)
    details = rs.ClientDetails(client=CLIENT, consumer_groups=[(1, 2, 3), (4, 5, 6)]).encode()
    assert details[31:] == struct.pack("<6I", 1, 2, 3, 4, 5, 6)


def test_group_and_member_layout() -> None:
    assert GROUP.encode() == struct.pack("<III", 0, 3, 2) + b"\x07workers"
    assert rs.ConsumerGroupMember(id=1, partitions=[0, 2]).encode() == struct.pack(
        "<IIII", 1, 2, 0, 2
    )


def test_stats_fixed_part_is_108_bytes() -> None:
    b = STATS.encode()
    assert struct.unpack_from("<I", b, 104)[0] == STATS.consumer_groups_count
    assert struct.unpack_from("<I", b, 108)[0] == len("host")
    assert b[112:116] == b"host"
    assert b.endswith(struct.pack("<IQQ", 8, 1000, 2000))


def test_cluster_metadata_layout() -> None:
    meta = rs.ClusterMetadata(
        name="c", nodes=[rs.ClusterNode("n", "ip", 1, 2, 3, 4, role=1, status=3)]
    )
    assert meta.encode() == (
        struct.pack("<I", 1) + b"c" + struct.pack("<I", 1)
        + struct.pack("<I", 1) + b"n" + struct.pack("<I", 2) + b"ip"
        + struct.pack("<HHHHBB", 1, 2, 3, 4, 1, 3)
    )  # fmt: skip


def test_poll_head_is_16_bytes() -> None:
    assert rs.PolledHead(partition_id=2, current_offset=9, count=3).encode() == struct.pack(
        "<IQI", 2, 9, 3
    )


def test_count_mismatch_is_invalid_format() -> None:
    short = rs.StreamDetails(stream=STREAM, topics=[TOPIC]).encode()  # says 2 topics
    with pytest.raises(InvalidFormat):
        rs.StreamDetails.decode(short)
    short = rs.TopicDetails(topic=TOPIC, partitions=[]).encode()  # says 2 partitions
    with pytest.raises(InvalidFormat):
        rs.TopicDetails.decode(short)


@pytest.mark.parametrize(
    ("decode", "items"),
    [
        (rs.decode_streams, [STREAM, STREAM]),
        (rs.decode_topics, [TOPIC]),
        (rs.decode_users, [USER, USER, USER]),
        (rs.decode_clients, [CLIENT]),
        (rs.decode_consumer_groups, [GROUP, GROUP]),
        (
            rs.decode_personal_access_tokens,
            [rs.PersonalAccessTokenInfo("a", 0), rs.PersonalAccessTokenInfo("b", 9)],
        ),
    ],
)
def test_lists_without_prefix(decode: object, items: list[rs.WireStruct]) -> None:
    payload = rs.encode_many(items)
    assert decode(payload) == items  # type: ignore[operator]
    assert decode(b"") == []  # type: ignore[operator]
    with pytest.raises(InvalidCommand):
        decode(payload[:-1])  # type: ignore[operator]


@settings(max_examples=200, deadline=None)
@given(sample=st.sampled_from(RESPONSES), data=st.data())
def test_mutated_responses_raise_only_iggy_errors(
    sample: rs.WireStruct, data: st.DataObject
) -> None:
    encoded = bytearray(sample.encode())
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(encoded) - 1))
        encoded[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.just(len(encoded)), st.integers(0, len(encoded))))
    try:
        type(sample).decode(bytes(encoded[:cut]))
    except IggyError:
        pass
