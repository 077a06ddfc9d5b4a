"""SEND_MESSAGES_APPENDED (9004, whippet's own): a send that answers where the batch went.

Every send goes through one entry point (``node.handlers.messages.append_batch``);
this command returns its result, which our SDK and the 0.9 codec use to report offsets
and which a node uses when it forwards a send to the partition's leader.
"""

from __future__ import annotations

import pytest

from tests.support.client import TestClient
from whippet.wire.errors import InvalidCommand, PartitionNotFound, Unauthenticated

pytestmark = pytest.mark.asyncio


async def test_offsets_partition_and_duplicates(node_factory) -> None:  # type: ignore[no-untyped-def]
    node = node_factory(extra_env={"WHIPPET_DEDUP_ENABLED": "true"})
    c = await TestClient.connect(node.address)
    try:
        await c.create_stream("s")
        await c.create_topic("s", "t", partitions=3)
        first = await c.send_appended("s", "t", 2, [b"a", b"b", b"c"], ids=[1, 2, 3])
        assert (first.partition_id, first.first_offset, first.stored, first.duplicates) == (2, 0, 3, 0)
        second = await c.send_appended("s", "t", 2, [b"d"], ids=[4])
        assert (second.first_offset, second.stored) == (3, 1)
        retry = await c.send_appended("s", "t", 2, [b"a", b"b", b"c"], ids=[1, 2, 3])
        assert (retry.stored, retry.duplicates) == (0, 3)
        _, polled = await c.poll("s", "t", 2, 0, 10)
        assert [m.payload for m in polled] == [b"a", b"b", b"c", b"d"]
        balanced = {(await c.send_appended("s", "t", None, [b"x"])).partition_id for _ in range(3)}
        assert balanced == {0, 1, 2}
        with pytest.raises(PartitionNotFound):
            await c.send_appended("s", "t", 7, [b"x"])
        with pytest.raises(InvalidCommand):
            await c.conn.request(9004, b"\x01")
    finally:
        await c.close()


async def test_needs_login(node) -> None:  # type: ignore[no-untyped-def]
    c = await TestClient.connect(node.address, login=None)
    try:
        with pytest.raises(Unauthenticated):
            await c.send_appended("s", "t", 0, [b"x"])
    finally:
        await c.close()
