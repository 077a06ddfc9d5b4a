"""The OpenAPI 3.1 description of the HTTP API, generated from the route table.

Paths, methods, parameters and status codes come from the same ``Route``
objects the app is built from, so the description lists exactly the routes
served; only the JSON schemas of bodies are written here, once, by name.
"""

from __future__ import annotations

import re
from typing import Any

from whippet.node.http.routing import Route
from whippet.wire.ack import ACK_LEVELS

__all__ = ["SCHEMAS", "build_openapi"]

_U32 = {"type": "integer", "minimum": 0, "maximum": 0xFFFF_FFFF}
_U64 = {"type": "integer", "minimum": 0, "maximum": 0xFFFF_FFFF_FFFF_FFFF}
_U8 = {"type": "integer", "minimum": 0, "maximum": 255}
_STR = {"type": "string"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
_B64 = {"type": "string", "format": "byte"}
_SIZE = {"type": "string", "description": "byte size in byte-unit text, e.g. \"1.5 KB\""}


def _obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _flags(*names: str) -> dict[str, Any]:
    return _obj(names, **{n: {"type": "boolean"} for n in names})


_STREAM = {"id": _U32, "created_at": _U64, "name": _STR, "size": _SIZE, "messages_count": _U64, "topics_count": _U32}
_TOPIC = {
    "id": _U32, "created_at": _U64, "name": _STR, "size": _SIZE, "message_expiry": _U64,
    "compression_algorithm": {"type": "string", "enum": ["none", "gzip"]}, "max_topic_size": _U64,
    "replication_factor": _U8, "messages_count": _U64, "partitions_count": _U32,
}
_TOPIC_SETTINGS = {
    "name": _NAME,
    "compression_algorithm": {"type": "string", "enum": ["none", "gzip"]},
    "message_expiry": _U64,
    "max_topic_size": {"anyOf": [_U64, {"type": "string"}]},
    "replication_factor": _nullable({"type": "integer", "minimum": 1, "maximum": 255}),
}
_GROUP = {"id": _U32, "name": _STR, "partitions_count": _U32, "members_count": _U32}
_USER = {"id": _U32, "created_at": _U64, "status": {"type": "string", "enum": ["active", "inactive"]}, "username": _STR}
_CLIENT = {
    "client_id": _U32, "user_id": _nullable(_U32), "address": _STR,
    "transport": {"type": "string", "enum": ["tcp", "quic", "http", "ws"]}, "consumer_groups_count": _U32,
}
_HEADER_FIELD = _obj(("kind", "value"), kind=_STR, value=_B64)
_IDENTITY = _obj(("user_id", "access_token"), user_id=_U32,
                 access_token=_obj(("token", "expiry"), token=_STR, expiry=_U64))

SCHEMAS: dict[str, Any] = {
    "text": {"type": "string"},
    "zip": {"type": "string", "format": "binary"},
    "OpenApi": {"type": "object"},
    "Error": _obj(("id", "code", "reason", "field"), id=_U32, code=_STR, reason=_STR, field=_nullable(_STR)),
    # streams, topics, partitions
    "Stream": _obj(tuple(_STREAM), **_STREAM),
    "StreamList": _array("Stream"),
    "StreamDetails": _obj((*_STREAM, "topics"), **_STREAM, topics=_array("Topic")),
    "CreateStream": _obj(("name",), name=_NAME),
    "UpdateStream": _obj(("name",), name=_NAME),
    "Topic": _obj(tuple(_TOPIC), **_TOPIC),
    "TopicList": _array("Topic"),
    "Partition": _obj(
        ("id", "created_at", "segments_count", "current_offset", "size", "messages_count"),
        id=_U32, created_at=_U64, segments_count=_U32, current_offset=_U64, size=_SIZE, messages_count=_U64,
    ),
    "TopicDetails": _obj((*_TOPIC, "partitions"), **_TOPIC, partitions=_array("Partition")),
    "CreateTopic": _obj(
        ("name", "partitions_count", "compression_algorithm", "message_expiry", "max_topic_size"),
        partitions_count={"type": "integer", "minimum": 0, "maximum": 1000}, **_TOPIC_SETTINGS,
    ),
    "UpdateTopic": _obj(("name", "compression_algorithm", "message_expiry", "max_topic_size"), **_TOPIC_SETTINGS),
    "TopicAck": _obj(("ack", "effective"), ack={"type": "string", "enum": [*ACK_LEVELS, "default"]},
                     effective={"type": "string", "enum": list(ACK_LEVELS)}),
    "SetTopicAck": _obj(("ack",), ack={"type": "string", "enum": [*ACK_LEVELS, "default"]}),
    "CreatePartitions": _obj(("partitions_count",), partitions_count={"type": "integer", "minimum": 1, "maximum": 1000}),
    # consumer groups and offsets
    "ConsumerGroup": _obj(tuple(_GROUP), **_GROUP),
    "ConsumerGroupList": _array("ConsumerGroup"),
    "ConsumerGroupDetails": _obj(
        (*_GROUP, "members"), **_GROUP,
        members={"type": "array", "items": _obj(("id", "partitions_count", "partitions"), id=_U32,
                                                 partitions_count=_U32, partitions={"type": "array", "items": _U32})},
    ),
    "CreateConsumerGroup": _obj(("name",), name=_NAME),
    "ConsumerOffsetInfo": _obj(("partition_id", "current_offset", "stored_offset"),
                               partition_id=_U32, current_offset=_U64, stored_offset=_U64),
    "StoreConsumerOffset": _obj(("offset",), consumer_id={"anyOf": [_STR, _U32]}, partition_id=_nullable(_U32),
                                offset=_U64),
    # messages
    "SendMessages": _obj(
        ("partitioning", "messages"),
        partitioning=_obj(("kind", "value"), kind={"type": "string", "enum": ["balanced", "partition_id", "messages_key"]},
                          value=_B64),
        messages={"type": "array", "items": _obj(
            ("payload",),
            id={"anyOf": [{"type": "integer", "minimum": 0}, _STR]},
            payload=_B64,
            user_headers={"anyOf": [
                {"type": "array", "items": _obj(("key", "value"), key=_HEADER_FIELD, value=_HEADER_FIELD)}, _B64,
                {"type": "null"},
            ]},
        )},
    ),
    "PolledMessages": _obj(
        ("partition_id", "current_offset", "count", "messages"), partition_id=_U32, current_offset=_U64, count=_U32,
        messages={"type": "array", "items": _obj(
            ("header", "payload", "user_headers"),
            header=_obj(
                ("checksum", "id", "offset", "timestamp", "origin_timestamp", "user_headers_length", "payload_length",
                 "reserved"),
                checksum=_U64, id={"type": "integer", "minimum": 0}, offset=_U64, timestamp=_U64,
                origin_timestamp=_U64, user_headers_length=_U32, payload_length=_U32, reserved=_U64,
            ),
            payload=_B64,
            user_headers={"anyOf": [{"type": "array", "items": _obj(("key", "value"), key=_HEADER_FIELD,
                                                                      value=_HEADER_FIELD)}, _B64]},
        )},
    ),
    # users and tokens
    "GlobalPermissions": _flags(
        "manage_servers", "read_servers", "manage_users", "read_users", "manage_streams", "read_streams",
        "manage_topics", "read_topics", "poll_messages", "send_messages",
    ),
    "TopicPermissions": _flags("manage_topic", "read_topic", "poll_messages", "send_messages"),
    "StreamPermissions": {
        **_flags("manage_stream", "read_stream", "manage_topics", "read_topics", "poll_messages", "send_messages"),
    },
    "Permissions": _obj(
        ("global",), **{"global": _ref("GlobalPermissions")},
        streams=_nullable({"type": "object", "propertyNames": {"pattern": "^[0-9]{1,9}$"},
                           "additionalProperties": _ref("StreamPermissions")}),
    ),
    "User": _obj(tuple(_USER), **_USER),
    "UserList": _array("User"),
    "UserDetails": _obj((*_USER, "permissions"), **_USER, permissions=_nullable(_ref("Permissions"))),
    "CreateUser": _obj(
        ("username", "password", "status"),
        username={"type": "string", "minLength": 3, "maxLength": 50},
        password={"type": "string", "minLength": 3, "maxLength": 100},
        status={"type": "string", "enum": ["active", "inactive"]},
        permissions=_nullable(_ref("Permissions")),
    ),
    "UpdateUser": _obj((), username=_nullable({"type": "string", "minLength": 3, "maxLength": 50}),
                       status=_nullable({"type": "string", "enum": ["active", "inactive"]})),
    "UpdatePermissions": _obj(("permissions",), permissions=_nullable(_ref("Permissions"))),
    "ChangePassword": _obj(("current_password", "new_password"), current_password=_STR, new_password=_STR),
    "LoginUser": _obj(("username", "password"), username=_STR, password=_STR, version=_nullable(_STR),
                      context=_nullable(_STR)),
    "RefreshToken": _obj(("token",), token=_STR),
    "LoginWithPersonalAccessToken": _obj(("token",), token=_STR),
    "IdentityInfo": _IDENTITY,
    "PersonalAccessToken": _obj(("name", "expiry_at"), name=_STR, expiry_at=_nullable(_U64)),
    "PersonalAccessTokenList": _array("PersonalAccessToken"),
    "CreatePersonalAccessToken": _obj(("name", "expiry"), name={"type": "string", "minLength": 3, "maxLength": 30},
                                      expiry=_U64),
    "RawPersonalAccessToken": _obj(("token",), token=_STR),
    # system
    "Client": _obj(tuple(_CLIENT), **_CLIENT),
    "ClientList": _array("Client"),
    "ClientDetails": _obj(
        (*_CLIENT, "consumer_groups"), **_CLIENT,
        consumer_groups={"type": "array", "items": _obj(("stream_id", "topic_id", "group_id"), stream_id=_U32,
                                                         topic_id=_U32, group_id=_U32)},
    ),
    "ClusterMetadata": _obj(("name", "nodes"), name=_STR, nodes={"type": "array", "items": _obj(
        ("name", "ip", "endpoints", "role", "status"), name=_STR, ip=_STR,
        endpoints=_obj(("tcp", "quic", "http", "websocket"), tcp=_U32, quic=_U32, http=_U32, websocket=_U32),
        role={"type": "string", "enum": ["leader", "follower"]},
        status={"type": "string", "enum": ["healthy", "starting", "stopping", "unreachable", "maintenance", "unknown"]},
    )}),
    "Stats": {"type": "object", "required": ["process_id", "streams_count", "hostname", "iggy_server_version"]},
    "GetSnapshot": _obj(
        ("compression", "snapshot_types"),
        compression={"type": "string", "enum": ["Stored", "Deflated", "Bzip2", "Zstd", "Lzma", "Xz"]},
        snapshot_types={"type": "array", "minItems": 1, "items": {"type": "string", "enum": [
            "FilesystemOverview", "ProcessList", "ResourceUsage", "Test", "ServerLogs", "ServerConfig", "All"]}},
    ),
}
SCHEMAS["StreamPermissions"]["properties"]["topics"] = _nullable(
    {"type": "object", "propertyNames": {"pattern": "^[0-9]{1,9}$"}, "additionalProperties": _ref("TopicPermissions")}
)

_PATH_PARAM = re.compile(r"{(\w+)}")
_PATH_PARAM_SCHEMAS = {
    "client_id": _U32,
    "partition_id": _U32,
    "fsync": {"type": "string", "enum": ["true", "false"]},
}
_ERRORS = {
    "400": "Invalid input or a failed rule (Iggy error body)",
    "401": "Missing, invalid, expired or revoked access token",
    "403": "Permission denied (Iggy error 41)",
    "404": "Not found (Iggy error body)",
}


def _operation(route: Route) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": _PATH_PARAM_SCHEMAS.get(name, {"type": "string", "minLength": 1, "maxLength": 255})}
        for name in _PATH_PARAM.findall(route.path)
    ]
    for q in route.query:
        schema: dict[str, Any] = {"type": q.type}
        if q.type == "integer":
            schema.update(minimum=0, maximum=q.maximum if q.maximum is not None else 0xFFFF_FFFF)
        if q.enum:
            schema = {"type": "string", "enum": list(q.enum)}
        params.append({"name": q.name, "in": "query", "required": q.required, "schema": schema})
    ok: dict[str, Any] = {"description": route.summary}
    if route.response is not None:
        ok["content"] = {route.content_type: {"schema": _ref(route.response)}}
    responses: dict[str, Any] = {str(route.status): ok}
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    for status, text in _ERRORS.items():
        if route.public and status in ("401", "403"):
            continue
        responses[status] = {"description": text, **(error if status != "401" else {})}
    slug = _PATH_PARAM.sub(r"\1", route.path).strip("/").replace("/", "_").replace("-", "_").replace(".", "_")
    op: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{slug or 'root'}",
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": params,
        "responses": responses,
    }
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(route.body)}}}
    if route.public:
        op["security"] = []
    return op


def build_openapi(routes: list[Route], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Iggy 0.8 HTTP API (whippet)",
            "version": version,
            "description": "The Apache Iggy 0.8 REST API as served by whippet. Log in at /users/login and send the "
            "access token as `Authorization: Bearer <token>`.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearerAuth": []}],
    }
