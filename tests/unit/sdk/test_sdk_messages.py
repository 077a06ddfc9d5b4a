"""Batch encoding must produce exactly what the node's validator accepts, on both paths."""

from __future__ import annotations

import numpy as np
import pytest

from whippet.sdk.messages import EncodedBatch, Message, encode_batch, parse_polled_messages
from whippet.wire import codes
from whippet.wire.batch import build_send_messages, parse_send_messages
from whippet.wire.errors import InvalidMessagesCount
from whippet.wire.framing import RequestReader
from whippet.wire.primitives import Identifier, Partitioning
from whippet.wire.responses import PolledHead


def _payload(batch: EncodedBatch, part: Partitioning = Partitioning.partition_id(3)) -> bytes:
    frame = batch.frame("s", 7, part)
    reader = RequestReader()
    reader.feed(frame)
    f = reader.next_frame()
    assert f is not None and f.code == codes.SEND_MESSAGES
    return bytes(f.payload)


def test_equal_sizes_fast_path_matches_the_reference_encoder() -> None:
    payloads = [bytes([i]) * 10 for i in range(5)]
    batch = encode_batch(payloads)
    ref = build_send_messages(Identifier("s"), Identifier(7), Partitioning.partition_id(3), [(0, p, b"", 0) for p in payloads])
    assert _payload(batch) == ref
    parsed = parse_send_messages(_payload(batch))
    assert parsed.count == 5 and list(parsed.ends) == [74, 148, 222, 296, 370]


def test_mixed_messages_keep_ids_headers_and_timestamps() -> None:
    msgs = [Message(b"a", id=(1 << 100) + 5, user_headers=b"\x02\x01\x00\x00\x00k\x02\x01\x00\x00\x00v",
                    origin_timestamp=9), b"bbb", "ccc"]
    batch = encode_batch(msgs)
    ref = build_send_messages(
        Identifier("s"), Identifier(7), Partitioning.partition_id(3),
        [((1 << 100) + 5, b"a", msgs[0].user_headers, 9), (0, b"bbb", b"", 0), (0, b"ccc", b"", 0)],  # type: ignore[union-attr]
    )
    assert _payload(batch) == ref


def test_producer_ids_are_base_plus_sequence_as_u128() -> None:
    base = 0xABCDEF << 64
    batch = encode_batch([b"x"] * 4, id_base=base, id_start=10)
    area = np.frombuffer(batch.records, dtype=np.uint8).reshape(4, 65)
    ids = [int.from_bytes(bytes(row[8:24]), "little") for row in area]
    assert ids == [base + 10 + i for i in range(4)]
    parse_send_messages(_payload(batch))  # the node accepts it


def test_empty_batch_is_rejected() -> None:
    with pytest.raises(InvalidMessagesCount):
        encode_batch([])


def test_polled_messages_round_trip() -> None:
    records = bytes(encode_batch([Message(b"hello", id=3), b"world!"]).records)
    body = PolledHead(2, 41, 2).encode() + records
    polled = parse_polled_messages(body)
    assert polled.partition_id == 2 and polled.current_offset == 41
    assert [(m.id, m.payload) for m in polled] == [(3, b"hello"), (0, b"world!")]
    assert parse_polled_messages(b"").count == 0
    with pytest.raises(Exception):
        parse_polled_messages(body[:-3])
