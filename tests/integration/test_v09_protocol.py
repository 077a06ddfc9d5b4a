"""The 0.9 session rules against a real node, with a raw client that can break them.

Covers the login gate and its evictions, request checksums, exactly-once
metadata writes per (client, request), session checks, SyncConsumerGroup
generations and the fencing of a stale group member.
"""

from __future__ import annotations

import pytest

from tests.support.client import TestClient
from tests.support.client09 import Client09, login_body
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire._codec import Identifier, Writer
from whippet.wire.primitives import Consumer, PollingStrategy
from whippet.wire.responses import decode_streams
from whippet.wire.v09.header import (
    COMMAND_EVICTION,
    COMMAND_REPLY,
    Eviction,
    Operation,
    pack_version,
)

pytestmark = pytest.mark.asyncio

_S = Identifier("s")
_T = Identifier("t")


def _name(name: str) -> bytes:
    return Writer().name8(name).getvalue()


async def _stream_names(node) -> list[str]:
    c = await TestClient.connect(node.address)
    await c.login("iggy", "iggy")
    names = [s.name for s in decode_streams(await c.call(rq.GetStreams()))]
    await c.close()
    return names


async def _logged_in(node) -> Client09:
    c = await Client09.connect(node.address)
    command, status, _ = await c.login()
    assert (command, status) == (COMMAND_REPLY, 0)
    return c


async def test_login_gate_and_evictions(node) -> None:
    c = await Client09.connect(node.address)
    assert await c.ping() == (COMMAND_REPLY, 0, b"")  # Ping is served before login
    assert (await c.command(codes.GET_STREAMS))[1] == 40  # a read needs a login: status
    assert (await c.call(Operation.CREATE_STREAM, _name("x")))[:2] == (COMMAND_EVICTION, Eviction.NO_SESSION)
    assert (await c.login("iggy", "wrong"))[:2] == (COMMAND_EVICTION, Eviction.INVALID_CREDENTIALS)
    assert (await c.login("nobody", "iggy"))[:2] == (COMMAND_EVICTION, Eviction.INVALID_CREDENTIALS)
    too_new = login_body("iggy", "iggy", pack_version(0, 12, 0))
    await c.send_raw(c.frame(Operation.REGISTER, too_new, request=0, session=0))
    assert (await c.read_reply())[:2] == (COMMAND_EVICTION, Eviction.INCOMPATIBLE_PROTOCOL)
    await c.send_raw(c.frame(Operation.REGISTER, b"\x00\x2c\x00\x00\x03abc", request=0, session=0))
    assert (await c.read_reply())[:2] == (COMMAND_EVICTION, Eviction.MALFORMED_LOGIN)
    legacy = rq.LoginUser(username="iggy", password="iggy").encode()
    assert (await c.call(Operation.NON_REPLICATED, legacy, code=codes.LOGIN_USER))[:2] == (
        COMMAND_EVICTION, Eviction.MALFORMED_LOGIN)  # fmt: skip
    command, status, body = await c.login()  # the connection stayed usable
    assert (command, status) == (COMMAND_REPLY, 0)
    assert body[:4] == b"\0\0\0\0" and int.from_bytes(body[8:16], "little") == c.session != 0
    assert body[16:20] == pack_version(0, 11, 0).to_bytes(4, "little")
    assert await _stream_names(node) == []
    await c.close()


async def test_incompatible_protocol_eviction_carries_the_window(node) -> None:
    c = await Client09.connect(node.address)
    await c.send_raw(c.frame(Operation.REGISTER, login_body("iggy", "iggy", pack_version(0, 10, 0)),
                             request=0, session=0))  # fmt: skip
    head = await c._reader.readexactly(256)
    assert head[60] == COMMAND_EVICTION and head[255] == Eviction.INCOMPATIBLE_PROTOCOL
    assert int.from_bytes(head[144:148], "little") == pack_version(0, 11, 0)
    assert int.from_bytes(head[148:152], "little") == pack_version(0, 11, 0)
    assert int.from_bytes(head[128:144], "little") == c.client
    await c.close()


async def test_request_checksum_must_match_the_body(node) -> None:
    c = await _logged_in(node)
    assert (await c.call(Operation.CREATE_STREAM, _name("bad"), checksum=12345))[1] == 4
    assert await _stream_names(node) == []
    assert (await c.call(Operation.CREATE_STREAM, _name("good")))[1] == 0
    assert await _stream_names(node) == ["good"]
    await c.close()


