"""Consume as a member of a consumer group, committing after each processed message.

Start several of these at once: the node splits the partitions between them,
and when one stops the others take its partitions over from its last commit.

    python examples/consumer_group.py --nodes 127.0.0.1:8090
"""

from __future__ import annotations

import argparse
import asyncio

from whippet.sdk import AutoCommit, Client


async def main(nodes: list[str], limit: int) -> None:
    async with Client(nodes, username="iggy", password="iggy") as client:
        consumer = await (
            client.consumer_group("example-app", "example", "events")
            .auto_commit(AutoCommit.after_each())
            .batch_length(100)
            .poll_interval("50ms")
            .on_rebalance(lambda: print("partitions were reassigned"))
            .build()
            .init()
        )
        try:
            seen = 0
            async for message in consumer:
                print(f"partition {message.partition_id} offset {message.offset}: {message.payload.decode()}")
                seen += 1
                if seen >= limit:
                    break
        finally:
            await consumer.close()  # commits what was processed, then leaves the group


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", default="127.0.0.1:8090")
    p.add_argument("--limit", type=int, default=100)
    a = p.parse_args()
    asyncio.run(main(a.nodes.split(","), a.limit))
