"""0.9 request bodies as the request objects both codecs produce (protocol 0.9 §2.3, §3, §4).

Most 0.9 bodies are the 0.8 payloads, so :func:`decode_request` decodes them
with the 0.8 classes of :mod:`whippet.wire.requests`. The ones that changed are
decoded here into the same classes: trailing options blocks go into the
``options`` field those classes carry for this purpose (never on the 0.8 wire),
CreateTopic's settings come out of its options, and the ack byte of offset
writes is checked and dropped (whippet commits offsets through the replicated
metadata, so every offset write is a quorum write). New commands (Register,
DescribeOptions, SyncConsumerGroup, the routing commands) get their own classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire._codec import Identifier, Reader
from whippet.wire.errors import IggyError, InvalidCommand, InvalidFormat, TooManyPartitions
from whippet.wire.table import COMMAND_TABLE
from whippet.wire.v09.header import Operation
from whippet.wire.v09.options import parse_topic_options, read_tail, refuse_all

__all__ = [
    "ATTACH_CONSUMER_SESSION",
    "DESCRIBE_OPTIONS",
    "GET_CONSUMER_OFFSET_ROUTING",
    "GET_POLL_ROUTING",
    "OPERATION_CODES",
    "POLL_MESSAGES_ON_PRIMARY",
    "SYNC_CONSUMER_GROUP",
    "AttachConsumerSession",
    "Login",
    "SyncConsumerGroup",
    "decode_login",
    "decode_request",
]

# Codes that exist only from 0.9 on (protocol 0.9 §3).
DESCRIBE_OPTIONS = 13
ATTACH_CONSUMER_SESSION = 14
GET_POLL_ROUTING = 103
POLL_MESSAGES_ON_PRIMARY = 104
GET_CONSUMER_OFFSET_ROUTING = 123
SYNC_CONSUMER_GROUP = 606

#: replicated operations and the 0.8 command code each one stands for
OPERATION_CODES: dict[int, int] = {
    Operation.LOGOUT: codes.LOGOUT_USER,
    Operation.CREATE_STREAM: codes.CREATE_STREAM,
    Operation.UPDATE_STREAM: codes.UPDATE_STREAM,
    Operation.DELETE_STREAM: codes.DELETE_STREAM,
    Operation.PURGE_STREAM: codes.PURGE_STREAM,
    Operation.CREATE_TOPIC: codes.CREATE_TOPIC,
    Operation.UPDATE_TOPIC: codes.UPDATE_TOPIC,
    Operation.DELETE_TOPIC: codes.DELETE_TOPIC,
    Operation.PURGE_TOPIC: codes.PURGE_TOPIC,
    Operation.CREATE_PARTITIONS: codes.CREATE_PARTITIONS,
    Operation.DELETE_PARTITIONS: codes.DELETE_PARTITIONS,
    Operation.DELETE_SEGMENTS: codes.DELETE_SEGMENTS,
    Operation.CREATE_CONSUMER_GROUP: codes.CREATE_CONSUMER_GROUP,
    Operation.DELETE_CONSUMER_GROUP: codes.DELETE_CONSUMER_GROUP,
    Operation.CREATE_USER: codes.CREATE_USER,
    Operation.UPDATE_USER: codes.UPDATE_USER,
    Operation.DELETE_USER: codes.DELETE_USER,
    Operation.CHANGE_PASSWORD: codes.CHANGE_PASSWORD,
    Operation.UPDATE_PERMISSIONS: codes.UPDATE_PERMISSIONS,
    Operation.CREATE_PERSONAL_ACCESS_TOKEN: codes.CREATE_PERSONAL_ACCESS_TOKEN,
    Operation.DELETE_PERSONAL_ACCESS_TOKEN: codes.DELETE_PERSONAL_ACCESS_TOKEN,
    Operation.JOIN_CONSUMER_GROUP: codes.JOIN_CONSUMER_GROUP,
    Operation.LEAVE_CONSUMER_GROUP: codes.LEAVE_CONSUMER_GROUP,
    Operation.SEND_MESSAGES: codes.SEND_MESSAGES,
    Operation.STORE_CONSUMER_OFFSET: codes.STORE_CONSUMER_OFFSET,
    Operation.DELETE_CONSUMER_OFFSET: codes.DELETE_CONSUMER_OFFSET,
}

MAX_PARTITIONS = 1000

#: 0.8 codes a 0.9 client may no longer send (the logins became Register)
_RETIRED = {codes.LOGIN_USER, codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN, codes.LOGOUT_USER}


@dataclass(frozen=True, slots=True)
class Login:
    """A Register body (§2.3): the client's protocol and either a password or a token."""

    protocol_version: int
    sdk_name: str
    sdk_version: str
    username: str | None = None
    password: str | None = None
    token: str | None = None


def _version_info(r: Reader) -> tuple[int, str, str]:
    return r.u32(), r.name8(), r.name8()


def decode_login(body: bytes | memoryview) -> Login:
    """Password shape first, then the PAT shape, as upstream tries them; raises when neither fits.

    The version prefix is decoded on its own first, so a caller can gate the
    protocol even when the credentials part is malformed.
    """
    for shape in (_password_shape, _token_shape):
        try:
            return shape(Reader(body))
        except IggyError:
            continue
    raise InvalidFormat("a Register body is neither a password nor a token login")


def decode_login_version(body: bytes | memoryview) -> int:
    """Just the packed protocol version at the head of a Register body."""
    return _version_info(Reader(body))[0]


