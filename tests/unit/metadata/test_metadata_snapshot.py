"""Snapshots: exact roundtrip (including id free lists), determinism, corruption."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from tests.unit.metadata.metadata_helpers import PERMS, machine_with_topic, topic_cmd
from whippet.metadata import commands as c
from whippet.metadata.machine import MetadataMachine
from whippet.metadata.snapshot import pack_raft_dump, unpack_raft_dump
from whippet.wire.errors import StateFileCorrupted


def _rich() -> MetadataMachine:
    m = machine_with_topic(nodes=3, partitions=4)
    m.apply(c.CreateStream("s2", 5))
    m.apply(c.CreateStream("s3", 6))
    m.apply(c.DeleteStream(1))  # leaves a freed id
    m.apply(topic_cmd(name="t2", rf=2))
    m.apply(c.DeleteTopic(0, 0))
    m.apply(topic_cmd(name="t3", partitions=2))
    m.apply(c.CreateConsumerGroup(0, 1, "g1"))
    m.apply(c.CreateConsumerGroup(0, 1, "g2"))
    m.apply(c.DeleteConsumerGroup(0, 1, 0))
    m.apply(c.JoinConsumerGroup(0, 1, 1, 2, 77))
    m.apply(c.JoinConsumerGroup(0, 1, 1, 0, 78))
    m.apply(c.ChangePartitionLeader(0, 1, 0, m.partition(0, 1, 0).replicas[1], 0))
    m.apply(c.CreateUser("iggy", "h0", 1, None, 1))
    m.apply(c.CreateUser("u1", "h1", 2, PERMS, 2))
    m.apply(c.CreateUser("u2", "h2", 1, None, 3))
    m.apply(c.DeleteUser(1))
    m.apply(c.CreatePersonalAccessToken(2, "tok", "th", 99))
    m.apply(c.CreatePersonalAccessToken(0, "tok", "th0", 0))
    return m


def test_roundtrip_is_exact() -> None:
    m = _rich()
    data = m.snapshot()
    r = MetadataMachine.restore(data)
    assert r.snapshot() == data
    assert r.state == m.state  # includes the derived name indexes


def test_restored_machine_continues_identically() -> None:
    m = _rich()
    r = MetadataMachine.restore(m.snapshot())
    follow_up = [
        c.CreateStream("new", 9),
        c.CreateStream("new2", 9),
        topic_cmd(name="t4"),
        c.CreateConsumerGroup(0, 1, "g3"),
        c.JoinConsumerGroup(0, 1, 1, 1, 79),
        c.CreateUser("u3", "h", 1, None, 4),
        c.CreateUser("u4", "h", 1, None, 4),
    ]
    for cmd in follow_up:
        assert m.apply(cmd) == r.apply(cmd)
        assert m.events == r.events
    assert m.snapshot() == r.snapshot()
    assert r.stream("new").id == 1 and r.user("u3").id == 1  # freed ids reused after restore
    assert r.pat_by_hash("th") is not None and r.user(0).username == "iggy"


def test_snapshot_is_deterministic_regardless_of_insertion_order() -> None:
    a, b = MetadataMachine(), MetadataMachine()
    for name in ("x", "y"):
        a.apply(c.CreateStream(name, 0))
    b.apply(c.CreateStream("x", 0))
    b.apply(c.CreateStream("y", 0))
    assert a.snapshot() == b.snapshot()
    assert (
        MetadataMachine().snapshot()
        == MetadataMachine.restore(MetadataMachine().snapshot()).snapshot()
    )


def test_every_flipped_byte_is_detected() -> None:
    data = machine_with_topic(nodes=1, partitions=1).snapshot()
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x40
        with pytest.raises(StateFileCorrupted):
            MetadataMachine.restore(bytes(bad))


def test_every_truncation_and_extension_is_detected() -> None:
    data = machine_with_topic().snapshot()
    for n in range(len(data)):
        with pytest.raises(StateFileCorrupted):
            MetadataMachine.restore(data[:n])
    with pytest.raises(StateFileCorrupted):
        MetadataMachine.restore(data + b"\0")


def test_valid_checksum_but_bad_structure_is_detected() -> None:
    body = json.dumps({"streams": "nope"}).encode()
    data = struct.pack("<4sB3sII", b"WHMS", 1, b"\0\0\0", len(body), zlib.crc32(body)) + body
    with pytest.raises(StateFileCorrupted, match="structure"):
        MetadataMachine.restore(data)


def test_raft_dump_roundtrip_and_corruption() -> None:
    snap = _rich().snapshot()
    last, prev = (b"\x00\x80\xffpickled", 12, 3), (b"\x01", 11, 3)
    blob = pack_raft_dump(last, prev, ["b:2", "a:1"], snap)
    assert unpack_raft_dump(blob) == (last, prev, ["a:1", "b:2"], snap)
    for i in range(0, len(blob), 7):
        bad = bytearray(blob)
        bad[i] ^= 1
        with pytest.raises(StateFileCorrupted):
            unpack_raft_dump(bytes(bad))
    for n in (0, 10, len(blob) - 1):
        with pytest.raises(StateFileCorrupted):
            unpack_raft_dump(blob[:n])


def test_raft_dump_with_bad_header_structure() -> None:
    meta = json.dumps({"entries": [["!!", 1, 1]], "cluster": []}).encode()
    head = struct.pack("<4sB3sIII", b"WHRD", 1, b"\0\0\0", len(meta), 0, zlib.crc32(meta))
    with pytest.raises(StateFileCorrupted, match="header"):
        unpack_raft_dump(head + meta)
