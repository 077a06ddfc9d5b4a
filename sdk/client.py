"""The public asyncio client: every node command as a method, plus producer/consumer builders.

    client = Client(nodes=["10.0.0.1:8090", "10.0.0.2:8090"], username="iggy", password="iggy")
    await client.connect()
    await client.create_stream("dev01")

or ``Client.from_connection_string("whippet://iggy:iggy@h1:8090,h2:8090")``, or
``async with Client(...) as client:``. Connection management (bootstrap from the
node list, routing, reconnect with backoff, re-login) is in ``sdk._core``; the
command methods are in ``sdk._api_admin`` and ``sdk._api_data``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Self, Unpack

from whippet.sdk._api_data import DataApi
from whippet.sdk.consumer import ConsumerBuilder, ConsumerConfig
from whippet.sdk.options import (
    DEFAULT_PORTS,
    Backoff,
    ClientOptions,
    ClientSettings,
    Credentials,
    NodeAddress,
    TlsOptions,
    Transport,
    parse_address,
    parse_connection_string,
)
from whippet.sdk.producer import ProducerBuilder
from whippet.sdk.state import StateCallback

__all__ = ["Client"]


class Client(DataApi):
    def __init__(
        self,
        nodes: Iterable[str | NodeAddress] | str = ("127.0.0.1:8090",),
        *,
        username: str = "",
        password: str = "",
        token: str = "",
        transport: Transport = "tcp",
        tls: TlsOptions | None = None,
        backoff: Backoff | None = None,
        options: ClientOptions | None = None,
        on_connection_state: StateCallback | None = None,
        **settings: Unpack[ClientSettings],
    ) -> None:
        """``nodes`` are seeds: any one that answers is enough, the rest are found via cluster metadata.

        ``settings`` are further :class:`ClientOptions` fields (``connect_timeout``,
        ``request_timeout``, ``heartbeat_interval``, ``request_retries``, ``discover``,
        ``routing_refresh_interval``). ``transport`` is ``"tcp"``, ``"quic"`` or ``"ws"``.
        ``on_connection_state`` is called with a :class:`~whippet.sdk.state.ConnectionEvent`
        on every connection change (connected, disconnected, reconnected, closed).
        """
        if options is None:
            seeds = [nodes] if isinstance(nodes, str) else list(nodes)
            port = DEFAULT_PORTS[transport]
            addresses = tuple(a if isinstance(a, NodeAddress) else parse_address(a, port) for a in seeds)
            options = ClientOptions(
                nodes=addresses,
                transport=transport,
                credentials=Credentials(username, password, token),
                tls=tls or TlsOptions(),
                backoff=backoff or Backoff(),
            )
        if settings:
            options = replace(options, **settings)
        super().__init__(options)
        if on_connection_state is not None:
            self.on_connection_state(on_connection_state)

    @classmethod
    def from_connection_string(
        cls, text: str, *, backoff: Backoff | None = None, **settings: Unpack[ClientSettings]
    ) -> Self:
        """``whippet://user:pass@h1:8090,h2:8090`` (also ``iggy://``, ``iggy+quic://``, ``pat:TOKEN@``)."""
        options = parse_connection_string(text)
        if backoff is not None:
            options = replace(options, backoff=backoff)
        return cls(options=options, **settings)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- high-level builders ---
    def producer(self, stream: str | int, topic: str | int) -> ProducerBuilder:
        return ProducerBuilder(self, stream, topic)

    def consumer(self, name: str | int, stream: str | int, topic: str | int, partition: int = 0) -> ConsumerBuilder:
        """A free consumer of one partition (its offsets are stored under ``name``)."""
        return ConsumerBuilder(self, ConsumerConfig(name, stream, topic, group=False, partition=partition))

    def consumer_group(self, group: str | int, stream: str | int, topic: str | int) -> ConsumerBuilder:
        """A member of consumer group ``group`` (created on init when missing and named)."""
        return ConsumerBuilder(self, ConsumerConfig(group, stream, topic, group=True))
