"""Producer ack levels: what a send waits for before the leader answers.

Weakest first: the leader's own log, a majority of the partition's replicas,
every in-sync replica. The one definition of the names: the wire codec encodes a
level as its position here (whippet's commands 9002/9003), the metadata stores a
topic's level by name, and ``replication.leader`` acts on it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ACK_LEVELS"]

ACK_LEVELS: Final = ("leader", "quorum", "all")
