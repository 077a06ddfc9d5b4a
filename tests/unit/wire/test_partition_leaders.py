"""GET_PARTITION_LEADERS (9001, whippet's own): golden bytes of the request and the answer,
the "no leader" value, and the one invalid request shape (roundtrip and truncation of the
samples run with every other command in test_requests/test_responses)."""

from __future__ import annotations

import struct

import pytest

from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.errors import InvalidCommand, InvalidFormat
from whippet.wire.primitives import Identifier
from whippet.wire.table import COMMAND_TABLE


def test_request_bytes_flag_each_id() -> None:
    assert rq.GetPartitionLeaders().encode() == b"\x00\x00"
    assert rq.GetPartitionLeaders(stream_id=Identifier(7)).encode() == bytes.fromhex("01 01 04 07000000 00")
    both = rq.GetPartitionLeaders(stream_id=Identifier(7), topic_id=Identifier("ev"))
    assert both.encode() == bytes.fromhex("01 01 04 07000000 01 02 02 6576")


def test_empty_payload_is_a_truncation_not_everything() -> None:
    with pytest.raises(InvalidCommand):
        rq.GetPartitionLeaders.decode(b"")


def test_a_topic_without_its_stream_is_invalid() -> None:
    with pytest.raises(InvalidFormat):
        rq.GetPartitionLeaders(topic_id=Identifier(1))
    with pytest.raises(InvalidFormat):
        rq.GetPartitionLeaders.decode(bytes.fromhex("00 01 01 04 01000000"))


def test_table_entry_is_an_authenticated_local_read() -> None:
    spec = COMMAND_TABLE[codes.GET_PARTITION_LEADERS]
    assert spec.request is rq.GetPartitionLeaders and spec.needs_auth and not spec.replicated


def test_answer_bytes() -> None:
    answer = rs.PartitionLeaders(
        node_id=2,
        nodes=[rs.LeaderNode(1, "n1")],
        topics=[rs.TopicLeaders(3, 4, "s", "t", [rs.PartitionLeader(0, 1, 5), rs.PartitionLeader(1, None, 9)])],
    )
    assert answer.encode() == (
        struct.pack("<I", 2)
        + struct.pack("<I", 1) + struct.pack("<II", 1, 2) + b"n1"
        + struct.pack("<I", 1) + struct.pack("<II", 3, 4) + b"\x01s" + b"\x01t"
        + struct.pack("<I", 2) + struct.pack("<IIQ", 0, 1, 5) + struct.pack("<IIQ", 1, 0xFFFFFFFF, 9)
    )  # fmt: skip
    assert list(rs.PartitionLeaders.decode(answer.encode()).entries()) == [(3, 4, 0, 1, 5), (3, 4, 1, None, 9)]


def test_a_negative_leader_is_written_as_none() -> None:
    encoded = rs.PartitionLeader(partition_id=0, leader_node_id=-1, epoch=0).encode()
    assert rs.PartitionLeader.decode(encoded).leader_node_id is None
    assert encoded[4:8] == struct.pack("<I", rs.NO_LEADER)
