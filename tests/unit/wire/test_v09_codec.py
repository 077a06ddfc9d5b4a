"""The 0.9 codec (``wire.v09``): golden bytes from the protocol reference, roundtrips,
every truncation, oversize input, and the batch conversion to and from stored records."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash

from whippet.storage.record import gather_headers, record_starts, scatter_headers
from whippet.wire.batch import RECORD_DTYPE, RECORD_HEADER_SIZE
from whippet.wire.errors import IggyError
from whippet.wire.headers import HeaderKind
from whippet.wire.primitives import Partitioning
from whippet.wire.v09 import batch as b
from whippet.wire.v09 import options as o
from whippet.wire.v09.header import (
    COMMAND_EVICTION,
    COMMAND_REPLY,
    Eviction,
    FramingError,
    HeaderReader,
    Operation,
    RequestHeader,
    encode_eviction,
    encode_reply,
    is_v09_start,
    pack_version,
    version_accepted,
)
from whippet.wire.v09.requests import decode_login, decode_request

# §1.6: Ping after login, captured from the 0.9.0 SDK (non-zero ranges only).
_PING = bytearray(256)
_PING[48:52] = (256).to_bytes(4, "little")
_PING[60] = 5
_PING[128:144] = bytes.fromhex("a0a26c99791a4c4887d98501532984 78".replace(" ", ""))
_PING[168] = 1
_PING[176] = 2
_PING[184] = 1
_PING[196] = 1

# §2.3: login iggy/iggy body.
_LOGIN = bytes.fromhex("002c0000" "08727573742d73646b" "06302e31312e30" "0469676779" "0469676779" "00000000")


def test_golden_ping_header() -> None:
    h = RequestHeader.decode(bytes(_PING))
    assert (h.size, h.operation, h.request, h.session, h.code) == (256, 2, 1, 1, 1)
    assert h.client == int.from_bytes(_PING[128:144], "little")
    assert h.encode() == bytes(_PING)


def test_golden_login_body_and_checksum() -> None:
    assert xxhash.xxh3_64_intdigest(_LOGIN) == 0x8FDE203C2A3F8095
    login = decode_login(_LOGIN)
    assert (login.protocol_version, login.sdk_name, login.username, login.password) == (
        0x2C00, "rust-sdk", "iggy", "iggy")  # fmt: skip
    pat = b"\x00\x2c\x00\x00\x08rust-sdk\x060.11.0" + bytes([68]) + b"t" * 68 + b"\0\0\0\0"
    assert decode_login(pat).token == "t" * 68
    assert xxhash.xxh3_64_intdigest(b"") == 0x2D06800538D394C2


def test_reply_and_eviction_layout() -> None:
    h = RequestHeader.decode(bytes(_PING))
    reply = encode_reply(h, 10, status=1012, commit=7, op=7)
    assert len(reply) == 256 and reply[60] == COMMAND_REPLY
    assert int.from_bytes(reply[48:52], "little") == 266
    assert reply[160:176] == _PING[128:144] and reply[200] == 1 and reply[208] == 2
    assert int.from_bytes(reply[216:220], "little") == 1012
    assert int.from_bytes(reply[184:192], "little") == 7
    ev = encode_eviction(h, Eviction.INCOMPATIBLE_PROTOCOL)
    assert len(ev) == 256 and ev[60] == COMMAND_EVICTION and ev[255] == 14
    assert int.from_bytes(ev[144:148], "little") == pack_version(0, 11, 0) == 0x2C00
    assert encode_eviction(h, Eviction.INVALID_CREDENTIALS)[144:152] == bytes(8)


def test_version_gate() -> None:
    assert version_accepted(pack_version(0, 11, 0)) and version_accepted(pack_version(0, 11, 7))
    assert not version_accepted(pack_version(0, 12, 0)) and not version_accepted(pack_version(0, 10, 9))


def test_first_bytes_decide_the_protocol() -> None:
    assert is_v09_start(b"\0\0\0") is None
    assert is_v09_start(b"\0\0\0\0") is True
    assert is_v09_start(bytes.fromhex("04000000 01000000".replace(" ", ""))) is False  # 0.8 ping
    assert is_v09_start(b"\x1c\x00\x00\x00&\x00") is False  # 0.8 login


def test_reader_cuts_frames_from_any_split_and_rejects_bad_headers() -> None:
    frame = bytes(_PING[:48]) + (260).to_bytes(4, "little") + bytes(_PING[52:]) + b"body"
    for split in (1, 3, 100, 255, 256, 259):
        r = HeaderReader()
        r.feed(frame[:split])
        first = r.next_frame()
        r.feed(frame[split:])
        got = first or r.next_frame()
        assert got is not None and bytes(got[1]) == b"body" and got[0].size == 260
    for size, command in ((255, 5), (64 << 20 | 1, 5), (256, 8)):
        bad = bytearray(_PING)
        bad[48:52] = size.to_bytes(4, "little")
        bad[60] = command
        r = HeaderReader()
        r.feed(bad)
        with pytest.raises(FramingError):
            r.next_frame()


def test_create_topic_golden_body() -> None:
    body = (b"\x02\x06orders" b"\x01\x00\x00\x00" b"\x06events"
            b"\x02\x1a\x00\x00\x00consumer_offset_durability\x02\x0a\x00\x00\x00replicated"
            b"\x02\x0a\x00\x00\x00durability\x02\x0a\x00\x00\x00replicated")  # fmt: skip
    req = decode_request(302, body)
    assert (req.name, req.partitions_count, req.replication_factor, req.ack) == ("events", 1, 0, "quorum")
    assert [k for k, _, _ in req.options] == ["consumer_offset_durability", "durability"]
    for cut in range(len(body) - 1):  # every truncation raises (an options entry cut short too)
        if cut in (19, 65):
            continue  # after the name or after the first whole option entry: a valid (shorter) body
        with pytest.raises(IggyError):
            decode_request(302, body[:cut])


def test_option_blocks() -> None:
    entries = [("segment_size", HeaderKind.STRING, b"128 MiB"), ("durability", HeaderKind.STRING, b"persisted")]
    block = o.encode_block(entries)
    assert o.decode_block(block) == sorted(entries)
    parsed = o.parse_topic_options(o.decode_block(block))
    assert parsed.ack == "all"
    assert dict((k, v) for k, _, v in parsed.entries)["segment_size"] == (128 << 20).to_bytes(8, "little")
    with pytest.raises(IggyError) as exc:
        o.parse_topic_options([("nope", 2, b"x")])
    assert exc.value.status == 4041
    with pytest.raises(IggyError) as exc:
        o.parse_topic_options([("segment_size", 2, b"2 MiB")], update=True)
    assert exc.value.status == 4041
    with pytest.raises(IggyError) as exc:
        o.parse_topic_options([("segment_size", 2, b"1000")])
    assert exc.value.status == 4042
    with pytest.raises(IggyError) as exc:
        o.decode_block(bytes(100_001))
    assert exc.value.status == 4043
    with pytest.raises(IggyError):
        o.decode_block(block + block)  # duplicate keys
    with pytest.raises(IggyError):
        o.refuse_all([("anything", 2, b"x")], "stream")


def _stamped(body: bytes, stamps: list[int]) -> tuple[np.ndarray, np.ndarray]:
    sb = b.parse_send_messages(body)
    rec = np.frombuffer(sb.records, np.uint8).copy()
    starts = record_starts(sb.ends.astype(np.int64))
    headers, idx = gather_headers(rec, starts)
    headers["offset"] = np.arange(len(starts)) + 100
    headers["timestamp"] = stamps
    scatter_headers(rec, idx, headers)
    return rec, sb.ends


@pytest.mark.parametrize("sizes", [[5, 5, 5, 5], [1, 700, 3, 64, 9]], ids=["uniform", "varied"])
def test_batch_roundtrip_through_stored_records(sizes: list[int]) -> None:
    headers = o.encode_block([("k", HeaderKind.STRING, b"v")])
    msgs = [(i + 1, bytes([i]) * n, headers if i % 2 else b"", 5_000 + 3 * i) for i, n in enumerate(sizes)]
    body = b.encode_send_body("s", "t", Partitioning.partition_id(0), msgs)
    stamps = [7] * 2 + [9] * (len(sizes) - 2)  # two appends: two batch records
    rec, ends = _stamped(body, stamps)
    polled = b.encode_poll_batches(rec, ends, 3)
    assert polled.batches == 2
    got = b.decode_poll_batches(polled.data)
    assert [(m.id, m.payload, m.user_headers, m.origin_timestamp) for m in got] == [
        (i, p, h, ts) for i, p, h, ts in msgs
    ]
    assert [m.offset for m in got] == list(range(100, 100 + len(sizes)))
    assert [m.timestamp for m in got] == stamps
    # The frame checksums the poll carries are what a producer would have computed.
    again = b.parse_send_messages(b.encode_send_body("s", "t", Partitioning.partition_id(0), msgs))
    assert again.count == len(sizes)


def test_batch_rejects_bad_checksums_and_layouts() -> None:
    msgs = [(1, b"hello", b"", 10), (2, b"world", b"", 11)]
    body = bytearray(b.encode_send_body("s", "t", Partitioning.partition_id(0), msgs))
    frames_at = 4 + int.from_bytes(body[:4], "little") + 256
    for at, code in ((frames_at + 50, 4027), (frames_at - 216, 4039), (frames_at - 100, 4101)):
        bad = bytearray(body)
        bad[at] ^= 0xFF
        with pytest.raises(IggyError) as exc:
            b.parse_send_messages(bytes(bad))
        assert exc.value.status == code, at
    for cut in range(len(body) - 1):
        with pytest.raises(IggyError):
            b.parse_send_messages(bytes(body[:cut]))
    assert b.parse_send_messages(bytes(body)).count == 2


def test_golden_send_example() -> None:
    # §5.6: send "hello" (id 1) to partition 0, captured from the SDK.
    header = bytearray(256)
    header[24:32] = bytes.fromhex("254419100b620600")
    header[32:40] = (309).to_bytes(8, "little")
    header[40:48] = bytes.fromhex("43e4e08a3335d63b")
    header[48:52] = (1).to_bytes(4, "little")
    frame = (bytes.fromhex("8e5ca59edbbdbfb9") + (1).to_bytes(16, "little") + bytes(8)
             + bytes(4) + (5).to_bytes(4, "little") + bytes(8) + b"hello")  # fmt: skip
    meta = b"\x02\x06orders\x02\x06events\x02\x04\x00\x00\x00\x00\x01\x00\x00\x00"
    body = len(meta).to_bytes(4, "little") + meta + bytes(header) + frame
    sb = b.parse_send_messages(body)
    assert sb.count == 1 and bytes(sb.records)[64:] == b"hello"
    assert int.from_bytes(bytes(sb.records)[8:24], "little") == 1
    assert int.from_bytes(bytes(sb.records)[40:48], "little") == 0x00_06_62_0B_10_19_44_25
    assert Operation(160).is_metadata is False and Operation(128).result_framed


def _stored(sizes: list[int], stamps: list[int], origins: list[int], seed: int) -> tuple[bytes, np.ndarray]:
    """Records as storage holds them (random ids, checksums, headers bytes), and their ends."""
    rng = np.random.default_rng(seed)
    out = bytearray()
    for i, n in enumerate(sizes):
        head = np.zeros(1, dtype=RECORD_DTYPE)
        head["checksum"], head["id_lo"], head["id_hi"] = rng.integers(0, 2**63, 3, dtype=np.uint64)
        head["offset"], head["timestamp"], head["origin_timestamp"] = 500 + i, stamps[i], origins[i]
        head["user_headers_length"], head["payload_length"] = n // 3, n - n // 3
        out += head.tobytes() + rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return bytes(out), np.cumsum([RECORD_HEADER_SIZE + n for n in sizes]).astype(np.uint32)


@pytest.mark.parametrize("seed", range(40))
def test_the_one_append_fast_path_gives_the_general_bytes(seed: int) -> None:
    """The poll fast path (equal sizes, one append) and the general encoder agree byte for
    byte; polls it does not fit (sizes differ, two appends, origin times too far apart)
    fall back to the general encoder."""
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 60))
    size = int(rng.integers(1, 300))
    origins = (10**12 + rng.integers(0, 10**6, count)).tolist()
    shape = seed % 4
    sizes = [size] * count
    stamps = [77] * count
    if shape == 1 and count > 1:
        sizes[int(rng.integers(0, count))] += 1
    elif shape == 2 and count > 1:
        stamps[count // 2 :] = [78] * (count - count // 2)
    elif shape == 3 and count > 1:
        origins[-1] += 1 << 33
    data, ends = _stored(sizes, stamps, origins, seed)
    area = np.frombuffer(data, dtype=np.uint8)
    fits = shape == 0 or count == 1
    assert (b._one_append(area, ends, 4) is not None) == fits
    fast, general = b.encode_poll_batches(data, ends, 4), b._encode_runs(area, ends, 4)
    assert fast.data == general.data and fast.batches == general.batches
    got = b.decode_poll_batches(fast.data)
    assert [m.offset for m in got] == list(range(500, 500 + count))
    assert [m.origin_timestamp for m in got] == origins
