"""Command bytes: roundtrip, golden layout, and every kind of bad input."""

from __future__ import annotations

import json

import pytest

from tests.unit.metadata.metadata_helpers import ALL_COMMANDS
from whippet.metadata import commands as c
from whippet.wire.errors import InvalidCommand


def test_every_command_class_is_covered() -> None:
    covered = {type(cmd) for cmd in ALL_COMMANDS}
    assert covered == set(c._COMMANDS.values())


@pytest.mark.parametrize("cmd", ALL_COMMANDS, ids=lambda x: type(x).__name__)
def test_roundtrip(cmd: c.Command) -> None:
    data = cmd.encode()
    assert data[0] == c.FORMAT_VERSION
    back = c.decode_command(data)
    assert back == cmd
    assert back.encode() == data  # canonical: re-encoding gives the same bytes


def test_golden_bytes() -> None:
    assert (
        c.CreateStream("orders", 5).encode()
        == b'\x01{"created_at":5,"name":"orders","op":"CreateStream"}'
    )
    assert (
        c.UpdateUser(3, None, 2).encode()
        == b'\x01{"op":"UpdateUser","status":2,"user_id":3,"username":null}'
    )


def _raw(body: dict[str, object]) -> bytes:
    return b"\x01" + json.dumps(body).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02" + c.CreateStream("a", 1).encode()[1:],  # unknown version
        b"\x00{}",
        b"\x01",
        b"\x01not json",
        b"\x01\xff\xfe",
        b"\x01[1, 2]",
        _raw({"op": "Nope"}),
        _raw({"name": "a", "created_at": 1}),  # no op
        _raw({"op": "CreateStream", "name": "a"}),  # missing field
        _raw({"op": "CreateStream", "name": "a", "created_at": 1, "x": 2}),  # extra field
        _raw({"op": "CreateStream", "name": 5, "created_at": 1}),
        _raw({"op": "CreateStream", "name": "a", "created_at": "1"}),
        _raw({"op": "CreateStream", "name": "a", "created_at": -1}),
        _raw({"op": "CreateStream", "name": "a", "created_at": 1 << 64}),
        _raw({"op": "CreateStream", "name": "a", "created_at": True}),
        _raw({"op": "CreateStream", "name": "a", "created_at": 1.5}),
        _raw({"op": "UpdateUser", "user_id": 1, "username": 3, "status": None}),
        _raw({"op": "UpdatePermissions", "user_id": 1, "permissions": [1]}),
        _raw({"op": "UpdatePermissions", "user_id": 1, "permissions": {"global": 5}}),
        _raw({"op": "RegisterNode", "node": {"id": 1}}),
        _raw({"op": "RegisterNode", "node": "x"}),
    ],
)
def test_bad_bytes_raise_invalid_command(data: bytes) -> None:
    with pytest.raises(InvalidCommand):
        c.decode_command(data)


def test_every_truncation_raises() -> None:
    data = ALL_COMMANDS[11].encode()  # CreateUser with permissions
    for n in range(len(data)):
        with pytest.raises(InvalidCommand):
            c.decode_command(data[:n])
