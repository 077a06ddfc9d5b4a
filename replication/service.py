"""The gRPC server side of replication: Replicate (fetch stream), EpochEnd, Fence, Probe,
Forward, Ping, Join."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np
from google.protobuf.message import Message

from whippet.replication._pb import replication_pb2 as pb
from whippet.wire.errors import IggyError

if TYPE_CHECKING:
    from whippet.replication.leader import LeaderState, Tail
    from whippet.replication.manager import ReplicaManager
    from whippet.replication.partition import ReplicatedPartition

Key = tuple[int, int, int]

__all__ = ["ReplicationService"]

_MAX_RECORDS = 4096
_MAX_HOPS = 2


_RECORDS_FIELD = bytes([(7 << 3) | 2])  # FetchResponse.records: field 7, length-delimited
_SERVICE = pb.DESCRIPTOR.services_by_name["Replication"].full_name


def encode_with_records(head: pb.FetchResponse, records: bytes | memoryview) -> bytes:
    """``head`` serialized with ``records`` as its ``records`` field, in one copy.

    Protobuf accepts fields in any order, so the records are appended after the
    serialized head; building the message with them would copy the batch twice more.
    """
    n = len(records)
    varint = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        varint.append(byte | (0x80 if n else 0))
        if not n:
            break
    return b"".join((head.SerializeToString(), _RECORDS_FIELD, varint, records))


def _serialize(message: pb.FetchResponse | bytes) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def add_to_server(service: ReplicationService, server: grpc.aio.Server) -> None:
    """Register the service; unlike the generated helper, Replicate may answer with
    bytes already encoded (see :func:`encode_with_records`)."""
    unary: dict[str, tuple[type[Message], Callable[..., Any]]] = {
        "Ping": (pb.PingRequest, service.Ping),
        "Join": (pb.JoinRequest, service.Join),
        "EpochEnd": (pb.EpochEndRequest, service.EpochEnd),
        "Fence": (pb.FenceRequest, service.Fence),
        "Probe": (pb.ProbeRequest, service.Probe),
        "Forward": (pb.ForwardRequest, service.Forward),
    }
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=request.FromString, response_serializer=_serialize
        )
        for name, (request, call) in unary.items()
    }
    handlers["Replicate"] = grpc.stream_stream_rpc_method_handler(
        service.Replicate, request_deserializer=pb.FetchRequest.FromString, response_serializer=_serialize
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE, handlers),))


class ReplicationService:
    """The handlers behind every Replication RPC (registered by :func:`add_to_server`)."""

    def __init__(self, manager: ReplicaManager) -> None:
        self.m = manager

    async def _authorize(self, context: Any) -> None:
        reason = self.m.security.check(context)
        if reason is not None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, reason)

    def _partition(self, ref: pb.PartitionRef) -> ReplicatedPartition | None:
        return self.m.partitions.get((ref.stream_id, ref.topic_id, ref.partition_id))

    async def Ping(self, request: pb.PingRequest, context: Any) -> pb.PingResponse:
        await self._authorize(context)
        if request.from_node_id:
            self.m.last_seen[request.from_node_id] = time.monotonic()
        needs = [pb.PartitionRef(stream_id=k[0], topic_id=k[1], partition_id=k[2]) for k in self.m.needs_election()]
        return pb.PingResponse(node_id=self.m.node_id, metadata_leader=self.m.meta.is_leader, needs_election=needs)

    async def Join(self, request: pb.JoinRequest, context: Any) -> pb.JoinResponse:
        await self._authorize(context)
        return await self.m.add_member(request.raft_address, request.hops)

    async def Replicate(
        self, requests: AsyncIterator[pb.FetchRequest], context: Any
    ) -> AsyncIterator[pb.FetchResponse | bytes]:
        await self._authorize(context)
        async for request in requests:
            yield await self._fetch(request)

    async def _fetch(self, request: pb.FetchRequest) -> pb.FetchResponse | bytes:
        part = self._partition(request.partition)
        state = part.leader_state if part is not None else None
        if part is None or state is None or state.resigned:
            return pb.FetchResponse(status=pb.FetchResponse.NOT_LEADER)
        if request.leader_epoch != state.epoch:
            status = pb.FetchResponse.STALE_EPOCH if request.leader_epoch > state.epoch else pb.FetchResponse.NOT_LEADER
            return pb.FetchResponse(status=status, leader_epoch=state.epoch)
        plog = part.log
        end = max(plog.next_offset, state.available_end)  # a published batch counts
        if request.fetch_offset > end:
            return pb.FetchResponse(
                status=pb.FetchResponse.OUT_OF_RANGE, leader_epoch=state.epoch, truncate_to=plog.next_offset
            )
        state.fetched(request.follower_id, request.fetch_offset)
        if request.fetch_offset >= end and request.max_wait_ms:
            await state.wait_for_data(request.max_wait_ms / 1000)
            if part.leader_state is not state or state.resigned:
                return pb.FetchResponse(status=pb.FetchResponse.NOT_LEADER)
        tail = state.tail
        if tail is not None and tail.first == request.fetch_offset and plog.next_offset in (tail.first, tail.end):
            if tail.first == plog.next_offset:
                state.served()
            return self._tail_answer(part, state, plog.next_offset, tail)
        result, ends = plog.read_with_ends(request.fetch_offset, _MAX_RECORDS)
        if result.count and request.max_bytes and len(result.data) > request.max_bytes and result.count > 1:
            keep = max(1, int((ends <= request.max_bytes).sum()))
            ends = ends[:keep]
            result = type(result)(result.first_offset, keep, result.data[: int(ends[-1])])
        return self._ok(part, state, plog.next_offset, result.first_offset, result.data, ends)

    def _tail_answer(self, part: ReplicatedPartition, state: LeaderState, log_end: int, tail: Tail) -> bytes:
        """The answer carrying the last batch (whole: it was one client request), encoded
        once for all followers that fetch it with the same high watermark (usually all)."""
        stamp = (state.epoch, state.high_watermark, log_end)
        answer = tail.encoded.get(stamp)
        if answer is None:
            tail.encoded.clear()
            answer = tail.encoded[stamp] = self._ok(part, state, log_end, tail.first, tail.records, tail.ends)
        return answer

    def _ok(self, part: ReplicatedPartition, state: LeaderState, log_end: int, first: int,
            records: bytes | memoryview, ends: np.ndarray) -> bytes:
        count = len(ends)
        # Epoch starts up to the end of what is sent, inclusive: a start equal to that end
        # tells a caught-up follower it reached this leader's epoch (see quorum.py).
        epochs = [pb.EpochStart(epoch=e, start_offset=s) for e, s in part.epochs.entries if s <= first + count]
        head = pb.FetchResponse(
            status=pb.FetchResponse.OK, leader_epoch=state.epoch, high_watermark=state.high_watermark,
            log_end=log_end, first_offset=first, count=count, ends=ends.astype("<u4").tobytes(), epochs=epochs[-8:],
        )
        return encode_with_records(head, records)

    async def EpochEnd(self, request: pb.EpochEndRequest, context: Any) -> pb.EpochEndResponse:
        await self._authorize(context)
        part = self._partition(request.partition)
        if part is None:
            return pb.EpochEndResponse(found=False)
        cache = part.epochs
        log_end = part.log.next_offset
        last = cache.last_epoch
        got = cache.end_offset(request.epoch, log_end)
        if got is None:
            entries = cache.entries
            first_start = entries[0][1] if entries else log_end
            return pb.EpochEndResponse(found=False, end_offset=first_start, log_end=log_end,
                                       last_epoch=last if last is not None else 0)
        epoch, end = got
        return pb.EpochEndResponse(found=True, epoch=epoch, end_offset=end, log_end=log_end,
                                   last_epoch=last if last is not None else 0)

    async def Fence(self, request: pb.FenceRequest, context: Any) -> pb.FenceResponse:
        await self._authorize(context)
        part = self._partition(request.partition)
        if part is None:
            return pb.FenceResponse(found=False)
        position = await part.fence(request.new_epoch)
        return pb.FenceResponse(found=True, promised=part.epochs.promised, last_epoch=position.last_epoch,
                                log_end=position.log_end)

    async def Probe(self, request: pb.ProbeRequest, context: Any) -> pb.ProbeResponse:
        await self._authorize(context)
        part = self._partition(request.partition)
        if part is None:
            return pb.ProbeResponse(found=False, following=-1)
        role = part.following
        if role is None:
            return pb.ProbeResponse(found=True, following=-1)
        age_ms = min(int((time.monotonic() - role.contact_at) * 1000), 0xFFFF_FFFF)
        return pb.ProbeResponse(found=True, following=role.leader, epoch=role.epoch, contact_age_ms=max(age_ms, 0))

    async def Forward(self, request: pb.ForwardRequest, context: Any) -> pb.ForwardResponse:
        await self._authorize(context)
        if request.hops > _MAX_HOPS:
            return pb.ForwardResponse(status=12010)
        await self.m.caught_up_to(request.min_applied)
        try:
            payload = await self.m.forwarded(request)
        except IggyError as exc:
            return pb.ForwardResponse(status=exc.status, not_applied=getattr(exc, "not_applied", False))
        return pb.ForwardResponse(status=0, payload=payload)
