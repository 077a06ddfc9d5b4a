"""Where each request goes: the cluster as the client last learned it.

Filled from GET_CLUSTER_METADATA (every node with its per-transport ports, role
and status) and, when the node reports it, from partition leadership
(``set_partition_leaders``: (stream, topic, partition) -> node name). A 0.8 node
reports one node and no partition leaders; then :meth:`leader_for` answers None
and the client uses the node it is connected to. When the cluster edition reports
leaders, partition requests go straight to them, and a not-leader answer or a
dead leader drops the entry (:meth:`forget`) until the next refresh.

Pure data: no I/O, so the rules are unit-tested.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from whippet.sdk.options import NodeAddress, Transport
from whippet.wire.responses import ClusterMetadata, ClusterNode

__all__ = ["ROLE_LEADER", "STATUS_HEALTHY", "NodeView", "PartitionKey", "RoutingTable"]

ROLE_LEADER = 0
STATUS_HEALTHY = 0
_ROLES = {0: "leader", 1: "follower"}
_STATUSES = {0: "healthy", 1: "starting", 2: "stopping", 3: "unreachable", 4: "maintenance", 5: "unknown"}

#: (stream, topic, partition); stream and topic as given by the caller (id or name), as text.
PartitionKey = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    address: NodeAddress  # for the client's transport
    role: str
    status: str

    @property
    def usable(self) -> bool:
        return self.status == "healthy"


def _address(node: ClusterNode, transport: Transport) -> NodeAddress:
    port = node.quic_port if transport == "quic" else node.tcp_port
    host = "127.0.0.1" if node.ip in ("localhost", "0.0.0.0", "") else node.ip
    return NodeAddress(host, port)


def partition_key(stream: object, topic: object, partition: int) -> PartitionKey:
    return (str(stream), str(topic), int(partition))


class RoutingTable:
    def __init__(self, transport: Transport = "tcp") -> None:
        self.transport = transport
        self.cluster_name = ""
        self.nodes: dict[str, NodeView] = {}
        self._leaders: dict[PartitionKey, str] = {}
        self.version = 0  # bumped on every change, so callers can tell a refresh happened

    def update(self, metadata: ClusterMetadata) -> None:
        """Replace the node list; partition leaders on nodes that vanished are dropped."""
        self.cluster_name = metadata.name
        self.nodes = {
            n.name: NodeView(
                n.name,
                _address(n, self.transport),
                _ROLES.get(n.role, f"role {n.role}"),
                _STATUSES.get(n.status, f"status {n.status}"),
            )
            for n in metadata.nodes
        }
        self._leaders = {k: v for k, v in self._leaders.items() if v in self.nodes}
        self.version += 1

    def set_partition_leaders(self, leaders: Iterable[tuple[object, object, int, str]]) -> None:
        """Record (stream, topic, partition, node name) leadership from the cluster edition."""
        for stream, topic, partition, node in leaders:
            self._leaders[partition_key(stream, topic, partition)] = node
        self.version += 1

    def addresses(self) -> list[NodeAddress]:
        return [n.address for n in self.nodes.values()]

    def metadata_leader(self) -> NodeView | None:
        """The node reporting role leader and status healthy (the 0.8 SDK's redirect target)."""
        for node in self.nodes.values():
            if node.role == "leader" and node.usable:
                return node
        return None

    def leader_for(self, stream: object, topic: object, partition: int | None) -> NodeAddress | None:
        """The leader of a partition when known and healthy; None means "any connected node"."""
        if partition is None:
            return None
        name = self._leaders.get(partition_key(stream, topic, partition))
        node = self.nodes.get(name) if name is not None else None
        return node.address if node is not None and node.usable else None

    def forget(self, stream: object, topic: object, partition: int) -> None:
        """Drop one leadership entry after a not-leader answer."""
        if self._leaders.pop(partition_key(stream, topic, partition), None) is not None:
            self.version += 1

    def forget_node(self, address: NodeAddress) -> None:
        """Drop every leadership held by a node that stopped answering."""
        names = {n.name for n in self.nodes.values() if n.address == address}
        before = len(self._leaders)
        self._leaders = {k: v for k, v in self._leaders.items() if v not in names}
        if len(self._leaders) != before:
            self.version += 1
