"""Requests of the system, user and personal-access-token commands (protocol §3.1).

Each class names its command ``CODE`` and lists its fields in wire order in
``LAYOUT``; :class:`~whippet.wire._fields.WireStruct` does the encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from whippet.wire import codes
from whippet.wire._codec import Identifier, Reader, Writer
from whippet.wire._fields import (
    IDENT,
    NAME8,
    OPT_NAME8,
    OPT_PERMISSIONS,
    OPT_STR32,
    OPT_U8,
    STR8,
    U8,
    U8_LIST,
    U32,
    U64,
    Codec,
    WireStruct,
)
from whippet.wire.errors import InvalidFormat
from whippet.wire.permissions import Permissions

__all__ = [
    "Ping",
    "GetStats",
    "GetSnapshotFile",
    "GetClusterMetadata",
    "GetMe",
    "GetClient",
    "GetClients",
    "GetUser",
    "GetUsers",
    "CreateUser",
    "DeleteUser",
    "UpdateUser",
    "UpdatePermissions",
    "ChangePassword",
    "LoginUser",
    "LogoutUser",
    "GetPersonalAccessTokens",
    "CreatePersonalAccessToken",
    "DeletePersonalAccessToken",
    "LoginWithPersonalAccessToken",
    "GetPartitionLeaders",
]


@dataclass(frozen=True, slots=True)
class Ping(WireStruct):
    CODE: ClassVar[int] = codes.PING


@dataclass(frozen=True, slots=True)
class GetStats(WireStruct):
    CODE: ClassVar[int] = codes.GET_STATS


@dataclass(frozen=True, slots=True)
class GetSnapshotFile(WireStruct):
    """``compression`` 1 (stored) .. 6 (xz); ``snapshot_types`` 1..6, or (100,) for all."""

    CODE: ClassVar[int] = codes.GET_SNAPSHOT_FILE
    LAYOUT = (("compression", U8), ("snapshot_types", U8_LIST))
    compression: int
    snapshot_types: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GetClusterMetadata(WireStruct):
    CODE: ClassVar[int] = codes.GET_CLUSTER_METADATA


@dataclass(frozen=True, slots=True)
class GetMe(WireStruct):
    CODE: ClassVar[int] = codes.GET_ME


@dataclass(frozen=True, slots=True)
class GetClient(WireStruct):
    CODE: ClassVar[int] = codes.GET_CLIENT
    LAYOUT = (("client_id", U32),)
    client_id: int


@dataclass(frozen=True, slots=True)
class GetClients(WireStruct):
    CODE: ClassVar[int] = codes.GET_CLIENTS


@dataclass(frozen=True, slots=True)
class GetUser(WireStruct):
    CODE: ClassVar[int] = codes.GET_USER
    LAYOUT = (("user_id", IDENT),)
    user_id: Identifier


@dataclass(frozen=True, slots=True)
class GetUsers(WireStruct):
    CODE: ClassVar[int] = codes.GET_USERS


@dataclass(frozen=True, slots=True)
class CreateUser(WireStruct):
    """``status`` 1 active, 2 inactive; ``permissions`` None means no permissions at all."""

    CODE: ClassVar[int] = codes.CREATE_USER
    LAYOUT = (
        ("username", NAME8),
        ("password", STR8),
        ("status", U8),
        ("permissions", OPT_PERMISSIONS),
    )
    username: str
    password: str
    status: int
    permissions: Permissions | None


@dataclass(frozen=True, slots=True)
class DeleteUser(WireStruct):
    CODE: ClassVar[int] = codes.DELETE_USER
    LAYOUT = (("user_id", IDENT),)
    user_id: Identifier


@dataclass(frozen=True, slots=True)
class UpdateUser(WireStruct):
    """``None`` leaves a field unchanged."""

    CODE: ClassVar[int] = codes.UPDATE_USER
    LAYOUT = (("user_id", IDENT), ("username", OPT_NAME8), ("status", OPT_U8))
    user_id: Identifier
    username: str | None
    status: int | None


@dataclass(frozen=True, slots=True)
class UpdatePermissions(WireStruct):
    CODE: ClassVar[int] = codes.UPDATE_PERMISSIONS
    LAYOUT = (("user_id", IDENT), ("permissions", OPT_PERMISSIONS))
    user_id: Identifier
    permissions: Permissions | None


@dataclass(frozen=True, slots=True)
class ChangePassword(WireStruct):
    CODE: ClassVar[int] = codes.CHANGE_PASSWORD
    LAYOUT = (("user_id", IDENT), ("current_password", STR8), ("new_password", STR8))
    user_id: Identifier
    current_password: str
    new_password: str


@dataclass(frozen=True, slots=True)
class LoginUser(WireStruct):
    """``version``/``context`` are sent with a u32 length; an empty one decodes as None.

    The SDK sends version "0.10.0" and an empty context (protocol §3.1).
    """

    CODE: ClassVar[int] = codes.LOGIN_USER
    LAYOUT = (
        ("username", NAME8),
        ("password", STR8),
        ("version", OPT_STR32),
        ("context", OPT_STR32),
    )
    username: str
    password: str
    version: str | None = None
    context: str | None = None


@dataclass(frozen=True, slots=True)
class LogoutUser(WireStruct):
    CODE: ClassVar[int] = codes.LOGOUT_USER


@dataclass(frozen=True, slots=True)
class GetPersonalAccessTokens(WireStruct):
    CODE: ClassVar[int] = codes.GET_PERSONAL_ACCESS_TOKENS


@dataclass(frozen=True, slots=True)
class CreatePersonalAccessToken(WireStruct):
    """``expiry`` in µs from now; 0 and u64::MAX both mean never."""

    CODE: ClassVar[int] = codes.CREATE_PERSONAL_ACCESS_TOKEN
    LAYOUT = (("name", NAME8), ("expiry", U64))
    name: str
    expiry: int = 0


@dataclass(frozen=True, slots=True)
class DeletePersonalAccessToken(WireStruct):
    CODE: ClassVar[int] = codes.DELETE_PERSONAL_ACCESS_TOKEN
    LAYOUT = (("name", NAME8),)
    name: str


@dataclass(frozen=True, slots=True)
class LoginWithPersonalAccessToken(WireStruct):
    CODE: ClassVar[int] = codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN
    LAYOUT = (("token", NAME8),)
    token: str


def _read_opt_ident(r: Reader) -> Identifier | None:
    return Identifier.decode(r) if r.u8() == 1 else None


def _write_opt_ident(w: Writer, value: Identifier | None) -> None:
    w.u8(0) if value is None else w.u8(1).identifier(value)


_OPT_IDENT: Codec = (_read_opt_ident, _write_opt_ident)  # flag byte (1 = present), then the id


@dataclass(frozen=True, slots=True)
class GetPartitionLeaders(WireStruct):
    """whippet's own command (not in Iggy 0.8): who leads each partition, for client routing.

    Both ids absent: every topic the caller may use; a stream only: its topics; both:
    one topic. Each id is a flag byte (1 = present) followed by the identifier, so
    an empty payload is a truncation (3), never a silent "everything".
    """

    CODE: ClassVar[int] = codes.GET_PARTITION_LEADERS
    LAYOUT = (("stream_id", _OPT_IDENT), ("topic_id", _OPT_IDENT))
    stream_id: Identifier | None = None
    topic_id: Identifier | None = None

    def __post_init__(self) -> None:
        if self.topic_id is not None and self.stream_id is None:
            raise InvalidFormat("a topic id needs its stream id")
