"""Prometheus metrics of one node (prometheus-client, a registry per Node).

A registry per node, not the global default, so several nodes can live in one
test process. Label values are bounded: command names come from the fixed
command table, transports from a fixed set.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["NodeMetrics"]


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "whippet_requests", "Requests handled, by command", ["command"], registry=self.registry
        )
        self._connections = Gauge(
            "whippet_connected_clients", "Open client connections", registry=self.registry
        )
        self.messages_in = Counter(
            "whippet_messages_in", "Messages appended", registry=self.registry
        )
        self.bytes_in = Counter("whippet_bytes_in", "Message bytes appended", registry=self.registry)
        self.messages_out = Counter("whippet_messages_out", "Messages polled", registry=self.registry)
        self.bytes_out = Counter("whippet_bytes_out", "Message bytes polled", registry=self.registry)

    def request(self, command: str) -> None:
        self._requests.labels(command).inc()

    def connections(self, delta: int) -> None:
        self._connections.inc(delta)

    def render(self) -> bytes:
        return generate_latest(self.registry)
