"""The Replicate answer encoded around a batch without copying it into a message."""

from __future__ import annotations

from whippet.replication._pb import replication_pb2 as pb
from whippet.replication.service import encode_with_records


def test_records_appended_to_an_encoded_head_parse_as_the_records_field() -> None:
    for size in (0, 1, 127, 128, 300, 70_000):
        records = bytes(range(256)) * (size // 256) + bytes(size % 256)
        head = pb.FetchResponse(status=pb.FetchResponse.OK, leader_epoch=3, first_offset=7, count=2, ends=b"\x01\x00\x00\x00")
        parsed = pb.FetchResponse.FromString(encode_with_records(head, memoryview(records)))
        assert parsed.records == records
        assert (parsed.leader_epoch, parsed.first_offset, parsed.count, parsed.ends) == (3, 7, 2, b"\x01\x00\x00\x00")