async def test_a_retried_metadata_write_is_applied_once(node) -> None:
    c = await _logged_in(node)
    frame = c.frame(Operation.CREATE_STREAM, _name("once"), request=1)
    await c.send_raw(frame)
    first = await c.read_reply()
    await c.send_raw(frame)  # the SDK's retry after TransientNotCommitted: same client, request, body
    again = await c.read_reply()
    assert first[:2] == again[:2] == (COMMAND_REPLY, 0)
    assert first[2][:8] == again[2][:8]  # result ok and the same stream id
    assert await _stream_names(node) == ["once"]
    # The same request number with another body, or an older number: refused, nothing applied.
    assert (await c.call(Operation.CREATE_STREAM, _name("other"), request=1))[1] == 59
    assert (await c.call(Operation.CREATE_STREAM, _name("older"), request=2))[1] == 0
    assert (await c.call(Operation.CREATE_STREAM, _name("stale"), request=1))[1] == 59
    assert await _stream_names(node) == ["once", "older"]
    # Another client's request 1 is its own.
    d = await _logged_in(node)
    assert (await d.call(Operation.CREATE_STREAM, _name("theirs"), request=1))[1] == 0
    assert await _stream_names(node) == ["once", "older", "theirs"]
    await c.close()
    await d.close()


async def test_replicated_requests_need_the_bound_session(node) -> None:
    c = await _logged_in(node)
    reply = await c.call(Operation.CREATE_STREAM, _name("x"), session=c.session + 1)
    assert reply[:2] == (COMMAND_EVICTION, Eviction.SESSION_ERROR)
    assert (await c.call(Operation.CREATE_STREAM, _name("x"), request=0))[:2] == (
        COMMAND_EVICTION, Eviction.INVALID_REQUEST_OPERATION)  # fmt: skip
    assert (await c.call(Operation.LOGOUT))[:2] == (COMMAND_REPLY, 0)
    assert (await c.call(Operation.CREATE_STREAM, _name("x")))[:2] == (COMMAND_EVICTION, Eviction.NO_SESSION)
    assert (await c.command(codes.GET_STREAMS))[1] == 40
    assert await _stream_names(node) == []
    await c.close()


def _ids(*idents: Identifier) -> bytes:
    w = Writer()
    for ident in idents:
        ident.write(w)
    return w.getvalue()


async def _sync(c: Client09) -> tuple[int, list[int]]:
    _, status, body = await c.command(606, _ids(_S, _T, Identifier("g")))
    assert status == 0 and body
    n = int.from_bytes(body[8:12], "little")
    return int.from_bytes(body[:8], "little"), [int.from_bytes(body[12 + 4 * i : 16 + 4 * i], "little") for i in range(n)]


async def test_sync_consumer_group_generations_and_fencing(node) -> None:
    a = await _logged_in(node)
    assert (await a.call(Operation.CREATE_STREAM, _name("s")))[1] == 0
    topic = _ids(_S) + (2).to_bytes(4, "little") + _name("t")
    assert (await a.call(Operation.CREATE_TOPIC, topic))[1] == 0
    group = _ids(_S, _T) + _name("g")
    assert (await a.call(Operation.CREATE_CONSUMER_GROUP, group))[1] == 0
    assert (await a.command(606, _ids(_S, _T, Identifier("g")))) == (COMMAND_REPLY, 0, b"")  # not a member yet
    assert (await a.call(Operation.JOIN_CONSUMER_GROUP, _ids(_S, _T, Identifier("g"))))[1] == 0
    gen1, owned = await _sync(a)
    assert owned == [0, 1]
    b = await _logged_in(node)
    assert (await b.call(Operation.JOIN_CONSUMER_GROUP, _ids(_S, _T, Identifier("g"))))[1] == 0
    gen2, owned_a = await _sync(a)
    _, owned_b = await _sync(b)
    assert gen2 > gen1 and len(owned_a) == len(owned_b) == 1 and set(owned_a) | set(owned_b) == {0, 1}
    # A poll or an offset write on the partition a member lost is fenced with 5009.
    lost = owned_b[0]
    poll = rq.PollMessages(consumer=Consumer.group("g"), stream_id=_S, topic_id=_T, partition_id=lost,
                           strategy=PollingStrategy.next(), count=1, auto_commit=False).encode()  # fmt: skip
    assert (await a.command(codes.POLL_MESSAGES, poll))[1] == 5009
    store = rq.StoreConsumerOffset(consumer=Consumer.group("g"), stream_id=_S, topic_id=_T,
                                   partition_id=lost, offset=0).encode() + b"\x01"  # fmt: skip
    assert (await a.call(Operation.STORE_CONSUMER_OFFSET, store, checksum=0))[1] == 5009
    own = rq.PollMessages(consumer=Consumer.group("g"), stream_id=_S, topic_id=_T, partition_id=owned_a[0],
                          strategy=PollingStrategy.next(), count=1, auto_commit=False).encode()  # fmt: skip
    assert (await a.command(codes.POLL_MESSAGES, own))[1] == 0
    await a.close()
    await b.close()
