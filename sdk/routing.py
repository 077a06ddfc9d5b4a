"""Where each request goes: the cluster as the client last learned it.

Filled from two answers of the connected ("home") node:

* GET_CLUSTER_METADATA (:meth:`RoutingTable.update`): every node with its
  per-transport ports, role and status;
* GET_PARTITION_LEADERS, whippet's own command 9001
  (:meth:`RoutingTable.set_partition_leaders`): for each topic the caller may use,
  the leader node id and leader epoch of every partition, the node ids' names (to
  find them in the metadata without parsing names) and which node answered.

A 0.8 server reports one node and answers 9001 with InvalidCommand: then
:meth:`leader_for` answers None ("the connected node") for everything, the
behaviour before the cluster edition. Otherwise a partition request goes to its
leader, unless that is the home node itself, the leader is not healthy in the
metadata, or its address recently refused a connection (:meth:`mark_down`).
Callers address topics by id or by name; both spellings map to the same ids.

An answer from a node whose metadata lags can report an older epoch than one
already known; the newer entry is kept. A not-leader answer drops the entry
(:meth:`forget`) until the next refresh.

Pure data: no I/O (the clock is a parameter), so the rules are unit-tested.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from whippet.sdk.options import NodeAddress, Transport
from whippet.wire.responses import ClusterMetadata, ClusterNode, PartitionLeaders, TopicLeaders

__all__ = ["ROLE_LEADER", "STATUS_HEALTHY", "NodeView", "RoutingTable"]

ROLE_LEADER = 0
STATUS_HEALTHY = 0
_ROLES = {0: "leader", 1: "follower"}
_STATUSES = {0: "healthy", 1: "starting", 2: "stopping", 3: "unreachable", 4: "maintenance", 5: "unknown"}
# A topic the table does not know is asked for at most this often (seconds).
_ASK_AGAIN_S = 1.0

_TopicIds = tuple[int, int]
_Partition = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    address: NodeAddress  # for the client's transport
    role: str
    status: str

    @property
    def usable(self) -> bool:
        return self.status == "healthy"


@dataclass(frozen=True, slots=True)
class _Route:
    node: str | None  # the leader's name; None: no leader right now
    epoch: int


def _address(node: ClusterNode, transport: Transport) -> NodeAddress:
    port = {"quic": node.quic_port, "ws": node.websocket_port}.get(transport, node.tcp_port)
    host = "127.0.0.1" if node.ip in ("localhost", "0.0.0.0", "") else node.ip
    return NodeAddress(host, port)


def _spellings(topic: TopicLeaders) -> list[tuple[str, str]]:
    """Every (stream, topic) text a caller may use for this topic: ids and names, mixed."""
    return [(s, t) for s in (str(topic.stream_id), topic.stream_name) for t in (str(topic.topic_id), topic.topic_name)]


class RoutingTable:
    def __init__(self, transport: Transport = "tcp") -> None:
        self.transport = transport
        self.cluster_name = ""
        self.nodes: dict[str, NodeView] = {}
        #: The name of the node the client is connected to, when it reported leaders.
        self.home_node: str | None = None
        #: False once the connected node answered 9001 with InvalidCommand (a 0.8 server).
        self.leaders_offered = True
        self._topics: dict[tuple[str, str], _TopicIds] = {}
        self._routes: dict[_Partition, _Route] = {}
        self._down: dict[NodeAddress, float] = {}
        self._asked: dict[tuple[str, str], float] = {}
        self.version = 0  # bumped on every change, so callers can tell a refresh happened

    # --- filling ---
    def update(self, metadata: ClusterMetadata) -> None:
        """Replace the node list; routes to nodes that vanished are dropped."""
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
        self._routes = {k: r for k, r in self._routes.items() if r.node is None or r.node in self.nodes}
        self.version += 1

    def set_partition_leaders(self, answer: PartitionLeaders, *, complete: bool = True) -> None:
        """Take a GET_PARTITION_LEADERS answer.

        ``complete``: it listed every topic (topics it left out are forgotten);
        otherwise only the topics it lists are replaced.
        """
        names = {n.node_id: n.name for n in answer.nodes}
        self.home_node = names.get(answer.node_id)
        self.leaders_offered = True
        old = self._routes
        if complete:
            self._topics, self._routes = {}, {}
        else:
            replaced = {(t.stream_id, t.topic_id) for t in answer.topics}
            self._topics = {k: ids for k, ids in self._topics.items() if ids not in replaced}
            self._routes = {k: r for k, r in self._routes.items() if k[:2] not in replaced}
        for topic in answer.topics:
            ids = (topic.stream_id, topic.topic_id)
            for spelling in _spellings(topic):
                self._topics[spelling] = ids
            for p in topic.partitions:
                key = (*ids, p.partition_id)
                known = old.get(key)
                if known is not None and known.epoch > p.epoch:
                    self._routes[key] = known  # this answer lags what we already saw
                else:
                    leader = names.get(p.leader_node_id) if p.leader_node_id is not None else None
                    self._routes[key] = _Route(leader, p.epoch)
        self.version += 1

    def leaders_not_offered(self) -> None:
        """The connected node does not know GET_PARTITION_LEADERS: route nothing."""
        self.leaders_offered = False
        self.home_node = None
        self._topics, self._routes = {}, {}
        self.version += 1

    # --- asking ---
    def addresses(self) -> list[NodeAddress]:
        return [n.address for n in self.nodes.values()]

    def usable_addresses(self, now: float) -> list[NodeAddress]:
        """Addresses of the healthy nodes not marked down, in the metadata's order."""
        return [n.address for n in self.nodes.values() if n.usable and self._down.get(n.address, 0.0) <= now]

    def metadata_leader(self) -> NodeView | None:
        """The node reporting role leader and status healthy (the 0.8 SDK's redirect target)."""
        for node in self.nodes.values():
            if node.role == "leader" and node.usable:
                return node
        return None

    def _route(self, stream: object, topic: object, partition: int) -> tuple[_Partition, _Route] | None:
        ids = self._topics.get((str(stream), str(topic)))
        if ids is None:
            return None
        key = (*ids, int(partition))
        route = self._routes.get(key)
        return None if route is None else (key, route)

    def leader_for(
        self, stream: object, topic: object, partition: int | None, now: float | None = None
    ) -> NodeAddress | None:
        """The leader of a partition when known, healthy and not the home node; None means
        "the connected node" (which forwards when it does not lead)."""
        if partition is None:
            return None
        found = self._route(stream, topic, partition)
        if found is None or found[1].node is None or found[1].node == self.home_node:
            return None
        node = self.nodes.get(found[1].node)
        if node is None or not node.usable:
            return None
        if self._down.get(node.address, 0.0) > (time.monotonic() if now is None else now):
            return None
        return node.address

    def should_ask(self, stream: object, topic: object, now: float | None = None) -> bool:
        """True when a topic's leaders are unknown and were not asked for lately (and the
        node offers them); the call counts as asking."""
        if not self.leaders_offered:
            return False
        spelling = (str(stream), str(topic))
        if spelling in self._topics:
            return False
        now = time.monotonic() if now is None else now
        if now - self._asked.get(spelling, -_ASK_AGAIN_S) < _ASK_AGAIN_S:
            return False
        self._asked[spelling] = now
        return True

    # --- failures ---
    def forget(self, stream: object, topic: object, partition: int) -> None:
        """Drop one route after a not-leader answer."""
        found = self._route(stream, topic, partition)
        if found is not None:
            del self._routes[found[0]]
            self.version += 1

    def mark_down(self, address: NodeAddress, until: float) -> None:
        """Route nothing to ``address`` before ``until`` (monotonic seconds): it refused a
        connection or dropped one, so its partitions go through the connected node."""
        self._down[address] = until
        self.version += 1

    def routes(self) -> Iterable[tuple[int, int, int, str | None, int]]:
        """(stream_id, topic_id, partition_id, leader name, epoch) as known now (for tools and tests)."""
        return [(*k, r.node, r.epoch) for k, r in sorted(self._routes.items())]
