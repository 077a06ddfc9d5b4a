"""Iggy 0.8 error codes as typed exceptions, and what each kind of failure means.

Every failure that reaches a client is an :class:`IggyError` whose ``status`` is the
numeric code Iggy 0.8 puts in a response frame. Each transport turns an exception
into a status frame in exactly one place; the SDK raises the same classes from a
status, so callers see one error vocabulary on both sides of the wire.

The classes below are the error table: each names a code this project raises or
handles by name, and carries the behaviour flags of that code (``retriable``,
``closes_connection``, ``not_found``, ...), so no other module keeps a set of
numbers. Codes without a class (the rest of Iggy's table, in
:mod:`whippet.wire._error_names`) still round-trip through
:meth:`IggyError.from_code`, with every flag false.
"""

from __future__ import annotations

from typing import ClassVar

from whippet.wire._error_names import CODE_NAMES, error_name

__all__ = ["IggyError", "CODE_NAMES", "error_name"]


class IggyError(Exception):
    """Base of every protocol-level failure.

    ``code`` is class-level on the named subclasses; an instance built by
    :meth:`from_code` for an unnamed code carries its own, so a status read off
    the wire is never lost. The flags are class-level too: they are properties of
    a code, not of one failure.
    """

    code: ClassVar[int] = 1
    #: Not applied, and the same request may succeed once a failover or a Raft
    #: election is over: our SDK retries it with backoff.
    retriable: ClassVar[bool] = False
    #: The server closes the connection right after sending this status.
    closes_connection: ClassVar[bool] = False
    #: Names something that does not exist (0.8's HTTP layer answers 404).
    not_found: ClassVar[bool] = False
    #: The caller is not (validly) logged in (0.8's HTTP layer answers 401).
    unauthenticated: ClassVar[bool] = False
    #: Logged in, but the user lacks the permission (0.8's HTTP layer answers 403).
    forbidden: ClassVar[bool] = False
    #: A login was refused: wrong credentials, an inactive user, an expired token.
    login_refused: ClassVar[bool] = False
    _by_code: ClassVar[dict[int, type[IggyError]]] = {}

    def __init__(self, reason: str = "", *, code: int | None = None) -> None:
        self._status = type(self).code if code is None else code
        self.reason = reason or error_name(self._status).replace("_", " ")
        super().__init__(self.reason)

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Register a class that defines ``code`` as that code's class (one per code)."""
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            if cls.code in IggyError._by_code:
                raise TypeError(f"error code {cls.code} already has {IggyError._by_code[cls.code].__name__}")
            IggyError._by_code[cls.code] = cls
            if cls.__doc__ is None:
                cls.__doc__ = f"Iggy error {cls.code}: {error_name(cls.code)}."

    @property
    def status(self) -> int:
        """The wire status code of this error."""
        return self._status

    @property
    def name(self) -> str:
        """The snake_case name of the status, as in Iggy's HTTP error body."""
        return error_name(self._status)

    @classmethod
    def for_code(cls, code: int) -> type[IggyError]:
        """The class of a wire status code: its own, or :class:`IggyError` (every flag false)."""
        return IggyError._by_code.get(code, IggyError)

    @classmethod
    def from_code(cls, code: int, reason: str = "") -> IggyError:
        """Build the most specific error for a wire status code."""
        sub = IggyError._by_code.get(code)
        if sub is not None:
            return sub(reason)
        return IggyError(reason, code=code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self._status}, reason={self.reason!r})"


# --- General, connection and client errors (1-199) ---

class GenericError(IggyError):
    code = 1

class InvalidCommand(IggyError):
    code = 3

class InvalidFormat(IggyError):
    code = 4

class FeatureUnavailable(IggyError):
    code = 5

class InvalidIdentifier(IggyError):
    code = 6

class Disconnected(IggyError):
    code = 8

class CannotEstablishConnection(IggyError):
    code = 9

