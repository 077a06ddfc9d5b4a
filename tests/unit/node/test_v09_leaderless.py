"""A partition without a leader (leader < 0, mid-election) answers TransientNotAccepted (58)
to a 0.9 client, so its SDK retries and walks the roster instead of failing the call."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from tests.unit.metadata.metadata_helpers import machine_with_topic
from whippet.metadata import commands as c
from whippet.metadata.permissions import ROOT_PERMISSIONS
from whippet.node.session import Session
from whippet.node.v09 import commands
from whippet.wire import requests as rq
from whippet.wire._codec import Identifier
from whippet.wire.primitives import Consumer, Partitioning, PollingStrategy
from whippet.wire.v09.batch import encode_send_body
from whippet.wire.v09.errors import TransientNotAccepted


def _node_without_leader() -> SimpleNamespace:
    machine = machine_with_topic(nodes=1, partitions=2)
    machine.apply(c.CreateUser("root", "h", 1, ROOT_PERMISSIONS, 1))
    machine.topic(0, 0).partitions[1].leader = -1  # what the metadata says during an election
    return SimpleNamespace(meta=SimpleNamespace(lock=threading.RLock(), machine=machine), node_id=0)


def test_send_and_poll_on_a_leaderless_partition_are_transient() -> None:
    node = _node_without_leader()
    session = Session(client_id=7, address="x:1", transport=1, user_id=0)
    body = encode_send_body("s", "t", Partitioning.partition_id(1), [(1, b"m", b"", 1)])
    with pytest.raises(TransientNotAccepted) as exc:
        asyncio.run(commands.send(node, session, memoryview(body)))  # type: ignore[arg-type]
    assert exc.value.status == 58
    poll = rq.PollMessages(consumer=Consumer.consumer(1), stream_id=Identifier("s"), topic_id=Identifier("t"),
                           partition_id=1, strategy=PollingStrategy.offset(0), count=1, auto_commit=False)
    with pytest.raises(TransientNotAccepted):
        asyncio.run(commands.poll(node, session, poll))  # type: ignore[arg-type]
    routing = rq.GetConsumerOffset(consumer=Consumer.consumer(1), stream_id=Identifier("s"),
                                   topic_id=Identifier("t"), partition_id=1)
    with pytest.raises(TransientNotAccepted):
        asyncio.run(commands.routing(node, session, routing))  # type: ignore[arg-type]
