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

* typed headers (``headers``: :class:`HeaderValue`), send results
  (:class:`SendResult`, :class:`Delivery`), rebalance events (:class:`Rebalance`)
  and connection-state events (``state``: :class:`ConnectionState`).

Errors are the ``whippet.wire.errors`` classes the node itself uses, each also an
instance of its family in ``sdk.errors`` (:class:`NotFoundError`,
:class:`AuthError`, :class:`RetriableError`, ...), so callers can catch a kind
of failure.
"""

from whippet.sdk.client import Client
from whippet.sdk.consumer import AutoCommit, Consumer, ConsumerBuilder, Rebalance, ReceivedMessage
from whippet.sdk.errors import (
    AlreadyExistsError,
    AuthError,
    InvalidRequestError,
    NotFoundError,
    RetriableError,
    TransportError,
)
from whippet.sdk.headers import HeaderValue
from whippet.sdk.messages import EncodedBatch, Message, PolledMessages, SendResult, encode_batch
from whippet.sdk.options import (
    Backoff,
    ClientOptions,
    Credentials,
    NodeAddress,
    TlsOptions,
    parse_connection_string,
)
from whippet.sdk.producer import Delivery, Producer, ProducerBuilder
from whippet.sdk.state import ConnectionEvent, ConnectionState
from whippet.sdk.sync import SyncClient
from whippet.wire.primitives import Consumer as ConsumerId
from whippet.wire.primitives import Partitioning, PollingStrategy

__all__ = [
    "AlreadyExistsError",
    "AuthError",
    "ConnectionEvent",
    "ConnectionState",
    "Delivery",
    "HeaderValue",
    "InvalidRequestError",
    "NotFoundError",
    "Rebalance",
    "RetriableError",
    "SendResult",
    "TransportError",
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
