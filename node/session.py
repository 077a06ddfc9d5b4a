"""Connected clients: one Session per connection, registered by client id.

Client ids follow Iggy 0.8: XXH32 (seed 0) of ``"ip:port"`` of the peer, so the
same peer address maps to the same id a 0.8 server would report. HTTP requests
share client id 0 and never appear in the client list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import xxhash

from whippet.wire.errors import Unauthenticated

__all__ = ["Session", "ClientRegistry", "TRANSPORT_TCP", "TRANSPORT_QUIC", "TRANSPORT_HTTP", "TRANSPORT_WS"]

TRANSPORT_TCP = 1
TRANSPORT_QUIC = 2
TRANSPORT_HTTP = 3
TRANSPORT_WS = 4


@dataclass(slots=True)
class Session:
    """What the server knows about one connection."""

    client_id: int
    address: str
    transport: int
    user_id: int | None = None
    #: the node the client is connected to (another node's id for a forwarded request);
    #: consumer-group members are (node_id, client_id)
    node_id: int = 0
    #: how many nodes a forwarded request has passed through (bounds forwarding loops)
    hops: int = 0
    #: per (stream, topic, group): index of the next owned partition to poll without a partition id
    group_cursor: dict[tuple[int, int, int], int] = field(default_factory=dict)
    #: per (stream, topic, group): the partition this member polled last (its "current" one)
    group_current: dict[tuple[int, int, int], int] = field(default_factory=dict)
    #: the 0.9 session bound to this connection (``node.v09.session.Binding``), None for 0.8
    v09: Any = None
    #: a 0.9 data connection acts for the group member (node_id, client_id) it attached to
    member_of: tuple[int, int] | None = None

    def member(self) -> tuple[int, int]:
        """The (node id, client id) consumer-group membership is looked up by."""
        return self.member_of if self.member_of is not None else (self.node_id, self.client_id)

    def require_user(self) -> int:
        """The logged-in user id, or raise Unauthenticated (40)."""
        if self.user_id is None:
            raise Unauthenticated()
        return self.user_id


class ClientRegistry:
    """The sessions of this node, by client id."""

    def __init__(self, node_id: int = 0) -> None:
        self._sessions: dict[int, Session] = {}
        self._node_id = node_id

    def open(self, address: str, transport: int) -> Session:
        cid = xxhash.xxh32_intdigest(address.encode())
        # Two live peers can only share an id on a hash collision: probe to the next free id.
        while cid in self._sessions or cid == 0:
            cid = (cid + 1) & 0xFFFFFFFF
        session = Session(client_id=cid, address=address, transport=transport, node_id=self._node_id)
        self._sessions[cid] = session
        return session

    def close(self, session: Session) -> None:
        self._sessions.pop(session.client_id, None)

    def get(self, client_id: int) -> Session | None:
        return self._sessions.get(client_id)

    def all(self) -> list[Session]:
        return sorted(self._sessions.values(), key=lambda s: s.client_id)

    def __len__(self) -> int:
        return len(self._sessions)
