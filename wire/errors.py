"""Iggy 0.8 error codes as typed exceptions.

Every failure that reaches a client is an :class:`IggyError` whose ``status`` is the
numeric code Iggy 0.8 puts in a response frame. Each transport turns an exception
into a status frame in exactly one place; the SDK raises the same classes from a
status, so callers see one error vocabulary on both sides of the wire.

The code -> name table is a protocol fact of Iggy 0.8 (the ``IggyError``
discriminants); the classes at the bottom name the codes this project raises or
handles by name. Any other code still round-trips through :meth:`IggyError.from_code`.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["IggyError", "CODE_NAMES", "error_name"]

#: code -> snake_case name, as the 0.8 server spells it in HTTP error bodies.
CODE_NAMES: dict[int, str] = {
    1: "error",
    2: "invalid_configuration",
    3: "invalid_command",
    4: "invalid_format",
    5: "feature_unavailable",
    6: "invalid_identifier",
    7: "invalid_version",
    8: "disconnected",
    9: "cannot_establish_connection",
    10: "cannot_create_base_directory",
    11: "cannot_create_runtime_directory",
    12: "cannot_remove_runtime_directory",
    13: "cannot_create_state_directory",
    14: "state_file_not_found",
    15: "state_file_corrupted",
    16: "invalid_state_entry_checksum",
    19: "cannot_open_database",
    20: "resource_not_found",
    21: "cannot_close_web_socket_connection",
    30: "stale_client",
    31: "tcp_error",
    32: "quic_error",
    33: "invalid_server_address",
    34: "invalid_client_address",
    35: "invalid_ip_address",
    36: "http_error",
    40: "unauthenticated",
    41: "unauthorized",
    42: "invalid_credentials",
    43: "invalid_username",
    44: "invalid_password",
    45: "invalid_user_status",
    46: "user_already_exists",
    47: "user_inactive",
    48: "cannot_delete_user",
    49: "cannot_change_permissions",
    50: "invalid_personal_access_token_name",
    51: "personal_access_token_already_exists",
    52: "personal_access_tokens_limit_reached",
    53: "invalid_personal_access_token",
    54: "personal_access_token_expired",
    55: "users_limit_reached",
    61: "not_connected",
    63: "client_shutdown",
    64: "invalid_tls_domain",
    65: "invalid_tls_certificate_path",
    66: "invalid_tls_certificate",
    67: "failed_to_add_certificate",
    70: "invalid_encryption_key",
    71: "cannot_encrypt_data",
    72: "cannot_decrypt_data",
    73: "invalid_jwt_algorithm",
    74: "invalid_jwt_secret",
    75: "jwt_missing",
    76: "cannot_generate_jwt",
    77: "access_token_missing",
    78: "invalid_access_token",
    79: "cannot_fetch_jwks",
    80: "invalid_size_bytes",
    81: "invalid_utf8",
    82: "invalid_number_encoding",
    83: "invalid_boolean_value",
    84: "invalid_number_value",
    100: "client_not_found",
    101: "invalid_client_id",
    206: "connection_closed",
    209: "cannot_parse_header_kind",
    300: "http_response_error",
    301: "invalid_http_request",
    302: "invalid_json_response",
    303: "invalid_bytes_response",
    304: "empty_response",
    305: "cannot_create_endpoint",
    306: "cannot_parse_url",
    400: "web_socket_error",
    401: "web_socket_connection_error",
    402: "web_socket_close_error",
    403: "web_socket_receive_error",
    404: "web_socket_send_error",
    1000: "cannot_create_streams_directory",
    1001: "cannot_create_stream_directory",
    1002: "cannot_create_stream_info",
    1003: "cannot_update_stream_info",
    1004: "cannot_open_stream_info",
    1005: "cannot_read_stream_info",
    1006: "cannot_create_stream",
    1007: "cannot_delete_stream",
    1008: "cannot_delete_stream_directory",
    1009: "stream_id_not_found",
    1010: "stream_name_not_found",
    1011: "stream_directory_not_found",
    1012: "stream_name_already_exists",
    1013: "invalid_stream_name",
    1014: "invalid_stream_id",
    1015: "cannot_read_streams",
    1019: "invalid_topic_size",
    2000: "cannot_create_topics_directory",
    2001: "cannot_create_topic_directory",
    2002: "cannot_create_topic_info",
    2003: "cannot_update_topic_info",
    2004: "cannot_open_topic_info",
    2005: "cannot_read_topic_info",
    2006: "cannot_create_topic",
    2007: "cannot_delete_topic",
    2008: "cannot_delete_topic_directory",
    2009: "cannot_poll_topic",
    2010: "topic_id_not_found",
    2011: "topic_name_not_found",
    2013: "topic_name_already_exists",
    2014: "invalid_topic_name",
    2015: "too_many_partitions",
    2016: "invalid_topic_id",
    2017: "cannot_read_topics",
    2018: "invalid_replication_factor",
    2019: "invalid_partitions_count",
    2020: "topic_directory_not_found",
    3000: "cannot_create_partition",
    3001: "cannot_create_partitions_directory",
    3002: "cannot_create_partition_directory",
    3003: "cannot_open_partition_log_file",
    3004: "cannot_read_partitions",
    3005: "cannot_delete_partition",
    3006: "cannot_delete_partition_directory",
    3007: "partition_not_found",
    3008: "no_partitions",
    3009: "topic_full",
    3010: "cannot_delete_consumer_offsets_directory",
    3011: "cannot_delete_consumer_offset_file",
    3012: "cannot_create_consumer_offsets_directory",
    3020: "cannot_read_consumer_offsets",
    3021: "consumer_offset_not_found",
    3022: "not_resolved_consumer",
    3023: "cannot_open_consumer_offsets_file",
    4000: "segment_not_found",
    4001: "segment_closed",
    4002: "invalid_segment_size",
    4003: "cannot_create_segment_log_file",
    4004: "cannot_create_segment_index_file",
    4005: "cannot_create_segment_time_index_file",
    4006: "cannot_save_messages_to_segment",
    4007: "cannot_save_index_to_segment",
    4008: "cannot_save_time_index_to_segment",
    4009: "invalid_messages_count",
    4010: "cannot_append_message",
    4011: "cannot_read_message",
    4012: "cannot_read_message_id",
    4013: "cannot_read_message_state",
    4014: "cannot_read_message_timestamp",
    4015: "cannot_read_headers_length",
    4016: "cannot_read_headers_payload",
    4017: "too_big_user_headers",
    4018: "invalid_header_key",
    4019: "invalid_header_value",
    4020: "cannot_read_message_length",
    4021: "cannot_read_message_payload",
    4022: "too_big_message_payload",
    4023: "too_many_messages",
    4024: "empty_message_payload",
    4025: "invalid_message_payload_length",
    4026: "cannot_read_message_checksum",
    4027: "invalid_message_checksum",
    4028: "invalid_key_value_length",
    4029: "command_length_error",
    4030: "invalid_segments_count",
    4031: "non_zero_offset",
    4032: "non_zero_timestamp",
    4033: "missing_index",
    4034: "invalid_indexes_byte_size",
    4035: "invalid_indexes_count",
    4036: "invalid_messages_size",
    4037: "too_small_message",
    4038: "invalid_message_timestamp_delta",
    4039: "invalid_batch_checksum",
    4040: "invalid_header_kind",
    4050: "cannot_send_messages_due_to_client_disconnection",
    4051: "background_send_error",
    4052: "background_send_timeout",
    4053: "background_send_buffer_full",
    4054: "background_worker_disconnected",
    4055: "background_send_buffer_overflow",
    4057: "producer_closed",
    4100: "invalid_offset",
    4101: "invalid_reserved_field",
    5000: "consumer_group_id_not_found",
    5002: "invalid_consumer_group_id",
    5003: "consumer_group_name_not_found",
    5004: "consumer_group_name_already_exists",
    5005: "invalid_consumer_group_name",
    5006: "consumer_group_member_not_found",
    5007: "cannot_create_consumer_group_info",
    5008: "cannot_delete_consumer_group_info",
    6000: "missing_base_offset_retained_message_batch",
    6001: "missing_last_offset_delta_retained_message_batch",
    6002: "missing_max_timestamp_retained_message_batch",
    6003: "missing_length_retained_message_batch",
    6004: "missing_payload_retained_message_batch",
    7000: "cannot_read_batch_base_offset",
    7001: "cannot_read_batch_length",
    7002: "cannot_read_last_offset_delta",
    7003: "cannot_read_max_timestamp",
    7004: "cannot_read_batch_payload",
    8000: "invalid_connection_string",
    9000: "snapshot_file_completion_failed",
    10000: "cannot_serialize_resource",
    10001: "cannot_deserialize_resource",
    10002: "cannot_read_file",
    10003: "cannot_read_file_metadata",
    10004: "cannot_seek_file",
    10005: "cannot_append_to_file",
    10006: "cannot_write_to_file",
    10007: "cannot_overwrite_file",
    10008: "cannot_delete_file",
    10009: "cannot_sync_file",
    10010: "cannot_read_index_offset",
    10011: "cannot_read_index_position",
    10012: "cannot_read_index_timestamp",
    10013: "timestamp_out_of_range",
    11000: "shard_not_found",
    11001: "shard_communication_error",
    12000: "cannot_bind_to_socket",
    12001: "task_timeout",
    13000: "io_error",
}


def error_name(code: int) -> str:
    """Return the snake_case name of ``code`` ("error" for an unknown code)."""
    return CODE_NAMES.get(code, "error")


class IggyError(Exception):
    """Base of every protocol-level failure.

    ``code`` is class-level on the named subclasses; an instance built by
    :meth:`from_code` for an unnamed code carries its own, so a status read off
    the wire is never lost.
    """

    code: ClassVar[int] = 1
    retriable: ClassVar[bool] = False
    _by_code: ClassVar[dict[int, type[IggyError]]] = {}

    def __init__(self, reason: str = "", *, code: int | None = None) -> None:
        self._status = type(self).code if code is None else code
        self.reason = reason or error_name(self._status).replace("_", " ")
        super().__init__(self.reason)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            IggyError._by_code[cls.code] = cls

    @property
    def status(self) -> int:
        """The wire status code of this error."""
        return self._status

    @property
    def name(self) -> str:
        """The snake_case name of the status, as in Iggy's HTTP error body."""
        return error_name(self._status)

    @classmethod
    def from_code(cls, code: int, reason: str = "") -> IggyError:
        """Build the most specific error for a wire status code."""
        sub = IggyError._by_code.get(code)
        if sub is not None:
            return sub(reason)
        return IggyError(reason, code=code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self._status}, reason={self.reason!r})"


