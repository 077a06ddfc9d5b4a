"""Before anything starts: is every port this node will listen on free?

A port held by another process used to surface as a traceback from deep inside
the start-up (after the metadata store had already opened). Checking first
turns it into the same one-line error a bad setting gets, naming the port and the
setting that chose it, before any file or thread is opened. The check binds and
closes each port with the options the listeners use (``SO_REUSEADDR`` for TCP, as
asyncio sets it), so a port in TIME_WAIT passes and only a real listener fails.
Port 0 (pick a free one) is not checked.
"""

from __future__ import annotations

import errno
import socket

from whippet.node.config import ConfigError, NodeConfig

__all__ = ["check_ports_free", "listeners"]


def listeners(config: NodeConfig) -> list[tuple[str, int, int, str]]:
    """(setting, port, socket type, host) of every listener the config asks for, with a fixed
    port; the cluster listeners bind ``cluster_host`` (``cluster_bind_host``)."""
    host, cluster = config.host, config.cluster_bind_host
    out: list[tuple[str, int, int, str]] = [("tcp_port", config.tcp_port, socket.SOCK_STREAM, host)]
    if config.http_enabled:
        out.append(("http_port", config.http_port, socket.SOCK_STREAM, host))
    if config.ws_enabled:
        out.append(("ws_port", config.ws_port, socket.SOCK_STREAM, host))
    if config.quic_enabled:
        out.append(("quic_port", config.quic_port, socket.SOCK_DGRAM, host))
    members = config.cluster_members()
    if config.cluster_raft_port:
        out.append(("cluster_raft_port", config.cluster_raft_port, socket.SOCK_STREAM, cluster))
    if members and config.node_id in members:
        port = int(config.replication_address(members[config.node_id]).rpartition(":")[2])
        setting = "cluster_replication_port" if config.cluster_replication_port else "cluster_raft_port + 1"
        out.append((setting, port, socket.SOCK_STREAM, cluster))
    return [entry for entry in out if entry[1]]


def check_ports_free(config: NodeConfig) -> None:
    """Raise :class:`ConfigError` naming the first port another process holds."""
    for setting, port, kind, host in listeners(config):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    proto = "UDP" if kind == socket.SOCK_DGRAM else "TCP"
                    raise ConfigError(
                        f"{setting}={port}: {proto} port {port} on {host} is already in use "
                        "(another whippet-node or program listens there; stop it or choose another port)"
                    ) from None
                if exc.errno == errno.EADDRNOTAVAIL:
                    name = "host" if host == config.host else "cluster_host"
                    raise ConfigError(f"{name}={host!r}: not an address of this machine ({exc.strerror})") from None
                raise ConfigError(f"{setting}={port}: cannot listen on {host}:{port}: {exc.strerror}") from None
