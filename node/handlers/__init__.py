"""One module per command family: authenticate, act, encode the reply.

Importing this package registers every handler with ``node.dispatch``.
"""

from whippet.node.handlers import cluster, groups, messages, offsets, streams, system, topics, users  # noqa: F401
