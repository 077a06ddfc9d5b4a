"""The codec that replaces pickle on the Raft port and in log entries (metadata.raft_wire)."""

from __future__ import annotations

import pickle
import random

import pytest
from pysyncobj.node import TCPNode

from whippet.metadata import raft_wire
from whippet.metadata.raft_wire import DecodeError, dumps, loads

SAMPLES = [
    None, True, False, 0, 1, -1, 2**63, -(2**70), 1.5, "", "héllo", b"", b"\x00\xff" * 40,
    [], (), {}, [1, (2, b"x"), {"k": [None]}],
    {"type": "append_entries", "term": 7, "commit_index": 3, "prevLogIdx": 2, "prevLogTerm": 1,
     "entries": [(b"\x00cmd", 3, 7), (b"\x01", 4, 7)]},
    (b"randkey" * 4, {"type": "response_vote", "term": 9}),
    {"serialized": (b"chunk", True, False)}, ["add", "127.0.0.1:1", "127.0.0.1:1"],
]


@pytest.mark.parametrize("value", SAMPLES)
def test_roundtrip(value: object) -> None:
    assert loads(dumps(value)) == value
    assert type(loads(dumps(value))) is type(value)


def test_a_pysyncobj_node_travels_as_its_address() -> None:
    assert loads(dumps(["add", "10.0.0.1:9", TCPNode("10.0.0.1:9")])) == ["add", "10.0.0.1:9", "10.0.0.1:9"]


def test_anything_else_is_refused_when_encoding() -> None:
    for bad in (object(), {1, 2}, ValueError("x"), lambda: 0):
        with pytest.raises(TypeError):
            dumps(bad)


def test_every_truncation_and_trailing_byte_is_refused() -> None:
    for value in SAMPLES:
        blob = dumps(value)
        for cut in range(len(blob)):
            with pytest.raises(DecodeError):
                loads(blob[:cut])
        with pytest.raises(DecodeError):
            loads(blob + b"N")


def test_a_pickle_is_never_unpickled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (open, (str(marker), "w"))

    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(DecodeError):
            loads(pickle.dumps(Evil(), protocol=protocol))
    assert not marker.exists()


def test_oversized_counts_depth_and_garbage_fail_fast() -> None:
    with pytest.raises(DecodeError):
        loads(b"l" + b"\xff\xff\xff\xff\x0f")  # a count of 2**32 in a 6-byte frame
    with pytest.raises(DecodeError):
        loads(b"l\x01" * (raft_wire.MAX_DEPTH + 2) + b"N")
    with pytest.raises(DecodeError):
        loads(b"s\x02\xff\xfe")
    with pytest.raises(DecodeError):
        loads(b"m\x01l\x00N")  # a list as a dict key
    rng = random.Random(7)
    for _ in range(3000):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        try:
            loads(blob)
        except DecodeError:
            pass


def test_legacy_pickled_commands_decode_as_plain_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    regular = pickle.dumps(("_apply_command_v1", (b"\x01{}",), {}))
    assert raft_wire.legacy_command(regular) == ("_apply_command_v1", (b"\x01{}",), {})
    membership = pickle.dumps(["add", "127.0.0.1:5", TCPNode("127.0.0.1:5")])
    assert raft_wire.legacy_command(membership) == ["add", "127.0.0.1:5", "127.0.0.1:5"]
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (open, (str(marker), "w"))

    with pytest.raises(DecodeError):
        raft_wire.legacy_command(pickle.dumps(Evil()))
    assert not marker.exists()
