"""A topic's ack level on a 3-node cluster (replication factor 3; node 1 leads partition 0):
set on one node, seen on every node, and acted on by the partition leader. With both followers
stopped (SIGSTOP), a send to a ``leader``-ack topic is acknowledged while a send to a topic on
the default (``quorum``) waits."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire.errors import IggyError
from whippet.wire.primitives import Identifier
from whippet.wire.responses import TopicAck

pytestmark = pytest.mark.asyncio

_FAST = rq.GetTopicAck(stream_id=Identifier("s"), topic_id=Identifier("fast"))


async def _replicated_to(node) -> TopicAck:  # type: ignore[no-untyped-def]
    c = await TestClient.connect(node.address)
    try:
        for _ in range(50):  # a follower of the metadata applies the command a moment later
            got = TopicAck.decode(await c.call(_FAST))
            if got.ack == "leader":
                break
            await asyncio.sleep(0.05)
        return got
    finally:
        await c.close()


async def test_leader_ack_needs_no_follower_and_quorum_does(cluster) -> None:  # type: ignore[no-untyped-def]
    admin = await TestClient.connect(cluster[2].address)
    await admin.create_stream("s")
    for name in ("fast", "slow"):
        await admin.create_topic("s", name)
    await admin.call(rq.SetTopicAck(stream_id=Identifier("s"), topic_id=Identifier("fast"), ack="leader"))
    await admin.close()
    for i in (1, 3):
        assert await _replicated_to(cluster[i]) == TopicAck(ack="leader", effective="leader")

    fast, slow = await TestClient.connect(cluster[1].address), await TestClient.connect(cluster[1].address)
    await fast.send("s", "fast", 0, [b"warm-up"])  # followers are fetching before they stop
    await slow.send("s", "slow", 0, [b"warm-up"])
    cluster[2].pause()
    cluster[3].pause()
    try:
        await asyncio.wait_for(fast.send("s", "fast", 0, [b"leader only"]), 5.0)
        pending = asyncio.ensure_future(slow.send("s", "slow", 0, [b"needs a majority"]))
        done, _ = await asyncio.wait([pending], timeout=0.5)
        assert not done, "a quorum send was acknowledged with both followers stopped"
    finally:
        cluster[2].resume()
        cluster[3].resume()
    try:
        await asyncio.wait_for(pending, 15.0)  # the followers catch up and the send is acknowledged
    except IggyError as exc:  # or the leader changed meanwhile; either way it was never acked early
        assert exc.status in (12010, 12011), exc
    await fast.close()
    await slow.close()
    for i in (1, 2, 3):  # nothing is checked after this: skip the graceful hand-overs of stop()
        cluster[i].kill()
