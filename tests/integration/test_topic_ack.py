"""A topic's producer ack level (whippet's own commands 9002/9003) on a real node: set and get
through the SDK, the CLI and HTTP, permissions, bad input, and a restart (the setting is
metadata; the default it falls back to is the node's ``cluster_ack``)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.integration.test_cli_session import whippet
from tests.integration.test_http_basics import Http
from tests.support.client import TestClient
from whippet.sdk import Client
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import (
    IggyError,
    InvalidFormat,
    StreamIdNotFound,
    TopicIdNotFound,
    Unauthorized,
)
from whippet.wire.permissions import Permissions, StreamPermissions, TopicPermissions
from whippet.wire.primitives import Identifier

pytestmark = pytest.mark.asyncio


def _client(node, username: str = "iggy", password: str = "iggy") -> Client:  # type: ignore[no-untyped-def]
    return Client([node.address], username=username, password=password)


async def _acks(client: Client, stream: str, topic: str) -> tuple[str, str]:
    got = await client.get_topic_ack(stream, topic)
    return got.ack, got.effective


async def test_set_get_send_and_restart(node) -> None:  # type: ignore[no-untyped-def]
    async with _client(node) as c:
        await c.create_stream("s")
        await c.create_topic("s", "t", 2)
        await c.create_topic("s", "plain")
        assert await _acks(c, "s", "t") == ("", "quorum")  # the node's default cluster_ack
        for level in ("leader", "all", "quorum"):
            await c.set_topic_ack("s", "t", level)
            assert await _acks(c, "s", "t") == (level, level)
            await c.send_messages("s", "t", [b"m-" + level.encode()])  # acknowledged at that level
        await c.set_topic_ack(0, 0, None)  # ids work too; None = back to the default
        assert await _acks(c, "s", "t") == ("", "quorum")
        await c.set_topic_ack("s", "t", "all")

        with pytest.raises(TopicIdNotFound):
            await c.get_topic_ack("s", "missing")
        with pytest.raises(StreamIdNotFound):
            await c.set_topic_ack("missing", "t", "leader")
        with pytest.raises(InvalidFormat):
            await c.set_topic_ack("s", "t", "most")  # refused before it is sent

    raw = await TestClient.connect(node.address)
    ids = rq.GetTopicAck(stream_id=Identifier("s"), topic_id=Identifier("t")).encode()
    for payload in (ids + b"\x04", ids + b"\xff", ids, ids[:-1]):  # unknown level, no level, cut id
        with pytest.raises(IggyError) as info:
            await raw.conn.request(codes.SET_TOPIC_ACK, payload)
        assert info.value.status == 3
    await raw.close()

    node.stop()
    node.extra_env["WHIPPET_CLUSTER_ACK"] = "leader"
    node.start()
    async with _client(node) as c:
        assert await _acks(c, "s", "t") == ("all", "all")  # the setting survived the restart
        assert await _acks(c, "s", "plain") == ("", "leader")  # the default is the node's setting
        await c.send_messages("s", "t", [b"after restart"])


async def test_setting_needs_manage_topic_and_reading_needs_read_topic(node) -> None:  # type: ignore[no-untyped-def]
    async with _client(node) as root:
        await root.create_stream("p")
        await root.create_topic("p", "t")
        await root.create_topic("p", "other")
        sid = (await root.get_stream("p")).stream.id  # type: ignore[union-attr]
        await root.create_user("reader", "reader-pw", permissions=Permissions(
            streams={sid: StreamPermissions(read_topics=True)}))
        await root.create_user("owner", "owner-pw", permissions=Permissions(
            streams={sid: StreamPermissions(topics={0: TopicPermissions(manage_topic=True)})}))
        await root.create_user("nobody", "nobody-pw")

    async with _client(node, "reader", "reader-pw") as reader:
        assert await _acks(reader, "p", "t") == ("", "quorum")
        with pytest.raises(Unauthorized):
            await reader.set_topic_ack("p", "t", "leader")
    async with _client(node, "owner", "owner-pw") as owner:
        await owner.set_topic_ack("p", "t", "leader")
        assert await _acks(owner, "p", "t") == ("leader", "leader")
        with pytest.raises(Unauthorized):
            await owner.set_topic_ack("p", "other", "leader")
    async with _client(node, "nobody", "nobody-pw") as nobody:
        with pytest.raises(Unauthorized):
            await nobody.get_topic_ack("p", "t")
    async with _client(node) as root:
        assert await _acks(root, "p", "other") == ("", "quorum")  # the refused set changed nothing


async def test_cli_and_http(node) -> None:  # type: ignore[no-untyped-def]
    async with _client(node) as c:
        await c.create_stream("x")
        await c.create_topic("x", "t")

    assert "Ack level of topic with ID: t in stream with ID: x set to all" in whippet(
        node, "-u iggy -p iggy topic ack x t all")
    shown = whippet(node, "-u iggy -p iggy topic ack x t")
    assert "| Topic ack     | all " in shown and "| Effective ack | all " in shown
    assert json.loads(whippet(node, "-u iggy -p iggy --output json t a x t")) == {"ack": "all", "effective": "all"}
    whippet(node, "-u iggy -p iggy topic ack x t default")
    assert "| Topic ack     | default " in whippet(node, "-u iggy -p iggy topic ack x t")
    whippet(node, "-u iggy -p iggy topic ack x t sometimes", expect=2)
    whippet(node, "-u iggy -p iggy topic ack x missing", expect=5)

    async with aiohttp.ClientSession() as s:
        h = await Http.login(s, node)
        assert await h.ok("GET", "/streams/x/topics/t/ack") == {"ack": "default", "effective": "quorum"}
        await h.ok("PUT", "/streams/x/topics/t/ack", 204, json={"ack": "leader"})
        assert await h.ok("GET", "/streams/x/topics/0/ack") == {"ack": "leader", "effective": "leader"}
        await h.error("PUT", "/streams/x/topics/t/ack", 400, 4, json={"ack": "most"})
        await h.error("PUT", "/streams/x/topics/t/ack", 400, 4, json={})
        await h.error("GET", "/streams/x/topics/missing/ack", 404, 2010)
        await h.ok("PUT", "/streams/x/topics/t/ack", 204, json={"ack": "default"})
    async with _client(node) as c:
        assert await _acks(c, "x", "t") == ("", "quorum")
