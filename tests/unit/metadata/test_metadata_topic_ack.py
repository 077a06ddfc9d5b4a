"""A topic's producer ack level: the SetTopicAck command, its rejections, and snapshots
(with the field, and written before topics had one)."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from tests.unit.metadata.metadata_helpers import machine_with_topic, reject
from whippet.metadata import commands as c
from whippet.metadata import events as e
from whippet.metadata.machine import MetadataMachine
from whippet.replication.quorum import LeaderCore
from whippet.wire.ack import ACK_LEVELS
from whippet.wire.errors import (
    InvalidCommand,
    StateFileCorrupted,
    StreamIdNotFound,
    TopicIdNotFound,
)

_HEAD = struct.Struct("<4sB3sII")


def _reframe(body: dict[str, object]) -> bytes:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return _HEAD.pack(b"WHMS", 1, b"\0\0\0", len(raw), zlib.crc32(raw)) + raw


def _body(m: MetadataMachine) -> dict[str, object]:
    return json.loads(m.snapshot()[_HEAD.size :])


def test_the_levels_are_the_ones_replication_acts_on() -> None:
    """Each level, weakest first, is a distinct rule of the leader (replication.quorum)."""
    core = LeaderCore(epoch=1, start=0, replicas=(1, 2, 3), self_id=1, log_end=5, now=0.0)
    held = [[level for level in ACK_LEVELS if core.satisfied(5, level, 0.0)]]
    core.fetched(2, 5, available_end=5, now=0.0)
    held.append([level for level in ACK_LEVELS if core.satisfied(5, level, 0.0)])
    core.fetched(3, 5, available_end=5, now=0.0)
    held.append([level for level in ACK_LEVELS if core.satisfied(5, level, 0.0)])
    assert held == [list(ACK_LEVELS[:1]), list(ACK_LEVELS[:2]), list(ACK_LEVELS)]


def test_golden_bytes() -> None:
    assert (
        c.SetTopicAck(1, 2, "quorum").encode()
        == b'\x01{"ack":"quorum","op":"SetTopicAck","stream_id":1,"topic_id":2}'
    )


def test_a_new_topic_uses_the_node_default() -> None:
    assert machine_with_topic().topic(0, 0).ack == ""


@pytest.mark.parametrize("ack", ACK_LEVELS)
def test_set_and_reset(ack: str) -> None:
    m = machine_with_topic()
    assert m.apply(c.SetTopicAck(0, 0, ack)) is None
    assert m.topic(0, "t").ack == ack
    assert m.events == [e.TopicUpdated(0, 0)]
    m.apply(c.SetTopicAck(0, 0, ack))  # the same value again changes nothing
    assert m.events == []
    m.apply(c.SetTopicAck(0, 0, ""))
    assert m.topic(0, 0).ack == "" and m.events == [e.TopicUpdated(0, 0)]


@pytest.mark.parametrize("ack", ["none", "Quorum", "majority", " all", "default"])
def test_an_unknown_level_is_rejected_and_changes_nothing(ack: str) -> None:
    m = machine_with_topic()
    m.apply(c.SetTopicAck(0, 0, "all"))
    reject(m, c.SetTopicAck(0, 0, ack), InvalidCommand)
    assert m.topic(0, 0).ack == "all"


def test_a_missing_stream_or_topic_is_not_found() -> None:
    m = machine_with_topic()
    reject(m, c.SetTopicAck(9, 0, "all"), StreamIdNotFound)
    reject(m, c.SetTopicAck(0, 9, "all"), TopicIdNotFound)


def test_other_topic_commands_keep_the_setting() -> None:
    m = machine_with_topic()
    m.apply(c.SetTopicAck(0, 0, "leader"))
    m.apply(c.UpdateTopic(0, 0, "renamed", 1, 0, 0, 1))
    m.apply(c.CreatePartitions(0, 0, 1, 5))
    m.apply(c.PurgeTopic(0, 0))
    assert m.topic(0, "renamed").ack == "leader"


def test_snapshot_carries_the_setting() -> None:
    m = machine_with_topic()
    m.apply(c.SetTopicAck(0, 0, "all"))
    r = MetadataMachine.restore(m.snapshot())
    assert r.topic(0, 0).ack == "all"
    assert r.snapshot() == m.snapshot() and r.state == m.state


def test_a_snapshot_written_before_topics_had_an_ack_still_loads() -> None:
    m = machine_with_topic()
    body = _body(m)
    for stream in body["streams"]:  # type: ignore[attr-defined]
        for topic in stream["topics"]:
            del topic["ack"]
    r = MetadataMachine.restore(_reframe(body))
    assert r.topic(0, 0).ack == ""
    assert r.state == m.state


@pytest.mark.parametrize("bad", ["most", 2, None, ["all"]])
def test_a_snapshot_with_an_unknown_level_is_corrupt(bad: object) -> None:
    body = _body(machine_with_topic())
    body["streams"][0]["topics"][0]["ack"] = bad  # type: ignore[index]
    with pytest.raises(StateFileCorrupted, match="structure"):
        MetadataMachine.restore(_reframe(body))
