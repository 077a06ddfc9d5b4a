"""SET_TOPIC_ACK (9002) and GET_TOPIC_ACK (9003), whippet's own: golden bytes, every ack byte,
and out-of-range values (roundtrip and truncation of the samples run with every other command
in test_requests/test_responses)."""

from __future__ import annotations

import pytest

from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.errors import InvalidCommand, InvalidFormat
from whippet.wire.primitives import Identifier
from whippet.wire.table import COMMAND_TABLE

_IDS = bytes.fromhex("01 04 07000000") + bytes.fromhex("02 02 6576")  # stream 7, topic "ev"


@pytest.mark.parametrize(("byte", "ack"), [(0, ""), (1, "leader"), (2, "quorum"), (3, "all")])
def test_set_request_bytes_for_every_level(byte: int, ack: str) -> None:
    req = rq.SetTopicAck(stream_id=Identifier(7), topic_id=Identifier("ev"), ack=ack)
    assert req.encode() == _IDS + bytes([byte])
    assert rq.SetTopicAck.decode(_IDS + bytes([byte])) == req


def test_get_request_bytes() -> None:
    assert rq.GetTopicAck(stream_id=Identifier(7), topic_id=Identifier("ev")).encode() == _IDS


@pytest.mark.parametrize("byte", [4, 9, 255])
def test_an_unknown_ack_byte_is_invalid_command(byte: int) -> None:
    with pytest.raises(InvalidCommand):
        rq.SetTopicAck.decode(_IDS + bytes([byte]))


def test_the_ack_byte_is_required() -> None:
    with pytest.raises(InvalidCommand):
        rq.SetTopicAck.decode(_IDS)


@pytest.mark.parametrize("ack", ["one", "Quorum", "default", None])
def test_an_unknown_level_name_does_not_encode(ack: object) -> None:
    req = rq.SetTopicAck(stream_id=Identifier(7), topic_id=Identifier("ev"), ack=ack)  # type: ignore[arg-type]
    with pytest.raises(InvalidFormat):
        req.encode()


def test_answer_bytes() -> None:
    assert rs.TopicAck(ack="", effective="quorum").encode() == b"\x00\x02"
    assert rs.TopicAck(ack="all", effective="all").encode() == b"\x03\x03"
    assert rs.TopicAck.decode(b"\x01\x01") == rs.TopicAck(ack="leader", effective="leader")


@pytest.mark.parametrize("answer", [b"\x00\x00", b"\x00\x04", b"\x04\x01", b"\x00"])
def test_a_bad_answer_is_invalid_command(answer: bytes) -> None:
    with pytest.raises(InvalidCommand):
        rs.TopicAck.decode(answer)


def test_an_effective_level_is_never_the_default() -> None:
    with pytest.raises(InvalidFormat):
        rs.TopicAck(ack="", effective="").encode()


def test_table_entries() -> None:
    set_spec, get_spec = COMMAND_TABLE[codes.SET_TOPIC_ACK], COMMAND_TABLE[codes.GET_TOPIC_ACK]
    assert (codes.SET_TOPIC_ACK, codes.GET_TOPIC_ACK) == (9002, 9003)
    assert set_spec.request is rq.SetTopicAck and set_spec.needs_auth and set_spec.replicated
    assert get_spec.request is rq.GetTopicAck and get_spec.needs_auth and not get_spec.replicated