def _password_shape(r: Reader) -> Login:
    version, name, sdk_version = _version_info(r)
    username = r.name8()
    password = r.str8()
    r.skip(r.u32())  # context
    if r.remaining():
        raise InvalidFormat("trailing bytes after a password login")
    return Login(version, name, sdk_version, username=username, password=password)


def _token_shape(r: Reader) -> Login:
    version, name, sdk_version = _version_info(r)
    token = r.name8()
    r.skip(r.u32())
    if r.remaining():
        raise InvalidFormat("trailing bytes after a token login")
    return Login(version, name, sdk_version, token=token)


@dataclass(frozen=True, slots=True)
class SyncConsumerGroup:
    stream_id: Identifier
    topic_id: Identifier
    group_id: Identifier


@dataclass(frozen=True, slots=True)
class AttachConsumerSession:
    """The coordinator session a data connection joins (the 32 bytes of a routing reply)."""

    client_id: int
    session: int
    metadata_watermark: int


@dataclass(frozen=True, slots=True)
class DescribeOptions:
    scope: int


def _tail_ack(r: Reader) -> None:
    ack = r.u8()
    if ack not in (0, 1):
        raise InvalidCommand(f"unknown ack level {ack}")
    if r.remaining():
        raise InvalidCommand("trailing bytes after the ack byte")


def _create_topic(r: Reader) -> rq.CreateTopic:
    stream_id = r.identifier()
    partitions_count = r.u32()
    name = r.name8()
    opts = parse_topic_options(read_tail(r))
    return rq.CreateTopic(
        stream_id=stream_id,
        partitions_count=partitions_count,
        compression=opts.compression or 1,
        message_expiry=opts.message_expiry or 0,
        max_topic_size=opts.max_topic_size or 0,
        replication_factor=0,
        name=name,
        options=opts.entries,
        ack=opts.ack or "",
    )


def _update_topic(r: Reader) -> rq.UpdateTopic:
    """The settings absent from the block stay 0 here; the node fills them from the topic
    (``options`` says which keys were given)."""
    stream_id, topic_id, name = r.identifier(), r.identifier(), r.name8()
    opts = parse_topic_options(read_tail(r), update=True)
    return rq.UpdateTopic(
        stream_id=stream_id, topic_id=topic_id, compression=opts.compression or 0,
        message_expiry=opts.message_expiry or 0, max_topic_size=opts.max_topic_size or 0,
        replication_factor=0, name=name, options=opts.entries,
    )  # fmt: skip


def _with_refused_tail(cls: Any, what: str) -> Any:
    """A 0.8 layout followed by an options tail; streams and users have no keys yet."""

    def decode(r: Reader) -> Any:
        req = cls.read(r)
        refuse_all(read_tail(r), what)
        return req

    return decode


def _with_ack(cls: Any) -> Any:
    def decode(r: Reader) -> Any:
        req = cls.read(r)
        _tail_ack(r)
        return req

    return decode


def _partitions_count(cls: Any) -> Any:
    """0.9 refuses a count of 0 or over 1000 with TooManyPartitions for create and delete alike."""

    def decode(r: Reader) -> Any:
        req = cls.read(r)
        if not 1 <= req.partitions_count <= MAX_PARTITIONS:
            raise TooManyPartitions(f"partitions count must be 1..{MAX_PARTITIONS}")
        return req

    return decode


_DECODERS: dict[int, Any] = {
    codes.CREATE_PARTITIONS: _partitions_count(rq.CreatePartitions),
    codes.DELETE_PARTITIONS: _partitions_count(rq.DeletePartitions),
    codes.CREATE_STREAM: _with_refused_tail(rq.CreateStream, "stream"),
    codes.UPDATE_STREAM: _with_refused_tail(rq.UpdateStream, "stream"),
    codes.CREATE_USER: _with_refused_tail(rq.CreateUser, "user"),
    codes.UPDATE_USER: _with_refused_tail(rq.UpdateUser, "user"),
    codes.CREATE_TOPIC: _create_topic,
    codes.UPDATE_TOPIC: _update_topic,
    codes.STORE_CONSUMER_OFFSET: _with_ack(rq.StoreConsumerOffset),
    codes.DELETE_CONSUMER_OFFSET: _with_ack(rq.DeleteConsumerOffset),
    SYNC_CONSUMER_GROUP: lambda r: SyncConsumerGroup(r.identifier(), r.identifier(), r.identifier()),
    ATTACH_CONSUMER_SESSION: lambda r: AttachConsumerSession(r.u128(), r.u64(), r.u64()),
    DESCRIBE_OPTIONS: lambda r: DescribeOptions(r.u8()),
    GET_POLL_ROUTING: rq.PollMessages.read,
    POLL_MESSAGES_ON_PRIMARY: rq.PollMessages.read,
    GET_CONSUMER_OFFSET_ROUTING: rq.GetConsumerOffset.read,
}


def decode_request(code: int, body: bytes | memoryview) -> Any:
    """The request object for a 0.9 body of command ``code``; 3 for a code 0.9 does not have."""
    decoder = _DECODERS.get(code)
    if decoder is not None:
        return decoder(Reader(body))
    spec = COMMAND_TABLE.get(code)
    if spec is None or spec.request is None or code in _RETIRED:
        raise InvalidCommand(f"command {code} is not part of the 0.9 protocol")
    return spec.request.decode(body)
