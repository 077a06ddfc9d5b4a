"""Requests for a partition go to its leader, and ride out a failover.

The receiving node resolves everything that depends on the client's connection
(authentication, the balanced-partition counter, a group member's round-robin)
and pins the partition before forwarding, so the leader only checks and acts.

While a partition has no reachable leader (its leader died and the controller has
not yet named the next one, typically for about a second) a request for it waits,
up to ``cluster_leader_wait_ms``, for the metadata to name a new leader and then
runs there, instead of failing: a client that retries nothing (the official 0.8
SDK) does not notice the kill. A request is run again only when that cannot apply
it twice: it certainly did not run (``NotLeader.not_applied``), or the caller says
a repeat is harmless (a poll; a send with deduplication on, whose messages all
carry ids by then). A node that hears from less than a majority of the members does
not wait: cut off, it would never learn of the next leader, so it refuses at once
(not applied) and the client asks another node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from whippet.replication.quorum import majority
from whippet.wire.errors import NotLeader, ReplicationTimeout

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["forward", "on_leader"]

_MAX_HOPS = 2
_POLL = 0.05
_RETRY_SAME = 0.5
T = TypeVar("T")
Key = tuple[int, int, int]


async def forward(node: Node, session: Session, leader: int, code: int, payload: bytes | memoryview) -> bytes:
    """Run the request on ``leader`` and return its OK payload (or raise its error)."""
    if leader < 0:
        raise NotLeader("the partition has no leader yet; retry", not_applied=True)
    if session.hops >= _MAX_HOPS:
        raise NotLeader("the partition's leader is moving; retry", not_applied=True)
    return await node.replicas.forward(leader, code, bytes(payload), client_id=session.client_id,
                                       user_id=session.user_id, hops=session.hops)


def _placement(node: Node, key: Key) -> tuple[int, int]:
    with node.meta.lock:
        p = node.meta.machine.partition(*key)
        return p.leader, p.epoch


def _cut_off(node: Node, key: Key) -> bool:
    """This node is the named leader but lost its quorum: likely cut off from the cluster,
    where no news of the next leader can reach it; the client had better ask another node."""
    part = node.replicas.partitions.get(key)
    state = part.leader_state if part is not None else None
    return state is not None and not state.has_lease()


def _in_minority(node: Node) -> bool:
    """This node hears from fewer than a majority of the members, itself included: it is
    cut off, so the metadata it would wait for (the next leader) cannot reach it, and the
    client had better ask another node now than after ``cluster_leader_wait_ms``.

    Found by the fault suite: a client whose home node was cut off waited there for the
    whole cut on partitions led elsewhere, their leaders being unreachable from that
    node and its metadata never naming others.
    """
    with node.meta.lock:
        members = [m.id for m in node.meta.machine.nodes()]
    heard = sum(1 for m in members if m == node.node_id or node.replicas.alive(m))
    return len(members) > 1 and heard < majority(len(members))


async def on_leader(node: Node, key: Key, attempt: Callable[[int], Awaitable[T]], *, repeatable: bool) -> T:
    """``attempt(leader)`` (it runs locally when ``leader`` is this node, else forwards),
    waiting out a failover as the module says. ``repeatable``: running it twice is harmless."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + node.config.cluster_leader_wait_ms / 1000
    while True:
        leader, epoch = _placement(node, key)
        if leader >= 0 and (leader == node.node_id or node.replicas.alive(leader)):
            try:
                return await attempt(leader)
            except (NotLeader, ReplicationTimeout) as exc:
                safe = repeatable or (isinstance(exc, NotLeader) and exc.not_applied)
                if (not safe or loop.time() >= deadline or (leader == node.node_id and _cut_off(node, key))
                        or _in_minority(node)):
                    raise
        elif loop.time() >= deadline:
            raise NotLeader("the partition has no reachable leader; retry", not_applied=True)
        elif _in_minority(node):
            raise NotLeader("this node is cut off from most of the cluster; retry on another node", not_applied=True)
        # Wait for the metadata to name another leader (or the same one at a new epoch),
        # trying the same leader again now and then (it may only have lacked a quorum).
        until = min(deadline, loop.time() + _RETRY_SAME)
        while loop.time() < until and _placement(node, key) == (leader, epoch):
            await asyncio.sleep(_POLL)
