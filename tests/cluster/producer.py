"""A producer for failure tests: numbered batches with message ids, retried until acknowledged.

It rotates over the cluster's live nodes on any error, so it behaves like a client
that only knows the node list. Every ack is recorded with the time it arrived.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from tests.support.client import TestClient
from whippet.wire.errors import IggyError

BATCH = 10


def payload(batch: int, i: int) -> bytes:
    return f"{batch}:{i}".encode()


def message_id(batch: int, i: int) -> int:
    return batch * BATCH + i + 1


@dataclass
class Producer:
    cluster: object
    stream: str = "s"
    topic: str = "t"
    partition: int = 0
    acked: list[int] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)
    errors: int = 0
    _client: TestClient | None = None
    _rotation: int = 0

    async def _connect(self) -> TestClient:
        while True:
            alive = self.cluster.alive()  # type: ignore[attr-defined]
            node = alive[self._rotation % len(alive)]
            self._rotation += 1
            try:
                return await TestClient.connect(node.address)
            except (OSError, IggyError, asyncio.TimeoutError):
                await asyncio.sleep(0.1)

    async def send_batch(self, b: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._client is None:
                self._client = await self._connect()
            try:
                await asyncio.wait_for(
                    self._client.send(
                        self.stream, self.topic, self.partition,
                        [payload(b, i) for i in range(BATCH)], ids=[message_id(b, i) for i in range(BATCH)],
                    ),
                    15,
                )
                self.acked.append(b)
                self.ack_times.append(time.monotonic())
                return
            except (IggyError, OSError, asyncio.TimeoutError, ConnectionError):
                self.errors += 1
                try:
                    await self._client.close()
                except Exception:
                    pass
                self._client = None
                await asyncio.sleep(0.05)
        raise TimeoutError(f"batch {b} was not acknowledged in time")

    async def run(self, batches: range, deadline: float) -> None:
        for b in batches:
            await self.send_batch(b, deadline)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
