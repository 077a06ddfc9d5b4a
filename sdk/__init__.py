"""whippet's Python SDK: an asyncio client for the Iggy 0.8 binary protocol.

Concurrency model: asyncio, one event loop per client; ``SyncClient`` runs one on a
private thread for scripts. Public surface:

* :class:`Client` — bootstrap from a node list or a connection string, every
  node command as a method, reconnect with backoff, re-login (``client``,
  ``_core``, ``_api_admin``, ``_api_data``);
* :class:`Producer` / :class:`Consumer` and their builders (``producer``,
  ``consumer``);
* :class:`Message`, :class:`EncodedBatch`, :func:`encode_batch` (``messages``);
* settings: :class:`ClientOptions`, :class:`Backoff`, :class:`TlsOptions`
  (``options``); the routing table (``routing``) and node pool (``pool``).

Errors are the ``whippet.wire.errors`` classes the node itself uses.
"""

from whippet.sdk.client import Client
from whippet.sdk.consumer import AutoCommit, Consumer, ConsumerBuilder, ReceivedMessage
from whippet.sdk.messages import EncodedBatch, Message, PolledMessages, encode_batch
from whippet.sdk.options import (
    Backoff,
    ClientOptions,
    Credentials,
    NodeAddress,
    TlsOptions,
    parse_connection_string,
)
from whippet.sdk.producer import Producer, ProducerBuilder
from whippet.sdk.sync import SyncClient
from whippet.wire.primitives import Consumer as ConsumerId
from whippet.wire.primitives import Partitioning, PollingStrategy

__all__ = [
    "AutoCommit",
    "Backoff",
    "Client",
    "ClientOptions",
    "Consumer",
    "ConsumerBuilder",
    "ConsumerId",
    "Credentials",
    "EncodedBatch",
    "Message",
    "NodeAddress",
    "Partitioning",
    "PolledMessages",
    "PollingStrategy",
    "Producer",
    "ProducerBuilder",
    "ReceivedMessage",
    "SyncClient",
    "TlsOptions",
    "encode_batch",
    "parse_connection_string",
]