class StateFileCorrupted(IggyError):
    code = 15

class ResourceNotFound(IggyError):
    code = 20
    not_found = True

class StaleClient(IggyError):
    code = 30
    closes_connection = True

class Unauthenticated(IggyError):
    code = 40
    unauthenticated = True

class Unauthorized(IggyError):
    code = 41
    forbidden = True

class InvalidCredentials(IggyError):
    code = 42
    login_refused = True

class InvalidUsername(IggyError):
    code = 43
    login_refused = True

class InvalidPassword(IggyError):
    code = 44
    login_refused = True

class InvalidUserStatus(IggyError):
    code = 45

class UserAlreadyExists(IggyError):
    code = 46

class UserInactive(IggyError):
    code = 47
    login_refused = True

class CannotDeleteUser(IggyError):
    code = 48

class CannotChangePermissions(IggyError):
    code = 49

class InvalidPersonalAccessTokenName(IggyError):
    code = 50

class PersonalAccessTokenAlreadyExists(IggyError):
    code = 51

class PersonalAccessTokensLimitReached(IggyError):
    code = 52

class InvalidPersonalAccessToken(IggyError):
    code = 53
    unauthenticated = True

class PersonalAccessTokenExpired(IggyError):
    code = 54
    login_refused = True

class UsersLimitReached(IggyError):
    code = 55

class NotConnected(IggyError):
    code = 61

class ClientShutdown(IggyError):
    code = 63

class InvalidEncryptionKey(IggyError):
    code = 70

class CannotEncryptData(IggyError):
    code = 71

class CannotDecryptData(IggyError):
    code = 72

class AccessTokenMissing(IggyError):
    code = 77
    unauthenticated = True

class InvalidAccessToken(IggyError):
    code = 78
    unauthenticated = True

class InvalidSizeBytes(IggyError):
    code = 80

class InvalidUtf8(IggyError):
    code = 81

class ClientNotFound(IggyError):
    code = 100
    closes_connection = True
    not_found = True

class InvalidClientId(IggyError):
    code = 101

class ConnectionClosed(IggyError):
    code = 206

# --- Streams (1000s) ---

class StreamIdNotFound(IggyError):
    code = 1009
    not_found = True

class StreamNameAlreadyExists(IggyError):
    code = 1012

class InvalidStreamName(IggyError):
    code = 1013

class InvalidTopicSize(IggyError):
    code = 1019

# --- Topics (2000s) ---

class TopicIdNotFound(IggyError):
    code = 2010
    not_found = True

class TopicNameAlreadyExists(IggyError):
    code = 2013

class InvalidTopicName(IggyError):
    code = 2014

class TooManyPartitions(IggyError):
    code = 2015

class InvalidReplicationFactor(IggyError):
    code = 2018

class InvalidPartitionsCount(IggyError):
    code = 2019

# --- Partitions and consumer offsets (3000s) ---

class PartitionNotFound(IggyError):
    code = 3007
    not_found = True

class ConsumerOffsetNotFound(IggyError):
    code = 3021
    not_found = True

class NotResolvedConsumer(IggyError):
    code = 3022

# --- Segments, messages and batches (4000s) ---

class SegmentNotFound(IggyError):
    code = 4000
    not_found = True

class InvalidMessagesCount(IggyError):
    code = 4009

class TooBigUserHeaders(IggyError):
    code = 4017

class TooBigMessagePayload(IggyError):
    code = 4022

class InvalidSegmentsCount(IggyError):
    code = 4030

class NonZeroOffset(IggyError):
    code = 4031

class NonZeroTimestamp(IggyError):
    code = 4032

class MissingIndex(IggyError):
    code = 4033

class InvalidIndexesByteSize(IggyError):
    code = 4034

class InvalidIndexesCount(IggyError):
    code = 4035

class InvalidMessagesSize(IggyError):
    code = 4036

class TooSmallMessage(IggyError):
    code = 4037

