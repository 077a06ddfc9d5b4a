"""Bad bytes after either framing's first bytes, against one real node on one port.

Every case opens a connection, sends a valid first frame's start (a 0.8 length
or a 0.9 header's zero checksum) followed by mutated bytes, and then reads until
the node answers or closes. Whatever it does, the node must stay up and its
state must not change unless it said the request succeeded: after each case a
fresh client compares streams, topics and users with the state before.
Deterministic (seeded) and bounded in count and time.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from tests.support.client import TestClient
from tests.support.client09 import Client09, login_body
from whippet.wire import requests as rq
from whippet.wire._codec import Identifier, Writer
from whippet.wire.framing import encode_request
from whippet.wire.responses import decode_streams, decode_users
from whippet.wire.v09.header import COMMAND_REPLY, HEADER_SIZE, Operation

pytestmark = pytest.mark.asyncio

_CASES = 120
_BUDGET_S = 60.0


async def _state(node) -> tuple[object, ...]:
    c = await TestClient.connect(node.address)
    await c.login("iggy", "iggy")
    streams = decode_streams(await c.call(rq.GetStreams()))
    users = decode_users(await c.call(rq.GetUsers()))
    await c.close()
    return tuple((s.id, s.name, s.topics_count, s.messages_count) for s in streams), tuple(
        (u.id, u.username, u.status) for u in users
    )


def _mutate(rng: random.Random, data: bytes, keep: int) -> bytes:
    """Flip, insert, delete or truncate bytes past the first ``keep``."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if len(b) <= keep:
            b += rng.randbytes(rng.randint(1, 32))
            continue
        at = rng.randrange(keep, len(b))
        op = rng.randrange(4)
        if op == 0:
            b[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[at:at] = rng.randbytes(rng.randint(1, 16))
        elif op == 2:
            del b[at : at + rng.randint(1, 16)]
        else:
            del b[at:]
    return bytes(b)


_LOGIN08 = encode_request(38, rq.LoginUser(username="iggy", password="iggy").encode())


def _v08_frames(rng: random.Random) -> list[bytes]:
    """Frames sent after an intact login on the same connection."""
    create = encode_request(202, Writer().name8(f"f{rng.randrange(1000)}").getvalue())
    topic = encode_request(302, rq.CreateTopic(stream_id=Identifier(0), partitions_count=1, compression=1,
                                               message_expiry=0, max_topic_size=0, replication_factor=1,
                                               name="t").encode())  # fmt: skip
    send = encode_request(101, bytes(4) + rng.randbytes(rng.randint(0, 200)))
    return [create, topic, send, encode_request(rng.randrange(700), rng.randbytes(rng.randint(0, 40)))]


def _v09_frames(client: Client09, rng: random.Random) -> list[bytes]:
    name = Writer().name8(f"g{rng.randrange(1000)}").getvalue()
    register = client.frame(Operation.REGISTER, login_body("iggy", "iggy"), request=0, session=0)
    create = client.frame(Operation.CREATE_STREAM, name, request=client.request + 1)
    topic = client.frame(Operation.CREATE_TOPIC, b"\x01\x04\x00\x00\x00\x00\x01\x00\x00\x00\x01t",
                         request=client.request + 1)  # fmt: skip
    send = client.frame(Operation.SEND_MESSAGES, bytes(4) + rng.randbytes(rng.randint(0, 300)),
                        request=client.request + 1, checksum=0)  # fmt: skip
    read = client.frame(Operation.NON_REPLICATED, rng.randbytes(rng.randint(0, 40)), code=rng.randrange(700), checksum=0)
    return [register, create, topic, send, read]


async def _drain(reader: asyncio.StreamReader, v09: bool) -> bool:
    """Read answers until the node closes or goes quiet; True if any said success."""
    ok = False
    buf = b""
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(1 << 16), 1.0)
        except TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
    if v09:
        pos = 0
        while pos + HEADER_SIZE <= len(buf):  # replies (command 8) with status 0
            ok = ok or (buf[pos + 60] == COMMAND_REPLY and buf[pos + 216 : pos + 220] == b"\0\0\0\0")
            pos += max(HEADER_SIZE, int.from_bytes(buf[pos + 48 : pos + 52], "little"))
    else:
        pos, first = 0, True
        while pos + 8 <= len(buf):  # [status][length][payload]; the first answers the login
            ok = ok or (not first and buf[pos : pos + 4] == b"\0\0\0\0")
            pos += 8 + int.from_bytes(buf[pos + 4 : pos + 8], "little")
            first = False
    return ok


async def _case(node, rng: random.Random, v09: bool) -> bool:
    """One connection with a mutated frame; True if the node reported a success."""
    if v09:
        c = await Client09.connect(node.address)
        if rng.random() < 0.6:  # most cases go past the login, so the session checks pass
            await c.login()
        data = _mutate(rng, rng.choice(_v09_frames(c, rng)), 4)
        reader, writer = c._reader, c._writer
    else:
        host, _, port = node.address.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        data = _LOGIN08 + _mutate(rng, rng.choice(_v08_frames(rng)), 4)
    try:
        writer.write(data)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        return await _drain(reader, v09)
    except (ConnectionError, asyncio.IncompleteReadError):
        return False
    finally:
        writer.close()


async def test_bad_bytes_never_crash_the_node_or_change_its_state(node) -> None:
    rng = random.Random(0x09F022)
    baseline = await _state(node)
    started = time.monotonic()
    cases = 0
    while cases < _CASES and time.monotonic() - started < _BUDGET_S:
        succeeded = await _case(node, rng, v09=cases % 2 == 1)
        assert node.proc.poll() is None, f"case {cases}: the node died\n{node.read_log()}"
        state = await _state(node)
        if not succeeded:
            assert state == baseline, f"case {cases}: state changed by a refused request"
        baseline = state
        cases += 1
    assert cases >= 20
    assert "Traceback" not in node.read_log()
    # The port still speaks both protocols afterwards.
    c = await Client09.connect(node.address)
    assert (await c.login())[1] == 0
    await c.close()
    await _state(node)
