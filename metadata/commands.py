"""Metadata commands: what goes through Raft, as versioned bytes.

A command is a frozen dataclass; :meth:`Command.encode` gives ``FORMAT_VERSION``
(one byte) followed by canonical JSON (sorted keys, no spaces), and
:func:`decode_command` reverses it strictly: an unknown version or op, a missing or
extra field, or a value of the wrong type raises :class:`InvalidCommand`. The bytes
are what the Raft log stores, so they must never carry pickled objects, and they
must mean the same thing on every node: anything non-deterministic (timestamps,
password and token hashes) is decided by the proposer and carried in the command.
Ids are numeric; the server resolves names before it proposes.

Adding a command: add a dataclass and list it in ``_COMMANDS``. Changing the
meaning of an existing one needs a new ``FORMAT_VERSION``. A field added to an
existing command has a default that keeps the old meaning, and bytes written
before it existed decode to that default (``CreateTopic.options``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any

from whippet.metadata.model import ClusterNode, OptionEntry
from whippet.wire.errors import InvalidCommand
from whippet.wire.permissions import Permissions

__all__ = [
    "FORMAT_VERSION",
    "ChangePartitionLeader",
    "ChangePassword",
    "ClientRequest",
    "Command",
    "CreateConsumerGroup",
    "CreatePartitions",
    "CreatePersonalAccessToken",
    "CreateStream",
    "CreateTopic",
    "CreateUser",
    "DeleteConsumerGroup",
    "DeleteConsumerOffset",
    "DeletePartitions",
    "DeletePersonalAccessToken",
    "DeleteStream",
    "DeleteTopic",
    "DeleteUser",
    "DropClientMemberships",
    "DropNodeMemberships",
    "JoinConsumerGroup",
    "LeaveConsumerGroup",
    "PurgeStream",
    "PurgeTopic",
    "RegisterNode",
    "SetTopicAck",
    "StoreConsumerOffset",
    "UpdatePermissions",
    "UpdateStream",
    "UpdateTopic",
    "UpdateUser",
    "decode_command",
]

FORMAT_VERSION = 1
_U64_MAX = (1 << 64) - 1


class Command:
    """Base of every command: versioned, canonical bytes."""

    __slots__ = ()

    def encode(self) -> bytes:
        body: dict[str, Any] = {"op": type(self).__name__}
        for f in fields(self):  # type: ignore[arg-type]
            body[f.name] = _CODECS[str(f.type)][0](getattr(self, f.name))
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return bytes([FORMAT_VERSION]) + text.encode("utf-8")


# --- streams -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CreateStream(Command):
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class UpdateStream(Command):
    stream_id: int
    name: str


@dataclass(frozen=True, slots=True)
class DeleteStream(Command):
    stream_id: int


@dataclass(frozen=True, slots=True)
class PurgeStream(Command):
    stream_id: int


# --- topics and partitions -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CreateTopic(Command):
    stream_id: int
    name: str
    partitions_count: int
    compression: int
    message_expiry: int
    max_topic_size: int
    replication_factor: int
    created_at: int
    #: the options a 0.9 client set (canonical kinds) and the ack level they chose
    options: tuple[OptionEntry, ...] = ()
    ack: str = ""


@dataclass(frozen=True, slots=True)
class UpdateTopic(Command):
    stream_id: int
    topic_id: int
    name: str
    compression: int
    message_expiry: int
    max_topic_size: int
    replication_factor: int
    #: option entries a 0.9 client patched (replace the topic's entries of those keys)
    options: tuple[OptionEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class SetTopicAck(Command):
    """The topic's producer ack level: "leader", "quorum", "all", or "" for the node's default."""

    stream_id: int
    topic_id: int
    ack: str


@dataclass(frozen=True, slots=True)
class DeleteTopic(Command):
    stream_id: int
    topic_id: int


@dataclass(frozen=True, slots=True)
class PurgeTopic(Command):
    stream_id: int
    topic_id: int


@dataclass(frozen=True, slots=True)
class CreatePartitions(Command):
    stream_id: int
    topic_id: int
    count: int
    created_at: int


@dataclass(frozen=True, slots=True)
class DeletePartitions(Command):
    stream_id: int
    topic_id: int
    count: int


@dataclass(frozen=True, slots=True)
class ChangePartitionLeader(Command):
    """Move a partition's leadership to another of its replicas (failover).

    Applied only if the partition is still at ``expected_epoch``, so two nodes
    racing to fail over the same partition cannot both win.
    """

    stream_id: int
    topic_id: int
    partition_id: int
    leader: int
    expected_epoch: int


# --- users and tokens --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CreateUser(Command):
    username: str
    password_hash: str
    status: int
    permissions: Permissions | None
    created_at: int


@dataclass(frozen=True, slots=True)
class UpdateUser(Command):
    user_id: int
    username: str | None
    status: int | None


@dataclass(frozen=True, slots=True)
class UpdatePermissions(Command):
    user_id: int
    permissions: Permissions | None


@dataclass(frozen=True, slots=True)
class ChangePassword(Command):
    user_id: int
    password_hash: str


@dataclass(frozen=True, slots=True)
class DeleteUser(Command):
    user_id: int


@dataclass(frozen=True, slots=True)
class CreatePersonalAccessToken(Command):
    user_id: int
    name: str
    token_hash: str
    expiry_at: int


@dataclass(frozen=True, slots=True)
class DeletePersonalAccessToken(Command):
    user_id: int
    name: str


# --- consumer groups -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CreateConsumerGroup(Command):
    stream_id: int
    topic_id: int
    name: str


@dataclass(frozen=True, slots=True)
class DeleteConsumerGroup(Command):
    stream_id: int
    topic_id: int
    group_id: int


@dataclass(frozen=True, slots=True)
class JoinConsumerGroup(Command):
    stream_id: int
    topic_id: int
    group_id: int
    node_id: int
    client_id: int


@dataclass(frozen=True, slots=True)
class LeaveConsumerGroup(Command):
    stream_id: int
    topic_id: int
    group_id: int
    node_id: int
    client_id: int


@dataclass(frozen=True, slots=True)
class DropClientMemberships(Command):
    """A client connection closed: it leaves every group it was in."""

    node_id: int
    client_id: int


@dataclass(frozen=True, slots=True)
class DropNodeMemberships(Command):
    """A node restarted: its sessions, and so their memberships, are gone."""

    node_id: int


# --- consumer offsets ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StoreConsumerOffset(Command):
    """kind 1 = consumer, 2 = consumer group (consumer_id is then the group id).

    ``leader_epoch``/``seq``: the proposing partition leader's epoch and its running
    count of offset changes; the machine applies a store only if that pair is above the
    partition's last one, so a proposal delayed past a newer one is refused. Absent in
    commands written before the field existed (applied unfenced).
    """

    stream_id: int
    topic_id: int
    partition_id: int
    kind: int
    consumer_id: int
    offset: int
    leader_epoch: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteConsumerOffset(Command):
    stream_id: int
    topic_id: int
    partition_id: int
    kind: int
    consumer_id: int


# --- cluster ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RegisterNode(Command):
    node: ClusterNode


# --- 0.9 clients' requests ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClientRequest(Command):
    """``command`` on behalf of a 0.9 client's request number ``request``: applied once.

    ``client`` is the client's u128 id as 32 hex digits, ``checksum`` the low 64
    bits of its ``request_checksum``. A repeat of the last applied request (same
    number and checksum) returns that outcome again without applying anything.
    """

    client: str
    request: int
    checksum: int
    command: Command


_COMMANDS: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        CreateStream, UpdateStream, DeleteStream, PurgeStream,
        CreateTopic, UpdateTopic, DeleteTopic, PurgeTopic, SetTopicAck,
        CreatePartitions, DeletePartitions, ChangePartitionLeader,
        CreateUser, UpdateUser, UpdatePermissions, ChangePassword, DeleteUser,
        CreatePersonalAccessToken, DeletePersonalAccessToken,
        CreateConsumerGroup, DeleteConsumerGroup, JoinConsumerGroup, LeaveConsumerGroup,
        StoreConsumerOffset, DeleteConsumerOffset,
        DropClientMemberships, DropNodeMemberships, RegisterNode, ClientRequest,
    )
}  # fmt: skip


# --- field codecs, keyed by the annotation string -------------------------------------
def _dec_int(v: Any) -> int:
    if type(v) is not int or not 0 <= v <= _U64_MAX:
        raise InvalidCommand(f"expected an unsigned integer, got {v!r}")
    return v


def _dec_str(v: Any) -> str:
    if type(v) is not str:
        raise InvalidCommand(f"expected a string, got {v!r}")
    return v


def _optional(dec: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else dec(v)


def _dec_permissions(v: Any) -> Permissions:
    if type(v) is not dict:
        raise InvalidCommand("permissions must be an object")
    try:
        return Permissions.from_json(v)
    except (AttributeError, TypeError, ValueError) as exc:
        raise InvalidCommand(f"bad permissions: {exc}") from None


def _enc_node(n: ClusterNode) -> dict[str, Any]:
    return {f.name: getattr(n, f.name) for f in fields(n)}


def _dec_node(v: Any) -> ClusterNode:
    names = [f.name for f in fields(ClusterNode)]
    if type(v) is not dict or sorted(v) != sorted(names):
        raise InvalidCommand("bad cluster node")
    strs = {"name", "host", "raft_address"}
    kwargs: dict[str, Any] = {k: _dec_str(v[k]) if k in strs else _dec_int(v[k]) for k in names}
    return ClusterNode(**kwargs)


def _same(v: Any) -> Any:
    return v


def _enc_options(options: tuple[OptionEntry, ...]) -> list[list[Any]]:
    return [[k, kind, base64.b64encode(v).decode()] for k, kind, v in options]


def _dec_options(v: Any) -> tuple[OptionEntry, ...]:
    if type(v) is not list:
        raise InvalidCommand("options must be a list")
    out = []
    for item in v:
        if type(item) is not list or len(item) != 3:
            raise InvalidCommand("bad option entry")
        try:
            value = base64.b64decode(_dec_str(item[2]), validate=True)
        except binascii.Error:
            raise InvalidCommand("bad option value") from None
        out.append((_dec_str(item[0]), _dec_int(item[1]), value))
    return tuple(out)


def _enc_command(cmd: Command) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(cmd.encode()[1:])
    return body


def _dec_command(v: Any) -> Command:
    if type(v) is not dict:
        raise InvalidCommand("a nested command must be an object")
    inner = _decode_body(dict(v))
    if isinstance(inner, ClientRequest):
        raise InvalidCommand("client requests do not nest")
    return inner


_CODECS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "int": (_same, _dec_int),
    "str": (_same, _dec_str),
    "int | None": (_same, _optional(_dec_int)),
    "str | None": (_same, _optional(_dec_str)),
    "Permissions | None": (
        lambda p: None if p is None else p.to_json(),
        _optional(_dec_permissions),
    ),
    "ClusterNode": (_enc_node, _dec_node),
    "tuple[OptionEntry, ...]": (_enc_options, _dec_options),
    "Command": (_enc_command, _dec_command),
}


def decode_command(data: bytes | bytearray | memoryview) -> Command:
    """Parse command bytes.

    Raises:
        InvalidCommand: empty input, an unknown format version or op, malformed
            JSON, a missing or extra field, or a field of the wrong type.
    """
    raw = bytes(data)
    if not raw:
        raise InvalidCommand("empty metadata command")
    if raw[0] != FORMAT_VERSION:
        raise InvalidCommand(f"unknown metadata command format version {raw[0]}")
    try:
        body = json.loads(raw[1:].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidCommand(f"malformed metadata command: {exc}") from None
    if type(body) is not dict:
        raise InvalidCommand("metadata command is not an object")
    return _decode_body(body)


def _decode_body(body: dict[str, Any]) -> Command:
    """A command from its JSON object; fields with a default may be absent (older bytes)."""
    cls = _COMMANDS.get(body.pop("op", None))
    if cls is None:
        raise InvalidCommand("unknown metadata command op")
    specs = fields(cls)  # type: ignore[arg-type]
    required = {f.name for f in specs if f.default is MISSING}
    if not required <= set(body) or not set(body) <= {f.name for f in specs}:
        raise InvalidCommand(f"{cls.__name__}: wrong fields {sorted(body)}")
    return cls(**{f.name: _CODECS[str(f.type)][1](body[f.name]) for f in specs if f.name in body})


def _check_annotations() -> None:
    # Fail at import, not at the first apply, if a field uses an unsupported type.
    for cls in _COMMANDS.values():
        for f in fields(cls):  # type: ignore[arg-type]
            if str(f.type) not in _CODECS:
                raise TypeError(f"{cls.__name__}.{f.name}: no codec for {f.type!r}")


_check_annotations()
