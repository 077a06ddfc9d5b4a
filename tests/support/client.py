"""A thin test client over our own codec: encode a wire request, decode the reply."""

from __future__ import annotations

from typing import Any

from whippet.sdk.connection import Connection
from whippet.wire import requests as rq
from whippet.wire.batch import build_send_messages, parse_polled
from whippet.wire.primitives import (
    Consumer,
    ConsumerKind,
    Identifier,
    Partitioning,
    PollingKind,
    PollingStrategy,
)

__all__ = ["TestClient"]


class TestClient:
    __test__ = False  # not a pytest class

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @classmethod
    async def connect(cls, address: str, login: tuple[str, str] | None = ("iggy", "iggy")) -> TestClient:
        host, port = address.rsplit(":", 1)
        client = cls(await Connection.open(host, int(port)))
        if login is not None:
            await client.login(*login)
        return client

    async def call(self, request: Any) -> bytes:
        return await self.conn.request(request.CODE, request.encode())

    async def login(self, username: str, password: str) -> bytes:
        return await self.call(rq.LoginUser(username=username, password=password, version="test", context=""))

    async def create_stream(self, name: str) -> bytes:
        return await self.call(rq.CreateStream(name=name))

    async def create_topic(
        self, stream: str | int, name: str, partitions: int = 1, max_topic_size: int = 0, replication_factor: int = 0
    ) -> bytes:
        """replication_factor 0 = the server's default."""
        return await self.call(
            rq.CreateTopic(
                stream_id=Identifier(stream), partitions_count=partitions, compression=1, message_expiry=0,
                max_topic_size=max_topic_size, replication_factor=replication_factor, name=name,
            )
        )

    async def send(
        self, stream: str | int, topic: str | int, partition: int, payloads: list[bytes], ids: list[int] | None = None
    ) -> None:
        from whippet.wire import codes

        messages = [(0 if ids is None else ids[i], p, b"", 0) for i, p in enumerate(payloads)]
        body = build_send_messages(Identifier(stream), Identifier(topic), Partitioning.partition_id(partition), messages)
        await self.conn.request(codes.SEND_MESSAGES, body)

    async def send_appended(
        self, stream: str | int, topic: str | int, partition: int | None, payloads: list[bytes],
        ids: list[int] | None = None,
    ) -> Any:
        """SEND_MESSAGES_APPENDED (9004): the reply says where the batch went.
        ``partition`` None sends balanced."""
        from whippet.wire import codes
        from whippet.wire.responses import Appended

        messages = [(0 if ids is None else ids[i], p, b"", 0) for i, p in enumerate(payloads)]
        partitioning = Partitioning.balanced() if partition is None else Partitioning.partition_id(partition)
        body = build_send_messages(Identifier(stream), Identifier(topic), partitioning, messages)
        return Appended.decode(await self.conn.request(codes.SEND_MESSAGES_APPENDED, body))

    async def poll(
        self,
        stream: str | int,
        topic: str | int,
        partition: int | None,
        offset: int = 0,
        count: int = 100,
        *,
        kind: int = PollingKind.OFFSET,
        consumer: Consumer | None = None,
        auto_commit: bool = False,
    ) -> tuple[Any, list[Any]]:
        req = rq.PollMessages(
            consumer=consumer or Consumer(ConsumerKind.CONSUMER, Identifier(1)),
            stream_id=Identifier(stream),
            topic_id=Identifier(topic),
            partition_id=partition,
            strategy=PollingStrategy(kind, offset),
            count=count,
            auto_commit=auto_commit,
        )
        return parse_polled(await self.call(req))

    async def close(self) -> None:
        await self.conn.close()
