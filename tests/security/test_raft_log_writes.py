"""A refused request never reaches the metadata Raft log (found by the fuzzer's Raft tripwire).

Each of these used to be proposed and fail only when applied, one journal entry per
request from a user without any permission: deleting a token one does not have,
creating one twice or over the limit, a consumer-offset read one may not do (its
linearizable barrier came before the permission check), and a token whose expiry
overflowed 64 bits.
"""

from __future__ import annotations

import pytest

from tests.security.state import _settled_commit_index
from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.errors import IggyError
from whippet.wire.primitives import Consumer, Identifier

pytestmark = pytest.mark.asyncio


async def test_refused_requests_of_a_user_without_permissions_write_nothing(node_factory) -> None:  # type: ignore[no-untyped-def]
    node = node_factory(extra_env={"WHIPPET_AUTH_MAX_TOKENS_PER_USER": "2"})
    root = await TestClient.connect(node.address)
    await root.create_stream("s")
    await root.create_topic("s", "t")
    await root.call(rq.CreateUser(username="nobody", password="nobody-pw", status=1, permissions=None))
    await root.close()
    c = await TestClient.connect(node.address, login=("nobody", "nobody-pw"))
    await c.call(rq.CreatePersonalAccessToken(name="one", expiry=0))
    await c.call(rq.CreatePersonalAccessToken(name="two", expiry=(1 << 64) - 2))  # overflows: never expires
    tokens = rs.decode_personal_access_tokens(await c.call(rq.GetPersonalAccessTokens()))
    assert {(t.name, t.expiry_at) for t in tokens} == {("one", 0), ("two", 0)}
    before = await _settled_commit_index(node.http_port)
    refused = {
        "delete a token it does not have": (rq.DeletePersonalAccessToken(name="none"), 20),
        "create a token twice": (rq.CreatePersonalAccessToken(name="one", expiry=0), 51),
        "create one over the limit": (rq.CreatePersonalAccessToken(name="three", expiry=0), 52),
        "read an offset it may not": (rq.GetConsumerOffset(consumer=Consumer.consumer(1), stream_id=Identifier("s"),
                                                           topic_id=Identifier("t"), partition_id=0), 41),
    }
    for what, (request, code) in refused.items():
        for _ in range(3):
            with pytest.raises(IggyError) as info:
                await c.call(request)
            assert info.value.status == code, what
    assert await _settled_commit_index(node.http_port) == before
    await c.close()
