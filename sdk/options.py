"""Client settings as data: node addresses, transport, TLS, backoff, and the connection string.

A connection string is ``whippet://user:pass@h1:8090,h2:8090?tls=true`` (``iggy://``
is accepted too, and ``iggy+tcp://`` / ``iggy+quic://`` / ``iggy+ws://`` and their
``whippet+`` spellings pick the transport; with ``tls=true`` WebSocket is ``wss://``). ``pat=TOKEN@...`` logs in with a personal access token instead. Query
parameters: ``tls``, ``tls_domain``, ``tls_ca_file``, ``tls_validate_certificate``,
``reconnection_retries``, ``reconnection_interval`` (ms), ``heartbeat_interval`` are
read; anything else is rejected so a typo is not silently ignored.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field, replace
from typing import Literal, TypedDict

from whippet.wire.errors import InvalidFormat

__all__ = [
    "Backoff",
    "ClientOptions",
    "ClientSettings",
    "Credentials",
    "NodeAddress",
    "TlsOptions",
    "Transport",
    "parse_address",
    "parse_connection_string",
]

Transport = Literal["tcp", "quic", "ws"]
DEFAULT_PORTS: dict[str, int] = {"tcp": 8090, "quic": 8080, "ws": 8092}
_SCHEMES: dict[str, Transport] = {
    "whippet": "tcp",
    "whippet+tcp": "tcp",
    "whippet+quic": "quic",
    "whippet+ws": "ws",
    "iggy": "tcp",
    "iggy+tcp": "tcp",
    "iggy+quic": "quic",
    "iggy+ws": "ws",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True, order=True)
class NodeAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str, default_port: int = DEFAULT_PORTS["tcp"]) -> NodeAddress:
    """``host``, ``host:port`` or ``[v6]:port``; a bad port is :class:`InvalidFormat`."""
    text = text.strip()
    if not text:
        raise InvalidFormat("empty node address")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise InvalidFormat(f"node address {text!r} has no host")
    if not port_text:
        return NodeAddress(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidFormat(f"node address {text!r} has a bad port")
    return NodeAddress(host, int(port_text))


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """TLS for TCP and WebSocket (QUIC is always TLS). ``domain`` defaults to the host connected to."""

    enabled: bool = False
    domain: str = ""
    ca_file: str = ""
    validate_certificate: bool = True


@dataclass(frozen=True, slots=True)
class Backoff:
    """Bounded exponential backoff with jitter, as nats.py does it.

    Attempt ``n`` (0-based) waits ``min(maximum, initial * 2**n) * (1 + jitter * r)``
    with ``r`` uniform in [0, 1). ``retries`` bounds the attempts of one reconnect
    over the whole node pool (0 = fail at once); None retries forever.
    """

    initial: float = 0.1
    maximum: float = 2.0
    jitter: float = 0.5
    retries: int | None = 30

    def delay(self, attempt: int, r: float) -> float:
        base = min(self.maximum, self.initial * (2 ** min(attempt, 32)))
        return base * (1 + self.jitter * r)


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = ""
    password: str = ""
    token: str = ""  # a personal access token; wins over username/password

    @property
    def present(self) -> bool:
        return bool(self.token or self.username)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    nodes: tuple[NodeAddress, ...]
    transport: Transport = "tcp"
    credentials: Credentials = field(default_factory=Credentials)
    tls: TlsOptions = field(default_factory=TlsOptions)
    backoff: Backoff = field(default_factory=Backoff)
    connect_timeout: float = 5.0
    request_timeout: float | None = 30.0
    heartbeat_interval: float = 0.0  # seconds; 0 = no pings
    # Requests that failed on a dead connection are retried this many times after a reconnect.
    request_retries: int = 3
    # Not-leader and other retriable answers (a failover in progress) are retried with backoff this long.
    failover_timeout: float = 15.0
    # Discover the cluster with GET_CLUSTER_METADATA (and partition leaders) after connecting.
    discover: bool = True
    # Seconds between routing refreshes (cluster metadata + partition leaders); 0 = only on events.
    routing_refresh_interval: float = 5.0

    def with_credentials(self, username: str, password: str) -> ClientOptions:
        return replace(self, credentials=Credentials(username, password))


class ClientSettings(TypedDict, total=False):
    """The :class:`ClientOptions` fields a caller may also pass by keyword (``Client(..., **settings)``)."""

    connect_timeout: float
    request_timeout: float | None
    heartbeat_interval: float
    request_retries: int
    failover_timeout: float
    discover: bool
    routing_refresh_interval: float


def _bool(name: str, value: str) -> bool:
    v = value.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise InvalidFormat(f"connection string option {name}={value!r} is not a boolean")


def _number(name: str, value: str) -> int:
    if not value.isdigit():
        raise InvalidFormat(f"connection string option {name}={value!r} is not a number")
    return int(value)


def parse_connection_string(text: str) -> ClientOptions:
    """Parse ``whippet://user:pass@h1:8090,h2:8090?opt=v`` into :class:`ClientOptions`."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise InvalidFormat(f"connection string must start with one of {known}")
    transport = _SCHEMES[scheme.lower()]
    rest, _, query = rest.partition("?")
    userinfo, at, hosts = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    user = urllib.parse.unquote(user)
    password = urllib.parse.unquote(password)
    if not at:
        credentials = Credentials()  # log in later (login_user) or not at all
    elif user == "pat":
        credentials = Credentials(token=password)
    elif not user or not colon:
        raise InvalidFormat("connection string credentials must be user:password (or pat:TOKEN)")
    else:
        credentials = Credentials(user, password)
    default_port = DEFAULT_PORTS[transport]
    nodes = tuple(parse_address(h, default_port) for h in hosts.split(",") if h.strip())
    if not nodes:
        raise InvalidFormat("connection string lists no node")
    opts = ClientOptions(nodes=nodes, transport=transport, credentials=credentials)
    tls = opts.tls
    backoff = opts.backoff
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if name == "tls":
            tls = replace(tls, enabled=_bool(name, value))
        elif name == "tls_domain":
            tls = replace(tls, domain=value)
        elif name == "tls_ca_file":
            tls = replace(tls, ca_file=value)
        elif name == "tls_validate_certificate":
            tls = replace(tls, validate_certificate=_bool(name, value))
        elif name == "reconnection_retries":
            backoff = replace(backoff, retries=None if value == "unlimited" else _number(name, value))
        elif name == "reconnection_interval":
            backoff = replace(backoff, initial=_number(name, value) / 1000)
        elif name == "heartbeat_interval":
            opts = replace(opts, heartbeat_interval=_number(name, value) / 1000)
        else:
            raise InvalidFormat(f"unknown connection string option {name!r}")
    return replace(opts, tls=tls, backoff=backoff)
