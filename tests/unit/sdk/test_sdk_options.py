"""Connection strings, node addresses and durations: what users type, and the errors they get."""

from __future__ import annotations

import pytest

from whippet.sdk.options import NodeAddress, parse_address, parse_connection_string
from whippet.sdk.timeutil import seconds
from whippet.wire.errors import InvalidFormat


def test_connection_string_with_several_nodes() -> None:
    opts = parse_connection_string("whippet://user:p%40ss@h1:8090,h2:9000,h3")
    assert opts.nodes == (NodeAddress("h1", 8090), NodeAddress("h2", 9000), NodeAddress("h3", 8090))
    assert (opts.credentials.username, opts.credentials.password) == ("user", "p@ss")
    assert opts.transport == "tcp"


@pytest.mark.parametrize(
    ("scheme", "transport", "port"),
    [("iggy", "tcp", 8090), ("iggy+quic", "quic", 8080), ("iggy+ws", "ws", 8092), ("whippet+ws", "ws", 8092)],
)
def test_iggy_schemes_pick_the_transport_and_default_port(scheme: str, transport: str, port: int) -> None:
    opts = parse_connection_string(f"{scheme}://a:b@host")
    assert opts.transport == transport
    assert opts.nodes == (NodeAddress("host", port),)


def test_options_and_tokens() -> None:
    opts = parse_connection_string(
        "iggy://pat:SECRET@[::1]:1234?tls=true&tls_domain=x.io&reconnection_retries=5&reconnection_interval=250"
    )
    assert opts.credentials.token == "SECRET" and opts.credentials.present
    assert opts.nodes == (NodeAddress("::1", 1234),)
    assert opts.tls.enabled and opts.tls.domain == "x.io"
    assert opts.backoff.retries == 5 and opts.backoff.initial == 0.25


def test_no_credentials_is_allowed() -> None:
    assert not parse_connection_string("whippet://h1:1").credentials.present


@pytest.mark.parametrize(
    "text",
    ["http://a:b@h", "whippet://a:b@", "whippet://a@h", "whippet://a:b@h:99999", "whippet://a:b@h?tls=maybe",
     "whippet://a:b@h?colour=red"],
)
def test_bad_connection_strings_say_why(text: str) -> None:
    with pytest.raises(InvalidFormat):
        parse_connection_string(text)


def test_addresses() -> None:
    assert parse_address("10.0.0.1:8090") == NodeAddress("10.0.0.1", 8090)
    assert parse_address("node-2", 7) == NodeAddress("node-2", 7)
    assert str(NodeAddress("::1", 5)) == "[::1]:5"
    with pytest.raises(InvalidFormat):
        parse_address(":80")


@pytest.mark.parametrize(("value", "expected"), [(0.5, 0.5), ("5ms", 0.005), ("100us", 1e-4), ("2s", 2.0), ("1m", 60.0)])
def test_durations(value: object, expected: float) -> None:
    assert seconds(value) == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["5 parsecs", "fast", -1, True])
def test_bad_durations(value: object) -> None:
    with pytest.raises(InvalidFormat):
        seconds(value)  # type: ignore[arg-type]
