"""The HTTP API on a real node, resource by resource: JSON shapes, status codes, and that
each route does what the matching binary command does."""

from __future__ import annotations

import asyncio
import base64
import io
import struct
import time
import zipfile

import aiohttp
import pytest

from tests.integration.test_http_basics import Http, http_node  # noqa: F401  (fixture)
from tests.support.client import TestClient

pytestmark = pytest.mark.asyncio


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def topic_body(name: str, partitions: int = 1, **extra: object) -> dict[str, object]:
    return {"name": name, "partitions_count": partitions, "compression_algorithm": "none",
            "message_expiry": 0, "max_topic_size": 0, "replication_factor": None, **extra}


async def test_streams_topics_partitions_segments(http_node) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as s:
        h = await Http.login(s, http_node)
        created = await h.ok("POST", "/streams", json={"name": "crud"})
        sid = created["id"]
        assert created == {"id": sid, "created_at": created["created_at"], "name": "crud", "size": "0 B",
                           "messages_count": 0, "topics_count": 0, "topics": []}
        assert (await h.ok("GET", f"/streams/{sid}"))["name"] == "crud"
        assert any(x["name"] == "crud" for x in await h.ok("GET", "/streams"))
        await h.error("POST", "/streams", 400, 1012, json={"name": "crud"})  # name taken
        await h.error("POST", "/streams", 400, 1013, json={"name": ""})
        await h.ok("PUT", "/streams/crud", 204, json={"name": "crud2"})
        assert await h.call("GET", "/streams/crud") == (404, {"id": 404, "code": "not_found",
                                                               "reason": "Resource not found", "field": None})

        topic = await h.ok("POST", "/streams/crud2/topics", json=topic_body(
            "t", 2, message_expiry=3_600_000_000, max_topic_size="unlimited", replication_factor=1))
        assert (topic["partitions_count"], len(topic["partitions"]), topic["message_expiry"]) == (2, 2, 3_600_000_000)
        assert topic["max_topic_size"] == 2**64 - 1 and topic["compression_algorithm"] == "none"
        assert set(topic["partitions"][0]) == {"id", "created_at", "segments_count", "current_offset", "size",
                                               "messages_count"}
        await h.error("POST", "/streams/crud2/topics", 400, 2015, json=topic_body("x", 1001))
        await h.error("POST", "/streams/crud2/topics", 400, 2018, json=topic_body("x", replication_factor=0))
        await h.error("POST", "/streams/nope/topics", 404, 1009, json=topic_body("x"))
        assert [t["name"] for t in await h.ok("GET", "/streams/crud2/topics")] == ["t"]
        await h.ok("PUT", "/streams/crud2/topics/t", 204, json=topic_body("t", compression_algorithm="gzip"))
        assert (await h.ok("GET", "/streams/crud2/topics/t"))["compression_algorithm"] == "gzip"
        assert (await h.call("GET", "/streams/crud2/topics/missing"))[0] == 404
        assert (await h.call("GET", "/streams/missing/topics"))[0] == 404

        await h.ok("POST", "/streams/crud2/topics/t/partitions", 201, json={"partitions_count": 3})
        assert (await h.ok("GET", "/streams/crud2/topics/t"))["partitions_count"] == 5
        await h.ok("DELETE", "/streams/crud2/topics/t/partitions", 204, params={"partitions_count": 4})
        assert [p["id"] for p in (await h.ok("GET", "/streams/crud2/topics/t"))["partitions"]] == [0]
        await h.error("DELETE", "/streams/crud2/topics/t/partitions", 400, 2015, params={"partitions_count": 0})
        # Segments: the only segment is the active one, which is never deleted.
        await h.ok("DELETE", "/streams/crud2/topics/t/partitions/0", 204, params={"segments_count": 1})
        await h.error("DELETE", "/streams/crud2/topics/t/partitions/9", 404, 3007, params={"segments_count": 1})

        await h.ok("DELETE", "/streams/crud2/topics/t/purge", 204)
        await h.ok("DELETE", "/streams/crud2/purge", 204)
        await h.ok("DELETE", "/streams/crud2/topics/t", 204)
        assert await h.ok("GET", "/streams/crud2/topics") == []
        await h.ok("DELETE", "/streams/crud2", 204)
        await h.error("DELETE", "/streams/crud2", 404, 1009)


