"""TLS on TCP and WebSocket (and HTTPS when the HTTP transport is present): real handshakes
against certificates from ``whippet.node.certs``, verified by the official SDK and by ours.

Plaintext sent to a TLS port must fail fast on the client side and leave the node serving.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
import time
from pathlib import Path

import pytest
from apache_iggy import IggyClient, PollingStrategy, SendMessage

from whippet.node.certs import DevCerts, make_certs
from whippet.sdk.connection import Connection
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import ConnectionClosed

pytestmark = pytest.mark.asyncio

_LOGIN = rq.LoginUser(username="iggy", password="iggy", version="t", context="")


@pytest.fixture
def certs(tmp_path: Path) -> DevCerts:
    return make_certs(tmp_path / "certs")


@pytest.fixture
def tls_node(node_factory, certs: DevCerts):
    env = {}
    for transport in ("TCP", "WS", "HTTP"):
        env[f"WHIPPET_{transport}_TLS_ENABLED"] = "true"
        env[f"WHIPPET_{transport}_TLS_CERT_FILE"] = str(certs.cert)
        env[f"WHIPPET_{transport}_TLS_KEY_FILE"] = str(certs.key)
    return node_factory("tls", extra_env=env)


def client_context(certs: DevCerts) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs.ca_cert))


async def sdk_round_trip(client: IggyClient) -> None:
    await client.connect()
    await client.login_user("iggy", "iggy")
    await client.ping()
    name = f"s{time.monotonic_ns()}"
    await client.create_stream(name)
    await client.create_topic(name, "t", partitions_count=1)
    await client.send_messages(name, "t", 0, [SendMessage("over tls")])
    polled = await client.poll_messages(name, "t", 0, PollingStrategy.First(), 10, False)
    assert [m.payload() for m in polled] == [b"over tls"]


async def test_official_sdk_over_tcp_tls(tls_node, certs: DevCerts) -> None:
    client = IggyClient.from_connection_string(
        f"iggy://iggy:iggy@127.0.0.1:{tls_node.tcp_port}?tls=true&tls_domain=localhost&tls_ca_file={certs.ca_cert}"
    )
    await asyncio.wait_for(sdk_round_trip(client), 20)


async def test_official_sdk_over_wss_validating(tls_node, certs: DevCerts) -> None:
    client = IggyClient.from_connection_string(
        f"iggy+ws://iggy:iggy@127.0.0.1:{tls_node.ws_port}?tls=true&tls_domain=localhost"
        f"&tls_ca_file={certs.ca_cert}&tls_validate_certificate=true"
    )
    await asyncio.wait_for(sdk_round_trip(client), 20)


async def test_our_connection_over_tcp_tls(tls_node, certs: DevCerts) -> None:
    conn = await Connection.open("127.0.0.1", tls_node.tcp_port, ssl=client_context(certs))
    try:
        assert await conn.request(codes.PING) == b""
        await conn.request(rq.LoginUser.CODE, _LOGIN.encode())
        await conn.request(rq.CreateStream.CODE, rq.CreateStream(name="tls").encode())
    finally:
        await conn.close()


async def test_untrusted_certificate_is_refused(tls_node, tmp_path: Path) -> None:
    other = make_certs(tmp_path / "other-ca")  # a CA the node's certificate does not chain to
    with pytest.raises(ssl.SSLCertVerificationError):
        await Connection.open("127.0.0.1", tls_node.tcp_port, ssl=client_context(other))


async def test_plaintext_to_tls_ports_fails_fast_and_node_keeps_serving(tls_node, certs: DevCerts) -> None:
    from websockets.asyncio.client import connect

    started = time.monotonic()
    conn = await Connection.open("127.0.0.1", tls_node.tcp_port)
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(conn.request(codes.PING), 5)
    await conn.close()
    with pytest.raises(Exception) as caught:  # websockets raises InvalidMessage or ConnectionClosed here
        await asyncio.wait_for(connect(f"ws://127.0.0.1:{tls_node.ws_port}", compression=None), 5)
    assert not isinstance(caught.value, asyncio.TimeoutError)
    assert time.monotonic() - started < 5
    # Still serving TLS clients.
    conn = await Connection.open("127.0.0.1", tls_node.tcp_port, ssl=client_context(certs))
    assert await conn.request(codes.PING) == b""
    await conn.close()


async def test_wss_with_websockets_client(tls_node, certs: DevCerts) -> None:
    from websockets.asyncio.client import connect

    from whippet.wire.framing import encode_request

    async with connect(f"wss://localhost:{tls_node.ws_port}", ssl=client_context(certs), compression=None,
                       host="127.0.0.1") as ws:
        await ws.send(encode_request(codes.PING))
        assert await ws.recv() == b"\x00" * 8


@pytest.mark.skipif(importlib.util.find_spec("whippet.node.transports.http") is None,
                    reason="the HTTP transport is not in this tree")
async def test_https(tls_node, certs: DevCerts) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"https://127.0.0.1:{tls_node.http_port}/ping", ssl=client_context(certs)) as resp:
            assert resp.status == 200
        with pytest.raises(aiohttp.ClientError):  # plaintext HTTP to the HTTPS port
            async with session.get(f"http://127.0.0.1:{tls_node.http_port}/ping",
                                   timeout=aiohttp.ClientTimeout(total=5)) as resp:
                await resp.read()


async def test_self_signed_certificate_when_no_files_are_given(node_factory) -> None:
    node = node_factory("selfsigned", extra_env={"WHIPPET_TCP_TLS_ENABLED": "true"})
    cert = node.data_dir / "tls" / "self-signed.pem"
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = True
    conn = await Connection.open("127.0.0.1", node.tcp_port, ssl=ctx)
    assert await conn.request(codes.PING) == b""
    await conn.close()


async def test_missing_certificate_file_stops_the_node_with_its_name(node_factory, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(RuntimeError, match="nope.pem'?: no such file"):
        node_factory("badtls", extra_env={"WHIPPET_TCP_TLS_ENABLED": "true",
                                          "WHIPPET_TCP_TLS_CERT_FILE": str(missing),
                                          "WHIPPET_TCP_TLS_KEY_FILE": str(missing)})
