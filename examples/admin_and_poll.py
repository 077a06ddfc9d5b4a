"""Low-level client calls: create a stream and topic, send to a partition, poll by offset, store an offset.

    python examples/admin_and_poll.py "whippet://iggy:iggy@127.0.0.1:8090"
"""

from __future__ import annotations

import asyncio
import sys

from whippet.sdk import Client, Message, Partitioning, PollingStrategy
from whippet.wire.errors import StreamNameAlreadyExists


async def main(connection_string: str) -> None:
    async with Client.from_connection_string(connection_string) as client:
        try:
            await client.create_stream("orders")
            await client.create_topic("orders", "created", partitions_count=2)
        except StreamNameAlreadyExists:
            pass
        await client.send_messages(
            "orders", "created", [Message(b'{"id": 1}', id=1), Message(b'{"id": 2}', id=2)], Partitioning.partition_id(0)
        )
        polled = await client.poll_messages("orders", "created", 0, "reporter", PollingStrategy.offset(0), 10)
        for m in polled:
            print(m.offset, m.id, m.payload)
        await client.store_consumer_offset("reporter", "orders", "created", 0, polled.messages[-1].offset)
        print(await client.get_consumer_offset("reporter", "orders", "created", 0))
        print(await client.get_cluster_metadata())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "whippet://iggy:iggy@127.0.0.1:8090"))
