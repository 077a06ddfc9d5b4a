"""The CLI's transport flags build the client they name (no connection is made)."""

from __future__ import annotations

import pytest

from whippet.cli.__main__ import make_client
from whippet.cli._parser import build_parser
from whippet.sdk.options import NodeAddress


@pytest.mark.parametrize(
    ("flags", "transport", "node"),
    [
        ("--transport ws", "ws", NodeAddress("127.0.0.1", 8092)),
        ("--transport websocket --websocket-server-address h:9", "ws", NodeAddress("h", 9)),
        ("--transport quic", "quic", NodeAddress("127.0.0.1", 8080)),
        ("", "tcp", NodeAddress("127.0.0.1", 8090)),
    ],
)
def test_transport_flags(flags: str, transport: str, node: NodeAddress, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WHIPPET_NODES", "WHIPPET_TRANSPORT", "WHIPPET_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    client = make_client(build_parser().parse_args([*flags.split(), "stream", "list"]))
    assert client.options.transport == transport
    assert client.options.nodes == (node,)
