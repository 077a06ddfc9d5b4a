"""Child process for the kill -9 durability test.

Usage: metadata_kill_child.py DATA_DIR RAFT_ADDRESS
Starts a one-member MetadataStore, then proposes CreateStream commands forever,
printing ``ack <id> <name>`` (flushed) after each acknowledged one. The parent
SIGKILLs it at some point and checks every acknowledged stream survived.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from whippet.metadata.commands import CreateStream
from whippet.metadata.raft import MetadataStore


async def main(data_dir: Path, address: str) -> None:
    store = await MetadataStore.start(
        self_address=address, partners=[], data_dir=data_dir, password=None
    )
    print("ready", flush=True)
    i = 0
    while True:
        name = f"stream-{i}"
        sid = await store.propose(CreateStream(name, i))
        print(f"ack {sid} {name}", flush=True)
        i += 1


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
