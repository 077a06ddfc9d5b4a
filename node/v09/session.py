"""What a 0.9 connection is bound to after Register (protocol 0.9 §2).

Upstream ties the session to the connection and so does whippet: the header's
client, session and user fields are checked against the binding, never trusted
for authorization (``Session.user_id`` is what the shared handlers check).
Session numbers are unique per node and never 0; the metadata watermark a 0.9
client compares in reply headers counts this node's applied metadata writes.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whippet.node.server import Node

__all__ = ["Binding", "NodeCounters", "attach_tag", "counters"]


@dataclass(slots=True)
class Binding:
    """A logged-in 0.9 session on one connection."""

    client: int
    session: int
    #: the highest request number seen (replicated requests must not go below it)
    last_request: int = 0


class NodeCounters:
    """Per node: session numbers, and the watermark carried in reply headers."""

    def __init__(self) -> None:
        # Start past the time in ms so a restarted node does not hand out a session
        # number a client still holds from before.
        self._sessions = itertools.count(int.from_bytes(os.urandom(2), "little") + (1 << 20))
        self.watermark = 1

    def next_session(self) -> int:
        return next(self._sessions)

    def metadata_written(self) -> int:
        self.watermark += 1
        return self.watermark


_COUNTERS: weakref.WeakKeyDictionary[Node, NodeCounters] = weakref.WeakKeyDictionary()


def counters(node: Node) -> NodeCounters:
    found = _COUNTERS.get(node)
    if found is None:
        found = _COUNTERS[node] = NodeCounters()
    return found


def attach_tag(node: Node, member: tuple[int, int], user_id: int) -> int:
    """A 64-bit MAC binding a group member identity to a user, keyed by the cluster secret.

    A routing reply hands it out as the ``session`` to attach to; a data
    connection (on any node of the cluster) may act for that member only with it
    and only as the same user.
    """
    key = (node.config.cluster_secret or "whippet-single-node").encode()
    msg = f"{member[0]}:{member[1]}:{user_id}".encode()
    return int.from_bytes(hmac.new(key, msg, hashlib.sha256).digest()[:8], "little")
