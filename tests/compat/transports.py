"""Which client transports the official-SDK scenarios run over, and how the SDK names them.

Each transport module that lands adds its name to TRANSPORTS (one line) so every
scenario in test_official_sdk.py runs over it too.
"""

from __future__ import annotations

TRANSPORTS = [
    "tcp",
    "http",
    "ws",
]

_SCHEME = {"tcp": ("iggy", "tcp_port"), "http": ("iggy+http", "http_port"), "ws": ("iggy+ws", "ws_port"),
           "quic": ("iggy+quic", "quic_port")}


def connection_string(node, transport: str, username: str = "iggy", password: str = "iggy") -> str:
    """A 0.8 SDK connection string for ``node`` over ``transport`` (the SDK logs in on connect)."""
    scheme, port_attr = _SCHEME[transport]
    port = getattr(node, port_attr)
    return f"{scheme}://{username}:{password}@127.0.0.1:{port}"