def _define(name: str, code: int) -> type[IggyError]:
    doc = f"Iggy error {code}: {error_name(code)}."
    return type(name, (IggyError,), {"code": code, "__doc__": doc, "__module__": __name__})


GenericError = _define("GenericError", 1)
InvalidCommand = _define("InvalidCommand", 3)
InvalidFormat = _define("InvalidFormat", 4)
FeatureUnavailable = _define("FeatureUnavailable", 5)
InvalidIdentifier = _define("InvalidIdentifier", 6)
Disconnected = _define("Disconnected", 8)
CannotEstablishConnection = _define("CannotEstablishConnection", 9)
StateFileCorrupted = _define("StateFileCorrupted", 15)
ResourceNotFound = _define("ResourceNotFound", 20)
StaleClient = _define("StaleClient", 30)
Unauthenticated = _define("Unauthenticated", 40)
Unauthorized = _define("Unauthorized", 41)
InvalidCredentials = _define("InvalidCredentials", 42)
InvalidUsername = _define("InvalidUsername", 43)
InvalidPassword = _define("InvalidPassword", 44)
InvalidUserStatus = _define("InvalidUserStatus", 45)
UserAlreadyExists = _define("UserAlreadyExists", 46)
UserInactive = _define("UserInactive", 47)
CannotDeleteUser = _define("CannotDeleteUser", 48)
CannotChangePermissions = _define("CannotChangePermissions", 49)
InvalidPersonalAccessTokenName = _define("InvalidPersonalAccessTokenName", 50)
PersonalAccessTokenAlreadyExists = _define("PersonalAccessTokenAlreadyExists", 51)
PersonalAccessTokensLimitReached = _define("PersonalAccessTokensLimitReached", 52)
InvalidPersonalAccessToken = _define("InvalidPersonalAccessToken", 53)
PersonalAccessTokenExpired = _define("PersonalAccessTokenExpired", 54)
UsersLimitReached = _define("UsersLimitReached", 55)
NotConnected = _define("NotConnected", 61)
ClientShutdown = _define("ClientShutdown", 63)
InvalidEncryptionKey = _define("InvalidEncryptionKey", 70)
CannotEncryptData = _define("CannotEncryptData", 71)
CannotDecryptData = _define("CannotDecryptData", 72)
AccessTokenMissing = _define("AccessTokenMissing", 77)
InvalidAccessToken = _define("InvalidAccessToken", 78)
InvalidSizeBytes = _define("InvalidSizeBytes", 80)
InvalidUtf8 = _define("InvalidUtf8", 81)
ClientNotFound = _define("ClientNotFound", 100)
InvalidClientId = _define("InvalidClientId", 101)
ConnectionClosed = _define("ConnectionClosed", 206)
StreamIdNotFound = _define("StreamIdNotFound", 1009)
StreamNameAlreadyExists = _define("StreamNameAlreadyExists", 1012)
InvalidStreamName = _define("InvalidStreamName", 1013)
InvalidTopicSize = _define("InvalidTopicSize", 1019)
TopicIdNotFound = _define("TopicIdNotFound", 2010)
TopicNameAlreadyExists = _define("TopicNameAlreadyExists", 2013)
InvalidTopicName = _define("InvalidTopicName", 2014)
TooManyPartitions = _define("TooManyPartitions", 2015)
InvalidReplicationFactor = _define("InvalidReplicationFactor", 2018)
InvalidPartitionsCount = _define("InvalidPartitionsCount", 2019)
PartitionNotFound = _define("PartitionNotFound", 3007)
ConsumerOffsetNotFound = _define("ConsumerOffsetNotFound", 3021)
NotResolvedConsumer = _define("NotResolvedConsumer", 3022)
SegmentNotFound = _define("SegmentNotFound", 4000)
InvalidMessagesCount = _define("InvalidMessagesCount", 4009)
TooBigUserHeaders = _define("TooBigUserHeaders", 4017)
TooBigMessagePayload = _define("TooBigMessagePayload", 4022)
InvalidSegmentsCount = _define("InvalidSegmentsCount", 4030)
NonZeroOffset = _define("NonZeroOffset", 4031)
NonZeroTimestamp = _define("NonZeroTimestamp", 4032)
MissingIndex = _define("MissingIndex", 4033)
InvalidIndexesByteSize = _define("InvalidIndexesByteSize", 4034)
InvalidIndexesCount = _define("InvalidIndexesCount", 4035)
InvalidMessagesSize = _define("InvalidMessagesSize", 4036)
TooSmallMessage = _define("TooSmallMessage", 4037)
InvalidOffset = _define("InvalidOffset", 4100)
InvalidReservedField = _define("InvalidReservedField", 4101)
ConsumerGroupIdNotFound = _define("ConsumerGroupIdNotFound", 5000)
ConsumerGroupNameAlreadyExists = _define("ConsumerGroupNameAlreadyExists", 5004)
InvalidConsumerGroupName = _define("InvalidConsumerGroupName", 5005)
ConsumerGroupMemberNotFound = _define("ConsumerGroupMemberNotFound", 5006)
CannotReadIndexPosition = _define("CannotReadIndexPosition", 10011)
TaskTimeout = _define("TaskTimeout", 12001)
TaskTimeout.retriable = True  # metadata not committed in time (e.g. during a Raft election)

# whippet's cluster edition: codes past Iggy 0.8's table (the 0.8 SDK reports them as "error").
CODE_NAMES[12010] = "not_leader"
CODE_NAMES[12011] = "replication_timeout"
NotLeader = _define("NotLeader", 12010)
NotLeader.retriable = True
ReplicationTimeout = _define("ReplicationTimeout", 12011)
ReplicationTimeout.retriable = True

__all__ += [
    "GenericError",
    "InvalidCommand",
    "InvalidFormat",
    "FeatureUnavailable",
    "InvalidIdentifier",
    "Disconnected",
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
    "CannotEstablishConnection",
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
    "ConsumerGroupNameAlreadyExists",
    "InvalidConsumerGroupName",
    "ConsumerGroupMemberNotFound",
    "CannotReadIndexPosition",
    "TaskTimeout",
    "NotLeader",
    "ReplicationTimeout",
]
