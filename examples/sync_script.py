"""The synchronous wrapper, for scripts that do not want asyncio.

    python examples/sync_script.py
"""

from __future__ import annotations

from whippet.sdk import AutoCommit, SyncClient


def main() -> None:
    with SyncClient("whippet://iggy:iggy@127.0.0.1:8090") as client:
        if client.get_stream("scripts") is None:
            client.create_stream("scripts")
            client.create_topic("scripts", "lines", 1)
        client.send_messages("scripts", "lines", [b"first line", b"second line"])
        consumer = client.consumer("script-reader", "scripts", "lines").auto_commit(AutoCommit.after_all()).build()
        consumer = consumer.init()
        for message in consumer:
            print(message.offset, message.payload.decode())
            if message.offset + 1 >= message.current_offset + 1:
                break
        consumer.close()


if __name__ == "__main__":
    main()