async def test_send_and_poll_every_strategy(http_node) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as s:
        h = await Http.login(s, http_node)
        await h.ok("POST", "/streams", json={"name": "msg"})
        await h.ok("POST", "/streams/msg/topics", json=topic_body("t", 3))
        path = "/streams/msg/topics/t/messages"
        p0 = {"kind": "partition_id", "value": b64(struct.pack("<I", 0))}
        before = time.time_ns() // 1000
        headers = [{"key": {"kind": "string", "value": b64(b"trace")}, "value": {"kind": "uint32", "value": b64(struct.pack("<I", 7))}}]
        uuid_hex = "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
        await h.ok("POST", path, 201, json={"partitioning": p0, "messages": [
            {"payload": b64(b"m0")},
            {"id": 42, "payload": b64(b"m1"), "user_headers": headers},
            {"id": "12345678901234567890123", "payload": b64(b"m2")},
            {"id": uuid_hex, "payload": b64(b"m3"), "user_headers": b64(b"\x01\x02")},
        ]})
        await asyncio.sleep(0.01)
        middle = time.time_ns() // 1000
        await h.ok("POST", path, 201, json={"partitioning": p0, "messages": [{"payload": b64(f"m{i}".encode())} for i in range(4, 8)]})

        def texts(polled: dict) -> list[str]:
            return [base64.b64decode(m["payload"]).decode() for m in polled["messages"]]

        got = await h.ok("GET", path, params={"kind": "offset", "value": 0, "count": 4})
        assert (got["partition_id"], got["current_offset"], got["count"]) == (0, 7, 4)
        m0, m1, m2, m3 = got["messages"]
        assert m0["header"]["id"] != 0 and m1["header"]["id"] == 42
        assert m2["header"]["id"] == 12345678901234567890123 and m3["header"]["id"] == int(uuid_hex.replace("-", ""), 16)
        assert m1["user_headers"] == headers and m0["user_headers"] == []
        assert m3["user_headers"] == b64(b"\x01\x02")  # undecodable headers come back raw, in base64
        assert m1["header"]["user_headers_length"] > 0 and m1["header"]["payload_length"] == 2
        assert all(m["header"]["timestamp"] >= before and m["header"]["reserved"] == 0 for m in got["messages"])
        assert texts(await h.ok("GET", path, params={"kind": "o", "value": 2, "count": 3})) == ["m2", "m3", "m4"]
        assert texts(await h.ok("GET", path, params={"kind": "first", "count": 2})) == ["m0", "m1"]
        assert texts(await h.ok("GET", path, params={"kind": "last", "count": 2})) == ["m6", "m7"]
        assert texts(await h.ok("GET", path, params={"kind": "timestamp", "value": middle, "count": 10})) == [
            "m4", "m5", "m6", "m7"]
        assert (await h.ok("GET", path, params={"kind": "offset", "value": 100}))["messages"] == []
        assert (await h.ok("GET", path, params={"count": 0}))["count"] == 0
        # Next + auto-commit walks forward through consumer 9's stored offset.
        walk = []
        for _ in range(3):
            walk += texts(await h.ok("GET", path, params={"kind": "next", "count": 3, "consumer_id": 9,
                                                           "auto_commit": "true"}))
        assert walk == [f"m{i}" for i in range(8)]
        stored = await h.ok("GET", "/streams/msg/topics/t/consumer-offsets", params={"consumer_id": 9})
        assert stored == {"partition_id": 0, "current_offset": 7, "stored_offset": 7}
        # The default consumer (1) stored nothing.
        assert (await h.call("GET", "/streams/msg/topics/t/consumer-offsets"))[0] == 404

        # Balanced and messages_key partitioning.
        await h.ok("POST", path, 201, json={"partitioning": {"kind": "balanced", "value": ""},
                                            "messages": [{"payload": b64(b"b")}] })
        await h.ok("POST", path, 201, json={"partitioning": {"kind": "messages_key", "value": b64(b"user-1")},
                                            "messages": [{"payload": b64(b"k")}]})
        counts = [(await h.ok("GET", path, params={"partition_id": p, "count": 100}))["count"] for p in range(3)]
        assert sum(counts) == 10
        # Flush: 0.8's SDK sends the last segment as "fsync=<bool>"; both spellings work.
        await h.ok("GET", path + "/flush/0/true")
        await h.ok("GET", path + "/flush/0/fsync=false")
        await h.error("GET", path + "/flush/0/maybe", 400, 4)

        # Rejected sends.
        await h.error("POST", path, 404, 3007, json={"partitioning": {"kind": "partition_id", "value": b64(struct.pack("<I", 9))},
                                                       "messages": [{"payload": b64(b"x")}]})
        await h.error("POST", path, 400, 4009, json={"partitioning": p0, "messages": []})
        await h.error("POST", path, 400, 4, json={"partitioning": p0, "messages": [{"payload": "not base64!"}]})
        await h.error("POST", path, 400, 4028, json={"partitioning": {"kind": "messages_key", "value": ""},
                                                       "messages": [{"payload": b64(b"x")}]})
        await h.error("POST", "/streams/msg/topics/missing/messages", 404, 2010,
                      json={"partitioning": p0, "messages": [{"payload": b64(b"x")}]})
        await h.error("GET", path, 400, 3, params={"kind": "sideways"})
        await h.error("GET", path, 400, 4, params={"count": -1})
        await h.error("GET", "/streams/nope/topics/t/messages", 404, 1009)
        assert (await h.ok("GET", "/streams/msg/topics/t"))["messages_count"] == 10