class InvalidOffset(IggyError):
    code = 4100

class InvalidReservedField(IggyError):
    code = 4101

# --- Consumer groups (5000s) ---

class ConsumerGroupIdNotFound(IggyError):
    code = 5000
    not_found = True

class ConsumerGroupNameNotFound(IggyError):
    code = 5003
    not_found = True

class ConsumerGroupNameAlreadyExists(IggyError):
    code = 5004

class InvalidConsumerGroupName(IggyError):
    code = 5005

class ConsumerGroupMemberNotFound(IggyError):
    code = 5006
    not_found = True

# --- Storage and runtime (10000s and up) ---

class CannotReadIndexPosition(IggyError):
    code = 10011

class TaskTimeout(IggyError):
    code = 12001
    retriable = True  # metadata not committed in time (e.g. during a Raft election)

# whippet's cluster edition: codes past Iggy 0.8's table (the 0.8 SDK reports them as "error").

class NotLeader(IggyError):
    """This node does not lead the partition (now). ``not_applied``: the request was
    certainly not run anywhere, so the node may run it again on the next leader itself."""

    code = 12010
    retriable = True

    def __init__(self, reason: str = "", *, not_applied: bool = False, code: int | None = None) -> None:
        super().__init__(reason, code=code)
        self.not_applied = not_applied

class ReplicationTimeout(IggyError):
    code = 12011
    retriable = True


__all__ += [
    "GenericError",
    "InvalidCommand",
    "InvalidFormat",
    "FeatureUnavailable",
    "InvalidIdentifier",
    "Disconnected",
    "CannotEstablishConnection",
    "StateFileCorrupted",
    "ResourceNotFound",
    "StaleClient",
    "Unauthenticated",
    "Unauthorized",
    "InvalidCredentials",
    "InvalidUsername",
    "InvalidPassword",
    "InvalidUserStatus",
    "UserAlreadyExists",
    "UserInactive",
    "CannotDeleteUser",
    "CannotChangePermissions",
    "InvalidPersonalAccessTokenName",
    "PersonalAccessTokenAlreadyExists",
    "PersonalAccessTokensLimitReached",
    "InvalidPersonalAccessToken",
    "PersonalAccessTokenExpired",
    "UsersLimitReached",
    "NotConnected",
    "ClientShutdown",
    "InvalidEncryptionKey",
    "CannotEncryptData",
    "CannotDecryptData",
    "AccessTokenMissing",
    "InvalidAccessToken",
    "InvalidSizeBytes",
    "InvalidUtf8",
    "ClientNotFound",
    "InvalidClientId",
    "ConnectionClosed",
    "StreamIdNotFound",
    "StreamNameAlreadyExists",
    "InvalidStreamName",
    "InvalidTopicSize",
    "TopicIdNotFound",
    "TopicNameAlreadyExists",
    "InvalidTopicName",
    "TooManyPartitions",
    "InvalidReplicationFactor",
    "InvalidPartitionsCount",
    "PartitionNotFound",
    "ConsumerOffsetNotFound",
    "NotResolvedConsumer",
    "SegmentNotFound",
    "InvalidMessagesCount",
    "TooBigUserHeaders",
    "TooBigMessagePayload",
    "InvalidSegmentsCount",
    "NonZeroOffset",
    "NonZeroTimestamp",
    "MissingIndex",
    "InvalidIndexesByteSize",
    "InvalidIndexesCount",
    "InvalidMessagesSize",
    "TooSmallMessage",
    "InvalidOffset",
    "InvalidReservedField",
    "ConsumerGroupIdNotFound",
    "ConsumerGroupNameNotFound",
    "ConsumerGroupNameAlreadyExists",
    "InvalidConsumerGroupName",
    "ConsumerGroupMemberNotFound",
    "CannotReadIndexPosition",
    "TaskTimeout",
    "NotLeader",
    "ReplicationTimeout",
]
