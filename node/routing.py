"""Requests for a partition this node does not lead go to the node that does.

The receiving node resolves everything that depends on the client's connection
(authentication, the balanced-partition counter, a group member's round-robin)
and pins the partition before forwarding, so the leader only checks and acts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from whippet.wire.errors import NotLeader

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["forward"]

_MAX_HOPS = 2


async def forward(node: Node, session: Session, leader: int, code: int, payload: bytes | memoryview) -> bytes:
    """Run the request on ``leader`` and return its OK payload (or raise its error)."""
    if leader < 0:
        raise NotLeader("the partition has no leader yet; retry")
    if session.hops >= _MAX_HOPS:
        raise NotLeader("the partition's leader is moving; retry")
    return await node.replicas.forward(leader, code, bytes(payload), client_id=session.client_id,
                                       user_id=session.user_id, hops=session.hops)