async def test_consumer_groups_and_offsets(http_node) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as s:
        h = await Http.login(s, http_node)
        await h.ok("POST", "/streams", json={"name": "grp"})
        await h.ok("POST", "/streams/grp/topics", json=topic_body("t", 2))
        groups = "/streams/grp/topics/t/consumer-groups"
        assert await h.ok("GET", groups) == []
        g = await h.ok("POST", groups, 201, json={"name": "g1"})
        assert g == {"id": 0, "name": "g1", "partitions_count": 2, "members_count": 0, "members": []}
        await h.error("POST", groups, 400, 5004, json={"name": "g1"})
        assert await h.ok("GET", groups) == [{"id": 0, "name": "g1", "partitions_count": 2, "members_count": 0}]
        assert (await h.ok("GET", groups + "/g1"))["members"] == []
        # A member joined over TCP shows up with its partitions.
        tcp = await TestClient.connect(http_node.address)
        from whippet.wire import requests as rq
        from whippet.wire.primitives import Identifier

        await tcp.call(rq.JoinConsumerGroup(stream_id=Identifier("grp"), topic_id=Identifier("t"), group_id=Identifier("g1")))
        detail = await h.ok("GET", groups + "/0")
        assert detail["members_count"] == 1 and sorted(detail["members"][0]["partitions"]) == [0, 1]
        await tcp.close()
        await h.ok("DELETE", groups + "/g1", 204)
        assert (await h.call("GET", groups + "/g1"))[0] == 404
        await h.error("DELETE", groups + "/g1", 404, 5000)
        assert (await h.call("GET", "/streams/grp/topics/none/consumer-groups"))[0] == 404

        offsets = "/streams/grp/topics/t/consumer-offsets"
        p1 = {"kind": "partition_id", "value": b64(struct.pack("<I", 1))}
        await h.ok("POST", "/streams/grp/topics/t/messages", 201,
                   json={"partitioning": p1, "messages": [{"payload": b64(b"x")} for _ in range(3)]})
        await h.ok("PUT", offsets, 204, json={"consumer_id": "reader", "partition_id": 1, "offset": 1})
        got = await h.ok("GET", offsets, params={"consumer_id": "reader", "partition_id": 1})
        assert got == {"partition_id": 1, "current_offset": 2, "stored_offset": 1}
        await h.error("PUT", offsets, 400, 4100, json={"consumer_id": "reader", "partition_id": 1, "offset": 5})
        await h.error("PUT", offsets, 400, 4, json={"consumer_id": "reader", "partition_id": 1})
        await h.ok("DELETE", offsets + "/reader", 204, params={"partition_id": 1})
        assert (await h.call("GET", offsets, params={"consumer_id": "reader", "partition_id": 1}))[0] == 404
        await h.error("DELETE", offsets + "/reader", 404, 3021, params={"partition_id": 1})


