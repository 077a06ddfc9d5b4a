"""SendMessages parsing and validation (§4.3, §4.4), record helpers, polled messages, headers."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whippet.wire import batch as wb
from whippet.wire.batch import (
    INDEX_DTYPE,
    OFFSET_AT,
    TIMESTAMP_AT,
    HeaderKind,
    build_send_messages,
    build_send_payload_from_records,
    decode_user_headers,
    encode_record,
    encode_user_headers,
    gather_u64,
    parse_polled,
    parse_send_messages,
    record_starts,
    scatter_u64,
)
from whippet.wire.errors import IggyError, InvalidCommand, InvalidFormat
from whippet.wire.primitives import Identifier, Partitioning
from whippet.wire.responses import PolledHead

BALANCED = Partitioning.balanced()


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def metadata(count: int) -> bytes:
    return Identifier(1).encode() + Identifier("t").encode() + BALANCED.encode() + u32(count)


def assemble(records: bytes, positions: list[int], *, index: np.ndarray | None = None) -> bytes:
    """A payload with a hand-made index (the builders only make valid ones)."""
    if index is None:
        index = np.zeros(len(positions), dtype=INDEX_DTYPE)
        index["position"] = positions
    meta = metadata(len(index))
    return u32(len(meta)) + meta + index.tobytes() + records


def header(
    *, id: int = 0, offset: int = 0, payload_len: int = 0, headers_len: int = 0, reserved: int = 0
) -> bytes:
    return struct.pack(
        "<Q16sQQQIIQ",
        0,
        id.to_bytes(16, "little"),
        offset,
        0,
        0,
        headers_len,
        payload_len,
        reserved,
    )


def status_of(payload: bytes) -> int:
    with pytest.raises(IggyError) as info:
        parse_send_messages(payload)
    return info.value.status


# --- golden and roundtrip ---------------------------------------------------------


def test_one_message_golden_bytes() -> None:
    payload = build_send_messages(1, "t", BALANCED, [(5, b"hi", b"", 9)])
    expected = (
        bytes.fromhex("0f 00 00 00")  # metadata_length = 6 + 3 + 2 + 4
        + bytes.fromhex("01 04 01 00 00 00")  # stream_id 1
        + bytes.fromhex("02 01 74")  # topic_id "t"
        + bytes.fromhex("01 00")  # balanced
        + bytes.fromhex("01 00 00 00")  # messages_count
        + bytes.fromhex("00 00 00 00 42 00 00 00 00 00 00 00 00 00 00 00")  # index: end = 66
        + bytes(8)  # checksum
        + bytes.fromhex("05") + bytes(15)  # id u128
        + bytes(8) + bytes(8)  # offset, timestamp
        + bytes.fromhex("09 00 00 00 00 00 00 00")  # origin_timestamp
        + bytes.fromhex("00 00 00 00 02 00 00 00")  # user_headers_length, payload_length
        + bytes(8)  # reserved
        + b"hi"
    )  # fmt: skip
    assert payload == expected
    batch = parse_send_messages(expected)
    assert (batch.stream_id, batch.topic_id, batch.partitioning) == (
        Identifier(1),
        Identifier("t"),
        BALANCED,
    )
    assert batch.count == 1
    assert batch.ends.tolist() == [66]
    assert batch.ends.dtype == np.uint32
    assert bytes(batch.records) == expected[-66:]


def test_records_are_a_view_of_the_payload() -> None:
    payload = build_send_messages(
        1, 2, Partitioning.partition_id(3), [(1, b"a", b"", 0), (2, b"bc", b"", 0)]
    )
    batch = parse_send_messages(memoryview(payload))
    assert batch.records.obj is payload
    assert batch.partitioning.partition == 3
    assert batch.starts().tolist() == [0, 65]
    assert batch.ends.tolist() == [65, 131]


def test_metadata_length_may_exceed_its_fields() -> None:
    meta = metadata(1) + b"\xee\xee"
    rec = encode_record(1, b"x")
    index = np.zeros(1, dtype=INDEX_DTYPE)
    index["position"] = [len(rec)]
    batch = parse_send_messages(u32(len(meta)) + meta + index.tobytes() + rec)
    assert batch.ends.tolist() == [65]


def test_last_index_position_is_not_used_for_bounds() -> None:
    rec = encode_record(1, b"x")
    batch = parse_send_messages(assemble(rec + rec, [65, 999]))
    assert batch.ends.tolist() == [65, 130]


def test_fast_path_matches_the_builder() -> None:
    messages = [(i, bytes([i]) * i, b"", 1000 + i) for i in range(1, 20)]
    records = b"".join(encode_record(*m) for m in messages)
    ends = np.cumsum([64 + i for i in range(1, 20)]).astype(np.uint32)
    fast = build_send_payload_from_records(Identifier(1), Identifier(2), BALANCED, records, ends)
    assert fast == build_send_messages(1, 2, BALANCED, messages)


# --- metadata errors (§4.3) ---------------------------------------------------------


def test_short_or_inconsistent_framing_is_invalid_command() -> None:
    good = build_send_messages(1, 2, BALANCED, [(1, b"x", b"", 0)])
    assert status_of(b"\x01\x00") == 3
    assert status_of(u32(1000) + good[4:]) == 3  # metadata_length beyond the payload
    meta = metadata(1000)  # 1000 index entries cannot fit
    assert status_of(u32(len(meta)) + meta + bytes(100)) == 3


@pytest.mark.parametrize(
    "stream_id",
    ["03 04 01 00 00 00", "01 03 01 00 00", "02 00", "01 04 01 00", "02 01 ff"],
    ids=["unknown-kind", "numeric-len-3", "empty-name", "truncated", "bad-utf8"],
)
def test_bad_identifier_in_metadata_is_invalid_identifier(stream_id: str) -> None:
    meta = bytes.fromhex(stream_id)
    assert status_of(u32(len(meta)) + meta) == 6


def test_truncated_topic_identifier_is_invalid_identifier() -> None:
    meta = Identifier(1).encode() + bytes.fromhex("02 05 61")
    assert status_of(u32(len(meta)) + meta + bytes(10)) == 6


@pytest.mark.parametrize("partitioning", ["04 00", "01 01 00", "02 02 00 00", "03 00", "03 05 61"])
def test_bad_partitioning_is_invalid_command(partitioning: str) -> None:
    meta = Identifier(1).encode() + Identifier(2).encode() + bytes.fromhex(partitioning) + u32(1)
    assert status_of(u32(len(meta)) + meta + bytes(16)) == 3


def test_missing_count_is_invalid_command() -> None:
    meta = Identifier(1).encode() + Identifier(2).encode() + BALANCED.encode() + b"\x01\x00"
    assert status_of(u32(len(meta)) + meta) == 3


# --- batch validation (§4.4), one test per rule -----------------------------------

REC = encode_record(1, b"ab")  # 66 bytes


def test_count_zero_is_4009() -> None:
    assert status_of(assemble(REC, [])) == 4009


def test_index_offset_is_4031() -> None:
    index = np.zeros(1, dtype=INDEX_DTYPE)
    index[0] = (1, 66, 0)
    assert status_of(assemble(REC, [], index=index)) == 4031


def test_index_timestamp_is_4032() -> None:
    index = np.zeros(1, dtype=INDEX_DTYPE)
    index[0] = (0, 66, 7)
    assert status_of(assemble(REC, [], index=index)) == 4032


def test_decreasing_index_position_is_10011() -> None:
    assert status_of(assemble(REC * 3, [132, 66, 198])) == 10011
    assert status_of(assemble(REC * 2, [66, 10])) == 10011  # even on the last entry


def test_record_past_the_area_is_4033() -> None:
    assert status_of(assemble(REC * 2, [140, 140])) == 4033


def test_record_shorter_than_a_header_is_4037() -> None:
    assert status_of(assemble(REC * 2, [30, 132])) == 4037
    assert status_of(assemble(REC[:40], [40])) == 4037


def test_record_that_does_not_fit_its_slot_is_4033() -> None:
    lying = header(payload_len=10) + b"ab"  # claims 74 bytes in a 66-byte slot
    assert status_of(assemble(REC + lying, [66, 132])) == 4033


def test_payload_over_64_mb_is_4022() -> None:
    size = wb.MAX_PAYLOAD_SIZE + 1
    record = header(payload_len=size) + bytes(size)
    assert status_of(assemble(record, [len(record)])) == 4022


def test_payload_at_the_limit_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wb, "MAX_PAYLOAD_SIZE", 2)
    assert parse_send_messages(assemble(REC, [66])).count == 1
    monkeypatch.setattr(wb, "MAX_PAYLOAD_SIZE", 1)
    assert status_of(assemble(REC, [66])) == 4022


def test_user_headers_over_100_000_bytes_is_4017() -> None:
    size = wb.MAX_USER_HEADERS_SIZE + 1
    record = header(headers_len=size) + bytes(size)
    assert status_of(assemble(record, [len(record)])) == 4017
    ok = header(headers_len=size - 1) + bytes(size - 1)
    assert parse_send_messages(assemble(ok, [len(ok)])).count == 1


def test_nonzero_reserved_is_4101() -> None:
    assert status_of(assemble(header(reserved=1), [64])) == 4101


def test_decreasing_header_offsets_is_4100() -> None:
    first, second = header(offset=5), header(offset=3)
    assert status_of(assemble(first + second, [64, 128])) == 4100
    assert parse_send_messages(assemble(second + first, [64, 128])).count == 2


def test_records_not_filling_the_area_is_4036() -> None:
    assert status_of(assemble(REC + bytes(10), [76])) == 4036


def test_rules_are_checked_in_reference_order() -> None:
    # Both a non-zero index timestamp (4032) and a bad reserved field (4101): 4032 wins.
    index = np.zeros(1, dtype=INDEX_DTYPE)
    index[0] = (0, 64, 1)
    assert status_of(assemble(header(reserved=1), [], index=index)) == 4032


def test_rules_found_on_any_record_of_a_larger_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    # The single-record cases above take the scalar path; these take the vector one.
    index = np.zeros(2, dtype=INDEX_DTYPE)
    index["position"] = [66, 132]
    index[1]["offset"] = 1
    assert status_of(assemble(REC * 2, [], index=index)) == 4031
    index[1] = (0, 132, 5)
    assert status_of(assemble(REC * 2, [], index=index)) == 4032
    big_headers = header(headers_len=100_001) + bytes(100_001)
    assert status_of(assemble(REC + big_headers, [66, 66 + len(big_headers)])) == 4017
    assert status_of(assemble(REC + header(reserved=9), [66, 130])) == 4101
    assert status_of(assemble(REC + REC + bytes(3), [66, 135])) == 4036
    monkeypatch.setattr(wb, "MAX_PAYLOAD_SIZE", 1)
    assert status_of(assemble(REC * 2, [66, 132])) == 4022


# --- properties ----------------------------------------------------------------------

message = st.tuples(
    st.integers(0, 2**128 - 1),
    st.binary(max_size=40),
    st.binary(max_size=20),
    st.integers(0, 2**64 - 1),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(message, min_size=1, max_size=12))
def test_valid_batches_parse_back(messages: list[tuple[int, bytes, bytes, int]]) -> None:
    batch = parse_send_messages(
        build_send_messages("s", 2, Partitioning.messages_key(b"k"), messages)
    )
    sizes = [64 + len(p) + len(h) for _, p, h, _ in messages]
    assert batch.ends.tolist() == np.cumsum(sizes).tolist()
    head = PolledHead(0, 0, len(messages)).encode()
    _, polled = parse_polled(head + bytes(batch.records))
    assert [(m.id, m.payload, m.user_headers, m.origin_timestamp) for m in polled] == messages


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_iggy_errors(data: bytes) -> None:
    try:
        parse_send_messages(data)
    except IggyError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(message, min_size=1, max_size=4), st.data())
def test_mutated_batches_raise_only_iggy_errors(
    messages: list[tuple[int, bytes, bytes, int]], data: st.DataObject
) -> None:
    payload = bytearray(build_send_messages(1, "t", BALANCED, messages))
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(0, len(payload) - 1))
        payload[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.just(len(payload)), st.integers(0, len(payload))))
    try:
        batch = parse_send_messages(bytes(payload[:cut]))
    except IggyError:
        return
    assert int(batch.ends[-1]) == len(batch.records)


def test_every_truncation_is_rejected() -> None:
    payload = build_send_messages(1, "t", BALANCED, [(1, b"abc", b"", 0), (2, b"", b"", 0)])
    for cut in range(len(payload)):
        with pytest.raises(IggyError):
            parse_send_messages(payload[:cut])


# --- record helpers ---------------------------------------------------------------


def test_scatter_and_gather_stamp_a_whole_batch() -> None:
    payload = build_send_messages(1, 2, BALANCED, [(i, b"x" * i, b"", 0) for i in range(5)])
    batch = parse_send_messages(payload)
    buf = bytearray(batch.records)
    area = np.frombuffer(buf, dtype=np.uint8)
    starts = record_starts(batch.ends)
    scatter_u64(area, starts, OFFSET_AT, np.arange(100, 105))
    scatter_u64(area, starts, TIMESTAMP_AT, 777)
    assert gather_u64(area, starts, OFFSET_AT).tolist() == [100, 101, 102, 103, 104]
    _, polled = parse_polled(PolledHead(0, 104, 5).encode() + bytes(buf))
    assert [(m.offset, m.timestamp, m.payload) for m in polled] == [
        (100 + i, 777, b"x" * i) for i in range(5)
    ]


def test_parse_polled_empty_and_truncated() -> None:
    head, msgs = parse_polled(PolledHead(3, 10, 0).encode())
    assert (head, msgs) == (PolledHead(3, 10, 0), [])
    full = PolledHead(0, 0, 1).encode() + encode_record(1, b"abc", b"")
    for cut in range(len(full)):
        with pytest.raises(InvalidCommand):
            parse_polled(full[:cut])


# --- user headers (§4.2) -------------------------------------------------------------


def test_user_headers_golden_and_roundtrip() -> None:
    items = [(HeaderKind.STRING, b"k", HeaderKind.UINT32, (7).to_bytes(4, "little"))]
    encoded = encode_user_headers(items)
    assert encoded == bytes.fromhex("02 01 00 00 00 6b 0b 04 00 00 00 07 00 00 00")
    assert decode_user_headers(encoded) == items
    assert decode_user_headers(b"") == []


def test_user_headers_validation() -> None:
    with pytest.raises(InvalidFormat):
        encode_user_headers([(0, b"k", 1, b"v")])
    with pytest.raises(InvalidFormat):
        encode_user_headers([(1, b"", 1, b"v")])
    with pytest.raises(InvalidFormat):
        encode_user_headers([(1, b"k", 1, b"v" * 256)])
    with pytest.raises(InvalidFormat):
        decode_user_headers(bytes.fromhex("00 01 00 00 00 6b"))  # kind 0
    with pytest.raises(InvalidFormat):
        decode_user_headers(bytes.fromhex("01 00 00 00 00"))  # empty field
    with pytest.raises(InvalidFormat):
        decode_user_headers(bytes.fromhex("01 01 00 00 00 6b"))  # key without value
    with pytest.raises(InvalidCommand):
        decode_user_headers(bytes.fromhex("01 05 00 00 00 6b"))  # truncated


def _status(call: object) -> int:
    try:
        call()  # type: ignore[operator]
    except IggyError as exc:
        return exc.status
    return 0


@settings(max_examples=400, deadline=None)
@given(message, st.data())
def test_single_record_fast_path_matches_the_vector_path(
    msg: tuple[int, bytes, bytes, int], data: st.DataObject
) -> None:
    payload = bytearray(build_send_messages(1, 2, BALANCED, [msg]))
    index_at = 4 + 18  # metadata: two numeric ids, balanced, count
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(index_at, len(payload) - 1))
        payload[at] = data.draw(st.sampled_from([0, 1, 0x40, 0xFF]))
    # Mostly whole payloads, so that mutations reach the later rules.
    cut = data.draw(st.one_of(st.just(len(payload)), st.integers(index_at + 16, len(payload))))
    view = memoryview(bytes(payload[:cut]))
    records = view[index_at + 16 :]
    scalar = _status(lambda: wb._validate_one(view, index_at, records))
    vector = _status(lambda: wb._validate(view, index_at, 1, records))
    assert scalar == vector
