"""Send numbered messages with the high-level producer (batching, balanced partitions, dedup ids).

    python examples/producer.py --nodes 127.0.0.1:8090 --count 10000
"""

from __future__ import annotations

import argparse
import asyncio

from whippet.sdk import Client


async def main(nodes: list[str], count: int) -> None:
    async with Client(nodes, username="iggy", password="iggy") as client:
        producer = await (
            client.producer("example", "events")
            .create_stream_if_not_exists()
            .create_topic_if_not_exists(partitions=3)
            .batch_length(500)
            .linger("5ms")
            .max_in_flight(4)
            .build()
            .init()
        )
        for i in range(count):
            await producer.send(f"event {i}".encode())  # returns at once; batches go out in the background
        await producer.close()  # flush and wait for every acknowledgement
        print(f"sent {producer.sent_messages} messages in {producer.sent_batches} batches")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", default="127.0.0.1:8090")
    p.add_argument("--count", type=int, default=10_000)
    a = p.parse_args()
    asyncio.run(main(a.nodes.split(","), a.count))
