"""Request and response framing: chunked input, limits, golden headers."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whippet.wire import codes
from whippet.wire.errors import InvalidCommand
from whippet.wire.framing import (
    MAX_CONTROL_PAYLOAD,
    RequestFrame,
    RequestReader,
    ResponseReader,
    encode_error,
    encode_ok,
    encode_request,
    ok_header,
    request_header,
)


def test_golden_frames() -> None:
    assert encode_request(codes.PING) == bytes.fromhex("04 00 00 00 01 00 00 00")
    assert encode_request(codes.CREATE_STREAM, b"\x01a") == bytes.fromhex(
        "06 00 00 00 ca 00 00 00 01 61"
    )
    assert request_header(codes.SEND_MESSAGES, 10) == struct.pack("<II", 14, 101)
    assert encode_ok() == bytes(8)
    assert ok_header(5) == struct.pack("<II", 0, 5)
    assert encode_ok(b"abc") == struct.pack("<II", 0, 3) + b"abc"
    assert encode_error(1009) == struct.pack("<II", 1009, 0)
    with pytest.raises(ValueError):
        encode_error(0)


def frames(reader: RequestReader) -> list[tuple[int, bytes]]:
    out = []
    while (frame := reader.next_frame()) is not None:
        out.append((frame.code, bytes(frame.payload)))
    return out


def test_several_frames_in_one_chunk() -> None:
    r = RequestReader()
    r.feed(encode_request(1) + encode_request(202, b"\x01a") + encode_request(201)[:5])
    assert frames(r) == [(1, b""), (202, b"\x01a")]
    assert r.buffered() == 5
    r.feed(encode_request(201)[5:])
    assert frames(r) == [(201, b"")]
    assert r.buffered() == 0


def test_byte_at_a_time() -> None:
    stream = encode_request(202, b"\x06orders") + encode_request(1)
    r = RequestReader()
    got = []
    for i in range(len(stream)):
        r.feed(stream[i : i + 1])
        got += frames(r)
    assert got == [(202, b"\x06orders"), (1, b"")]


def test_frame_inside_one_chunk_is_a_view_of_it() -> None:
    chunk = encode_request(202, b"\x06orders")
    r = RequestReader()
    r.feed(chunk)
    frame = r.next_frame()
    assert isinstance(frame, RequestFrame)
    assert frame.payload.obj is chunk  # no copy


def test_mutable_input_is_copied() -> None:
    buf = bytearray(encode_request(202, b"\x01a"))
    r = RequestReader()
    r.feed(buf)
    buf[:] = b"\x00" * len(buf)
    frame = r.next_frame()
    assert frame is not None and bytes(frame.payload) == b"\x01a"


def test_length_below_four_is_rejected_as_soon_as_it_is_read() -> None:
    r = RequestReader()
    r.feed(struct.pack("<I", 3))
    with pytest.raises(InvalidCommand):
        r.next_frame()


def test_oversize_control_frame_is_rejected_at_the_header() -> None:
    r = RequestReader()
    r.feed(request_header(codes.CREATE_STREAM, MAX_CONTROL_PAYLOAD + 1))
    with pytest.raises(InvalidCommand):
        r.next_frame()


def test_control_frame_at_the_limit_is_accepted() -> None:
    r = RequestReader()
    r.feed(request_header(codes.CREATE_STREAM, MAX_CONTROL_PAYLOAD))
    assert r.next_frame() is None
    assert r.pending_header() == (codes.CREATE_STREAM, MAX_CONTROL_PAYLOAD)


def test_send_messages_has_no_frame_cap() -> None:
    payload = b"\x00" * (MAX_CONTROL_PAYLOAD + 10)
    r = RequestReader()
    r.feed(request_header(codes.SEND_MESSAGES, len(payload)))
    assert r.next_frame() is None
    r.feed(payload)
    frame = r.next_frame()
    assert (
        frame is not None
        and frame.code == codes.SEND_MESSAGES
        and len(frame.payload) == len(payload)
    )


def test_one_megabyte_send_in_64k_chunks_is_joined_once() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    wire = encode_request(codes.SEND_MESSAGES, payload)
    r = RequestReader()
    chunks = [wire[at : at + 65536] for at in range(0, len(wire), 65536)]
    for i, chunk in enumerate(chunks[:-1]):
        r.feed(chunk)
        assert r.next_frame() is None
        # White-box: partial input is queued as received, never re-joined per read.
        assert len(r._buf._chunks) == i + 1
    r.feed(chunks[-1])
    frame = r.next_frame()
    assert frame is not None and bytes(frame.payload) == payload
    assert r.buffered() == 0


@settings(max_examples=100, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=40), max_size=6),
    cuts=st.lists(st.integers(1, 50), max_size=30),
)
def test_any_chunking_yields_the_same_frames(payloads: list[bytes], cuts: list[int]) -> None:
    wire = b"".join(encode_request(200 + i, p) for i, p in enumerate(payloads))
    r = RequestReader()
    got: list[tuple[int, bytes]] = []
    at = 0
    for n in [*cuts, len(wire)]:
        r.feed(wire[at : at + n])
        at += n
        got += frames(r)
    assert got == [(200 + i, p) for i, p in enumerate(payloads)]


def test_response_reader() -> None:
    wire = encode_ok(b"hello") + encode_error(40) + encode_ok()
    r = ResponseReader()
    r.feed(wire[:3])
    assert r.next_response() is None
    r.feed(wire[3:10])
    assert r.next_response() is None
    r.feed(wire[10:])
    out = [(s, bytes(p)) for s, p in iter(r.next_response, None)]
    assert out == [(0, b"hello"), (40, b""), (0, b"")]
    assert r.buffered() == 0


def test_response_reader_optional_cap() -> None:
    r = ResponseReader(max_payload=4)
    r.feed(ok_header(5))
    with pytest.raises(InvalidCommand):
        r.next_response()
