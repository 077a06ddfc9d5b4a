"""Stored consumer offsets, kept in the replicated metadata.

They live beside the partition's placement so that a new partition leader has
them the moment it takes over, and so a purge or a group deletion removes them in
the same deterministic step. The server checks the offset against the log before
it proposes a store (the log is not part of the state machine).
"""

from __future__ import annotations

from whippet.metadata import _lookup
from whippet.metadata.commands import DeleteConsumerOffset, StoreConsumerOffset
from whippet.metadata.events import Event
from whippet.metadata.model import MetadataState, Topic
from whippet.wire.errors import ConsumerOffsetNotFound, InvalidCommand, NotLeader

__all__ = ["clear_group", "clear_topic", "delete_offset", "store_offset"]


def _check_kind(kind: int) -> None:
    if kind not in (1, 2):
        raise InvalidCommand(f"consumer kind {kind} is neither 1 (consumer) nor 2 (group)")


def store_offset(st: MetadataState, cmd: StoreConsumerOffset, ev: list[Event]) -> None:
    _check_kind(cmd.kind)
    p = _lookup.partition(st, cmd.stream_id, cmd.topic_id, cmd.partition_id)
    if cmd.leader_epoch is not None and cmd.seq is not None:
        fence = (cmd.leader_epoch, cmd.seq)
        if fence <= p.offsets_fence:
            raise NotLeader(f"offset store from leader epoch {fence[0]} (#{fence[1]}) arrived after "
                            f"{p.offsets_fence}; not applied")
        p.offsets_fence = fence
    p.offsets[(cmd.kind, cmd.consumer_id)] = cmd.offset


def delete_offset(st: MetadataState, cmd: DeleteConsumerOffset, ev: list[Event]) -> None:
    _check_kind(cmd.kind)
    p = _lookup.partition(st, cmd.stream_id, cmd.topic_id, cmd.partition_id)
    if p.offsets.pop((cmd.kind, cmd.consumer_id), None) is None:
        raise ConsumerOffsetNotFound()


def clear_topic(t: Topic) -> None:
    """A purge: offsets restart with the log."""
    for p in t.partitions:
        p.offsets.clear()


def clear_group(t: Topic, group_id: int) -> None:
    for p in t.partitions:
        p.offsets.pop((2, group_id), None)
