"""Expiry, size, permission and header spellings of the Iggy CLI."""

from __future__ import annotations

import io

import pytest

from whippet.cli._output import Printer, plain
from whippet.cli._values import (
    expiry_us,
    global_permissions,
    header,
    size_bytes,
    stream_permissions,
)
from whippet.wire._codec import U64_MAX
from whippet.wire.headers import decode_user_headers, encode_user_headers


def test_expiry() -> None:
    assert expiry_us([]) == 0 and expiry_us(["server_default"]) == 0
    assert expiry_us(["never_expire"]) == U64_MAX
    assert expiry_us(["1h", "30min"]) == 5_400_000_000
    assert expiry_us(["15s"]) == 15_000_000 and expiry_us(["2"]) == 2_000_000
    for bad in (["1", "fortnight"], ["h1"], ["soon"]):
        with pytest.raises(ValueError):
            expiry_us(bad)


def test_sizes() -> None:
    assert size_bytes("server_default") == 0 and size_bytes("unlimited") == U64_MAX
    assert size_bytes("10GB") == 10**10 and size_bytes("512MiB") == 512 << 20 and size_bytes("77") == 77
    with pytest.raises(ValueError):
        size_bytes("ten")


def test_permissions() -> None:
    g = global_permissions("m_str,read_streams")
    assert g.manage_streams and g.read_streams and not g.manage_users
    sid, sp = stream_permissions("3#r_str,s_msg")
    assert sid == 3 and sp.read_stream and sp.send_messages and not sp.manage_stream
    with pytest.raises(ValueError):
        global_permissions("fly")
    with pytest.raises(ValueError):
        stream_permissions("dev#r_str")


def test_headers_encode_as_the_sdk_decodes() -> None:
    h = header("trace:string:abc")
    assert decode_user_headers(encode_user_headers([h])) == [h]
    assert header("n:uint32:7")[3] == (7).to_bytes(4, "little")
    for bad in ("nokind", "k:colour:red", "k:int32:x"):
        with pytest.raises(ValueError):
            header(bad)


def test_table_and_json_output() -> None:
    buf = io.StringIO()
    Printer("table", out=buf).table(["A", "Bee"], [(1, "x"), (22, "yy")])
    lines = buf.getvalue().splitlines()
    assert lines[1] == "| A  | Bee |" and lines[3] == "| 1  | x   |"
    assert plain({"p": b"\xff", "t": b"hi"}) == {"p": {"base64": "/w=="}, "t": "hi"}
