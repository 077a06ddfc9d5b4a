"""What an attacker must not be able to change: a digest of a node's observable state.

Read as root over a fresh TCP connection (so it also proves root can still log in):
every stream, topic and partition (names, settings, message counts and offsets), every
consumer group with its members, the stored offsets of a fixed set of consumers, every
user with its permissions, root's personal access tokens, that each listed credential
still logs in, and the metadata Raft commit index from ``/metrics`` (every change to
the metadata is a Raft entry, so this catches changes the API does not list, such as
an offset stored for a consumer id nobody asked about).

The digest is a dict of labelled values, so a failing comparison names what changed.
Reading a consumer offset is linearizable (a Raft no-op barrier, ``MetadataStore.barrier``),
so the digest itself moves the commit index: it is read before the digest's own reads
(``raft index at start``) and after them (``raft index at end``), and :func:`diff`
compares one digest's end with the next one's start.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from typing import Any

from tests.support.client import TestClient
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.errors import IggyError
from whippet.wire.primitives import Consumer, Identifier

__all__ = ["Digest", "diff", "raft_commit_index", "raft_delta", "state_digest"]

Digest = dict[str, Any]
START, END = "raft index at start", "raft index at end"
#: consumers whose stored offsets are part of the digest (kind-1 ids); groups are read from the state
CONSUMER_IDS = (0, 1, 2, 3, 7, 42)
_COMMIT = re.compile(r"^whippet_raft_commit_index (\S+)$", re.M)


def raft_commit_index(http_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    match = _COMMIT.search(text)
    return int(float(match.group(1))) if match else -1


async def _settled_commit_index(http_port: int, timeout: float = 3.0) -> int:
    """The commit index once it stopped moving: the metric is the Raft thread's status, refreshed
    per tick, so right after a write (or a barrier) it may not show it yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = raft_commit_index(http_port)
    while True:
        await asyncio.sleep(0.15)
        now = raft_commit_index(http_port)
        if now == last or loop.time() > deadline:
            return now
        last = now


async def _logs_in(address: str, username: str, password: str) -> bool:
    try:
        client = await TestClient.connect(address, login=(username, password))
    except IggyError:
        return False
    await client.close()
    return True


async def state_digest(address: str, http_port: int, *, root: tuple[str, str] = ("iggy", "iggy"),
                       logins: tuple[tuple[str, str], ...] = (), client: TestClient | None = None) -> Digest:
    """The node's observable state (see the module docstring); ``client``: read over this
    root connection instead of a new one (saves a password hash per digest)."""
    out: Digest = {START: await _settled_commit_index(http_port)}
    c = client or await TestClient.connect(address, login=root)
    try:
        for s in rs.decode_streams(await c.call(rq.GetStreams())):
            sid = Identifier(s.id)
            out[f"stream {s.id}"] = rs.StreamDetails.decode(await c.call(rq.GetStream(stream_id=sid)))
            for t in rs.decode_topics(await c.call(rq.GetTopics(stream_id=sid))):
                tid = Identifier(t.id)
                out[f"topic {s.id}/{t.id}"] = rs.TopicDetails.decode(
                    await c.call(rq.GetTopic(stream_id=sid, topic_id=tid)))
                groups = rs.decode_consumer_groups(await c.call(rq.GetConsumerGroups(stream_id=sid, topic_id=tid)))
                consumers = [Consumer.consumer(i) for i in CONSUMER_IDS] + [Consumer.group(g.id) for g in groups]
                for g in groups:
                    out[f"group {s.id}/{t.id}/{g.id}"] = rs.ConsumerGroupDetails.decode(await c.call(
                        rq.GetConsumerGroup(stream_id=sid, topic_id=tid, group_id=Identifier(g.id))))
                for p in range(t.partitions_count):
                    for consumer in consumers:
                        body = await c.call(rq.GetConsumerOffset(consumer=consumer, stream_id=sid, topic_id=tid,
                                                                 partition_id=p))
                        if body:
                            out[f"offset {s.id}/{t.id}/{p} {consumer}"] = rs.ConsumerOffsetInfo.decode(body)
        for u in rs.decode_users(await c.call(rq.GetUsers())):
            out[f"user {u.id}"] = rs.UserDetails.decode(await c.call(rq.GetUser(user_id=Identifier(u.id))))
        out["root tokens"] = rs.decode_personal_access_tokens(await c.call(rq.GetPersonalAccessTokens()))
    finally:
        if client is None:
            await c.close()
    for username, password in logins:
        out[f"login {username}"] = await _logs_in(address, username, password)
    out[END] = await _settled_commit_index(http_port)
    return out


def raft_delta(before: Digest, after: Digest) -> int:
    """Raft entries committed between two digests (not counting their own barriers)."""
    return int(after[START]) - int(before[END])


def diff(before: Digest, after: Digest) -> list[str]:
    """What changed between two digests, one line per key (empty when nothing did)."""
    lines = []
    for key in sorted((set(before) | set(after)) - {START, END}):
        if before.get(key) != after.get(key):
            lines.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    if raft_delta(before, after):
        lines.append(f"raft commit index: {before[END]} -> {after[START]}")
    return lines
