"""One module per command family: authenticate, act, encode the reply.

Importing this package registers every handler with ``node.dispatch``.
"""

from whippet.node.handlers import (  # noqa: F401
    cluster,
    groups,
    messages,
    offsets,
    partition_states,
    streams,
    system,
    topic_ack,
    topics,
    users,
)