async def test_users_and_personal_access_tokens(http_node) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as s:
        root = await Http.login(s, http_node)
        perms = {"global": {"read_streams": True}, "streams": {"3": {"read_stream": True, "topics": {"1": {"poll_messages": True}}}}}
        bob = await root.ok("POST", "/users", json={"username": "bob", "password": "bob-pw", "status": "active",
                                                    "permissions": perms})
        assert bob["username"] == "bob" and bob["status"] == "active"
        assert bob["permissions"]["global"]["read_streams"] and not bob["permissions"]["global"]["manage_users"]
        assert bob["permissions"]["streams"]["3"]["topics"]["1"]["poll_messages"] is True
        await root.error("POST", "/users", 400, 46, json={"username": "bob", "password": "xyz-pw", "status": "active"})
        await root.error("POST", "/users", 400, 43, json={"username": "b", "password": "xyz-pw", "status": "active"})
        await root.error("POST", "/users", 400, 45, json={"username": "carl", "password": "xyz-pw", "status": "gone"})
        assert [u["username"] for u in await root.ok("GET", "/users")] == ["iggy", "bob"]
        assert (await root.ok("GET", "/users/bob"))["id"] == bob["id"]
        assert (await root.call("GET", "/users/nobody"))[0] == 404

        await root.ok("PUT", "/users/bob", 204, json={"username": "robert"})
        await root.ok("PUT", "/users/robert/permissions", 204, json={"permissions": None})
        assert (await root.ok("GET", "/users/robert"))["permissions"] is None
        bob_http = await Http.login(s, http_node, "robert", "bob-pw")
        assert (await bob_http.ok("GET", f"/users/{bob['id']}"))["username"] == "robert"  # own user: allowed
        await bob_http.error("GET", "/users", 403, 41)
        await bob_http.error("PUT", "/users/robert/password", 400, 42,
                             json={"current_password": "wrong-pw", "new_password": "new-pw"})
        await bob_http.ok("PUT", "/users/robert/password", 204, json={"current_password": "bob-pw", "new_password": "new-pw"})
        await root.error("POST", "/users/login", 400, 42, json={"username": "robert", "password": "bob-pw"})
        await root.ok("PUT", "/users/robert", 204, json={"status": "inactive"})
        await root.error("POST", "/users/login", 400, 47, json={"username": "robert", "password": "new-pw"})
        await root.error("DELETE", "/users/0", 400, 48)

        # Personal access tokens: create (shown once), list, log in with, delete.
        raw = (await root.ok("POST", "/personal-access-tokens", json={"name": "ci-token", "expiry": 0}))["token"]
        await root.ok("POST", "/personal-access-tokens", json={"name": "short", "expiry": 60_000_000})
        listed = await root.ok("GET", "/personal-access-tokens")
        assert [t["name"] for t in listed] == ["ci-token", "short"] and listed[0]["expiry_at"] is None
        assert listed[1]["expiry_at"] > time.time() * 1e6
        await root.error("POST", "/personal-access-tokens", 400, 51, json={"name": "ci-token", "expiry": 0})
        await root.error("POST", "/personal-access-tokens", 400, 50, json={"name": "ab", "expiry": 0})
        ident = await root.ok("POST", "/personal-access-tokens/login", json={"token": raw})
        assert ident["user_id"] == 0
        via_pat = Http(s, root.base, ident["access_token"]["token"])
        assert isinstance(await via_pat.ok("GET", "/streams"), list)
        await root.ok("DELETE", "/personal-access-tokens/ci-token", 204)
        await root.error("POST", "/personal-access-tokens/login", 404, 20, json={"token": raw})
        await root.ok("DELETE", "/users/robert", 204)
        assert (await root.call("GET", "/users/robert"))[0] == 404


async def test_system_routes(http_node) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as s:
        h = await Http.login(s, http_node)
        tcp = await TestClient.connect(http_node.address)
        stats = await h.ok("GET", "/stats")
        assert stats["iggy_server_version"] and stats["clients_count"] >= 1
        assert stats["memory_usage"].endswith("B") and isinstance(stats["run_time"], int)
        clients = await h.ok("GET", "/clients")
        assert [c["transport"] for c in clients] == ["tcp"] and clients[0]["user_id"] == 0
        one = await h.ok("GET", f"/clients/{clients[0]['client_id']}")
        assert one["consumer_groups"] == [] and one["address"] == clients[0]["address"]
        assert (await h.call("GET", "/clients/0"))[0] == 404  # the HTTP pseudo-client is not listed
        assert (await h.call("GET", "/clients/12345"))[0] == 404
        await h.error("GET", "/clients/abc", 400, 4)
        me = await h.ok("GET", "/me")
        assert (me["client_id"], me["transport"], me["user_id"]) == (0, "http", 0)
        await tcp.close()
        meta = await h.ok("GET", "/cluster/metadata")
        node = meta["nodes"][0]
        assert (node["role"], node["status"], node["endpoints"]["http"]) == ("leader", "healthy", http_node.http_port)
        status, data = await h.call("POST", "/snapshot", raw=True, json={"compression": "Deflated", "snapshot_types": ["All"]})
        assert status == 200 and zipfile.ZipFile(io.BytesIO(data)).namelist()
        await h.error("POST", "/snapshot", 400, 3, json={"compression": "Deflated", "snapshot_types": ["All", "Test"]})
