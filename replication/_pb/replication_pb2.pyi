from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PartitionRef(_message.Message):
    __slots__ = ("stream_id", "topic_id", "partition_id")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: int
    topic_id: int
    partition_id: int
    def __init__(self, stream_id: _Optional[int] = ..., topic_id: _Optional[int] = ..., partition_id: _Optional[int] = ...) -> None: ...

class EpochStart(_message.Message):
    __slots__ = ("epoch", "start_offset")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    start_offset: int
    def __init__(self, epoch: _Optional[int] = ..., start_offset: _Optional[int] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("partition", "follower_id", "leader_epoch", "fetch_offset", "max_bytes", "max_wait_ms")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    FETCH_OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    partition: PartitionRef
    follower_id: int
    leader_epoch: int
    fetch_offset: int
    max_bytes: int
    max_wait_ms: int
    def __init__(self, partition: _Optional[_Union[PartitionRef, _Mapping]] = ..., follower_id: _Optional[int] = ..., leader_epoch: _Optional[int] = ..., fetch_offset: _Optional[int] = ..., max_bytes: _Optional[int] = ..., max_wait_ms: _Optional[int] = ...) -> None: ...

class FetchResponse(_message.Message):
    __slots__ = ("status", "leader_epoch", "high_watermark", "log_end", "first_offset", "count", "records", "ends", "epochs", "truncate_to")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OK: _ClassVar[FetchResponse.Status]
        NOT_LEADER: _ClassVar[FetchResponse.Status]
        STALE_EPOCH: _ClassVar[FetchResponse.Status]
        OUT_OF_RANGE: _ClassVar[FetchResponse.Status]
    OK: FetchResponse.Status
    NOT_LEADER: FetchResponse.Status
    STALE_EPOCH: FetchResponse.Status
    OUT_OF_RANGE: FetchResponse.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LEADER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    HIGH_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    LOG_END_FIELD_NUMBER: _ClassVar[int]
    FIRST_OFFSET_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    ENDS_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_TO_FIELD_NUMBER: _ClassVar[int]
    status: FetchResponse.Status
    leader_epoch: int
    high_watermark: int
    log_end: int
    first_offset: int
    count: int
    records: bytes
    ends: bytes
    epochs: _containers.RepeatedCompositeFieldContainer[EpochStart]
    truncate_to: int
    def __init__(self, status: _Optional[_Union[FetchResponse.Status, str]] = ..., leader_epoch: _Optional[int] = ..., high_watermark: _Optional[int] = ..., log_end: _Optional[int] = ..., first_offset: _Optional[int] = ..., count: _Optional[int] = ..., records: _Optional[bytes] = ..., ends: _Optional[bytes] = ..., epochs: _Optional[_Iterable[_Union[EpochStart, _Mapping]]] = ..., truncate_to: _Optional[int] = ...) -> None: ...

class EpochEndRequest(_message.Message):
    __slots__ = ("partition", "epoch")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    partition: PartitionRef
    epoch: int
    def __init__(self, partition: _Optional[_Union[PartitionRef, _Mapping]] = ..., epoch: _Optional[int] = ...) -> None: ...

class EpochEndResponse(_message.Message):
    __slots__ = ("found", "epoch", "end_offset", "log_end", "last_epoch")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LOG_END_FIELD_NUMBER: _ClassVar[int]
    LAST_EPOCH_FIELD_NUMBER: _ClassVar[int]
    found: bool
    epoch: int
    end_offset: int
    log_end: int
    last_epoch: int
    def __init__(self, found: _Optional[bool] = ..., epoch: _Optional[int] = ..., end_offset: _Optional[int] = ..., log_end: _Optional[int] = ..., last_epoch: _Optional[int] = ...) -> None: ...

class FenceRequest(_message.Message):
    __slots__ = ("partition", "new_epoch")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    NEW_EPOCH_FIELD_NUMBER: _ClassVar[int]
    partition: PartitionRef
    new_epoch: int
    def __init__(self, partition: _Optional[_Union[PartitionRef, _Mapping]] = ..., new_epoch: _Optional[int] = ...) -> None: ...

class FenceResponse(_message.Message):
    __slots__ = ("found", "promised", "last_epoch", "log_end")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    PROMISED_FIELD_NUMBER: _ClassVar[int]
    LAST_EPOCH_FIELD_NUMBER: _ClassVar[int]
    LOG_END_FIELD_NUMBER: _ClassVar[int]
    found: bool
    promised: int
    last_epoch: int
    log_end: int
    def __init__(self, found: _Optional[bool] = ..., promised: _Optional[int] = ..., last_epoch: _Optional[int] = ..., log_end: _Optional[int] = ...) -> None: ...

class ProbeRequest(_message.Message):
    __slots__ = ("partition",)
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    partition: PartitionRef
    def __init__(self, partition: _Optional[_Union[PartitionRef, _Mapping]] = ...) -> None: ...

class ProbeResponse(_message.Message):
    __slots__ = ("found", "following", "epoch", "contact_age_ms")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    FOLLOWING_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    CONTACT_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    found: bool
    following: int
    epoch: int
    contact_age_ms: int
    def __init__(self, found: _Optional[bool] = ..., following: _Optional[int] = ..., epoch: _Optional[int] = ..., contact_age_ms: _Optional[int] = ...) -> None: ...

class ForwardRequest(_message.Message):
    __slots__ = ("code", "payload", "origin_node_id", "client_id", "user_id", "has_user", "hops", "min_applied")
    CODE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_USER_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    MIN_APPLIED_FIELD_NUMBER: _ClassVar[int]
    code: int
    payload: bytes
    origin_node_id: int
    client_id: int
    user_id: int
    has_user: bool
    hops: int
    min_applied: int
    def __init__(self, code: _Optional[int] = ..., payload: _Optional[bytes] = ..., origin_node_id: _Optional[int] = ..., client_id: _Optional[int] = ..., user_id: _Optional[int] = ..., has_user: _Optional[bool] = ..., hops: _Optional[int] = ..., min_applied: _Optional[int] = ...) -> None: ...

class ForwardResponse(_message.Message):
    __slots__ = ("status", "payload", "not_applied")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    NOT_APPLIED_FIELD_NUMBER: _ClassVar[int]
    status: int
    payload: bytes
    not_applied: bool
    def __init__(self, status: _Optional[int] = ..., payload: _Optional[bytes] = ..., not_applied: _Optional[bool] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ("from_node_id",)
    FROM_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    from_node_id: int
    def __init__(self, from_node_id: _Optional[int] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("node_id", "metadata_leader", "needs_election")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_LEADER_FIELD_NUMBER: _ClassVar[int]
    NEEDS_ELECTION_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    metadata_leader: bool
    needs_election: _containers.RepeatedCompositeFieldContainer[PartitionRef]
    def __init__(self, node_id: _Optional[int] = ..., metadata_leader: _Optional[bool] = ..., needs_election: _Optional[_Iterable[_Union[PartitionRef, _Mapping]]] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("raft_address", "hops")
    RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    raft_address: str
    hops: int
    def __init__(self, raft_address: _Optional[str] = ..., hops: _Optional[int] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("ok", "reason")
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    reason: str
    def __init__(self, ok: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
