"""Permission matrix over HTTP: a user who may only read stream "open" reads it, and
every other route (other stream, writes, users, server info) answers 403, while the
state stays as it was."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from tests.integration.test_http_basics import Http, http_node  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio

TOPIC = {"name": "t", "partitions_count": 1, "compression_algorithm": "none", "message_expiry": 0,
         "max_topic_size": 0, "replication_factor": None}
SEND = {"partitioning": {"kind": "balanced", "value": ""}, "messages": [{"payload": base64.b64encode(b"x").decode()}]}


async def test_read_one_stream_only(http_node) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as s:
        root = await Http.login(s, http_node)
        open_id = (await root.ok("POST", "/streams", json={"name": "open"}))["id"]
        await root.ok("POST", "/streams", json={"name": "closed"})
        for stream in ("open", "closed"):
            await root.ok("POST", f"/streams/{stream}/topics", json=TOPIC)
            await root.ok("POST", f"/streams/{stream}/topics/t/messages", 201, json=SEND)
            await root.ok("POST", f"/streams/{stream}/topics/t/consumer-groups", 201, json={"name": "g"})
        perms = {"global": {}, "streams": {str(open_id): {"read_stream": True}}}
        await root.ok("POST", "/users", json={"username": "reader", "password": "reader", "status": "active",
                                              "permissions": perms})
        reader = await Http.login(s, http_node, "reader", "reader")

        allowed = [
            ("GET", "/streams/open"),
            ("GET", f"/streams/{open_id}"),
            ("GET", "/streams/open/topics"),
            ("GET", "/streams/open/topics/t"),
            ("GET", "/streams/open/topics/t/messages?kind=first"),
            ("GET", "/streams/open/topics/t/consumer-groups"),
            ("GET", "/streams/open/topics/t/consumer-groups/g"),
            ("GET", "/users/reader"),  # one's own user
            ("GET", "/personal-access-tokens"),  # one's own tokens
            ("GET", "/cluster/metadata"),
            ("GET", "/me"),
        ]
        for method, path in allowed:
            status, body = await reader.call(method, path)
            assert status == 200, (method, path, status, body)
        polled = await reader.ok("GET", "/streams/open/topics/t/messages", params={"kind": "first"})
        assert polled["count"] == 1

        denied = [
            ("GET", "/streams", None),
            ("POST", "/streams", {"name": "new"}),
            ("PUT", "/streams/open", {"name": "renamed"}),
            ("DELETE", "/streams/open", None),
            ("DELETE", "/streams/open/purge", None),
            ("POST", "/streams/open/topics", {**TOPIC, "name": "t2"}),
            ("PUT", "/streams/open/topics/t", TOPIC),
            ("DELETE", "/streams/open/topics/t", None),
            ("DELETE", "/streams/open/topics/t/purge", None),
            ("POST", "/streams/open/topics/t/partitions", {"partitions_count": 1}),
            ("DELETE", "/streams/open/topics/t/partitions?partitions_count=1", None),
            ("DELETE", "/streams/open/topics/t/partitions/0?segments_count=1", None),
            ("POST", "/streams/open/topics/t/messages", SEND),
            ("GET", "/streams/open/topics/t/messages/flush/0/true", None),
            ("GET", "/streams/closed", None),
            ("GET", "/streams/closed/topics", None),
            ("GET", "/streams/closed/topics/t", None),
            ("GET", "/streams/closed/topics/t/messages?kind=first", None),
            ("POST", "/streams/closed/topics/t/messages", SEND),
            ("GET", "/streams/closed/topics/t/consumer-groups", None),
            ("GET", "/streams/closed/topics/t/consumer-groups/g", None),
            ("POST", "/streams/closed/topics/t/consumer-groups", {"name": "g2"}),
            ("DELETE", "/streams/closed/topics/t/consumer-groups/g", None),
            ("GET", "/streams/closed/topics/t/consumer-offsets?consumer_id=1", None),
            ("PUT", "/streams/closed/topics/t/consumer-offsets", {"consumer_id": "1", "offset": 0}),
            ("GET", "/users", None),
            ("GET", "/users/iggy", None),
            ("POST", "/users", {"username": "other", "password": "other", "status": "active"}),
            ("PUT", "/users/iggy", {"status": "inactive"}),
            ("DELETE", "/users/iggy", None),
            ("PUT", "/users/iggy/permissions", {"permissions": None}),
            ("PUT", "/users/reader/permissions", {"permissions": {"global": {"manage_servers": True}}}),
            ("GET", "/stats", None),
            ("GET", "/clients", None),
            ("POST", "/snapshot", {"compression": "Stored", "snapshot_types": ["All"]}),
        ]
        before = await root.ok("GET", "/streams")
        for method, path, body in denied:
            got = await reader.call(method, path, json=body) if body is not None else await reader.call(method, path)
            assert got[0] == 403 and got[1]["id"] == 41, (method, path, got)
        assert await root.ok("GET", "/streams") == before
        assert (await root.ok("GET", "/users/reader"))["permissions"] == {
            "global": {k: False for k in (await root.ok("GET", "/users/reader"))["permissions"]["global"]},
            "streams": {str(open_id): {"manage_stream": False, "read_stream": True, "manage_topics": False,
                                       "read_topics": False, "poll_messages": False, "send_messages": False,
                                       "topics": None}},
        }
