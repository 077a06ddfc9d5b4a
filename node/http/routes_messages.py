"""Messages and consumer offsets: /streams/{s}/topics/{t}/messages and /consumer-offsets.

A send turns the JSON messages into the binary SendMessages payload
(``wire.batch.build_send_messages``) and dispatches it, so validation, partition
choice and the append are the TCP path's. A poll dispatches PollMessages and
renders the records as JSON. HTTP consumers are always of kind "consumer": 0.8
has no group poll and no group offsets over HTTP (``Consumer::new`` in its
handlers), so a ``consumer_id`` here never names a consumer group.
"""

from __future__ import annotations

import time

from aiohttp import web

from whippet.node.http import json_shapes as js
from whippet.node.http.bodies import (
    U32_MAX,
    fail,
    get_b64,
    get_opt_u32,
    get_u64,
    identifier,
    json_object,
    path_id,
    path_u32,
    query_bool,
    query_opt_u32,
    query_str,
    query_u32,
    query_u64,
)
from whippet.node.http.errors import NotFound
from whippet.node.http.routing import Call, Param, Route, json, no_content
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.batch import build_send_messages, parse_polled
from whippet.wire.headers import encode_user_headers
from whippet.wire.primitives import Consumer, Identifier, Partitioning, PollingKind, PollingStrategy

__all__ = ["ROUTES"]

_U128_MAX = (1 << 128) - 1
_HEX = frozenset("0123456789abcdefABCDEF")
_POLLING_KINDS = {
    "offset": PollingKind.OFFSET, "o": PollingKind.OFFSET,
    "timestamp": PollingKind.TIMESTAMP, "t": PollingKind.TIMESTAMP,
    "first": PollingKind.FIRST, "f": PollingKind.FIRST,
    "last": PollingKind.LAST, "l": PollingKind.LAST,
    "next": PollingKind.NEXT, "n": PollingKind.NEXT,
}
_PARTITIONING_KINDS = {"balanced": 1, "partition_id": 2, "messages_key": 3}
_HEADER_KIND_CODES = {name: code for code, name in js.HEADER_KINDS.items()}
_MESSAGES = "/streams/{stream_id}/topics/{topic_id}/messages"
_OFFSETS = "/streams/{stream_id}/topics/{topic_id}/consumer-offsets"


def _ids(call: Call) -> tuple[Identifier, Identifier]:
    return path_id(call.request, "stream_id"), path_id(call.request, "topic_id")


def _consumer(value: object) -> Consumer:
    """A consumer id from a query string or a JSON string/number (0.8 takes both)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= U32_MAX:
            raise fail("`consumer_id` is out of the u32 range", 6)
        return Consumer.consumer(Identifier(value))
    if not isinstance(value, str):
        raise fail("`consumer_id` must be a string or a number", 6)
    return Consumer.consumer(identifier(value, "consumer_id"))


# --- poll ---
async def _poll(call: Call) -> web.Response:
    request = call.request
    kind_text = query_str(request, "kind", "offset")
    if kind_text not in _POLLING_KINDS:
        raise fail(f"unknown polling kind {kind_text!r}", 3)
    stream_id, topic_id = _ids(call)
    command = rq.PollMessages(
        consumer=_consumer(query_str(request, "consumer_id", "1")),
        stream_id=stream_id,
        topic_id=topic_id,
        partition_id=query_u32(request, "partition_id", 0),
        strategy=PollingStrategy(_POLLING_KINDS[kind_text], query_u64(request, "value", 0)),
        count=query_u32(request, "count", 10),
        auto_commit=query_bool(request, "auto_commit", False),
    )
    head, messages = parse_polled(await call.run(command))
    return json(js.polled_messages(head, messages))


# --- send ---
def _message_id(value: object) -> int:
    """0 when absent; a number; or text holding a decimal u128 or a UUID in hex (0.8's rules)."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= _U128_MAX:
            raise fail("a message id must be a non-negative u128")
        return value
    if isinstance(value, str):
        if value.isascii() and value.isdigit() and int(value) <= _U128_MAX:
            return int(value)
        hex_text = value.replace("-", "")
        if len(hex_text) == 32 and set(hex_text) <= _HEX:
            return int(hex_text, 16)
    raise fail(f"invalid message id {value!r}: use a number, a decimal string or a UUID")


def _header_field(value: object, where: str) -> tuple[int, bytes]:
    if not isinstance(value, dict):
        raise fail(f"`{where}` must be an object with `kind` and `value`")
    kind = _HEADER_KIND_CODES.get(value.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        raise fail(f"`{where}.kind` is not a header kind")
    return kind, get_b64(value.get("value"), f"{where}.value")


def _user_headers(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return get_b64(value, "user_headers")
    if not isinstance(value, list):
        raise fail("`user_headers` must be a list of entries or a base64 string")
    entries: dict[tuple[int, bytes], tuple[int, bytes]] = {}
    for entry in value:
        if not isinstance(entry, dict):
            raise fail("a user header entry must be an object with `key` and `value`")
        entries[_header_field(entry.get("key"), "key")] = _header_field(entry.get("value"), "value")
    # 0.8 collects the entries in a map keyed by header key: sorted, a repeated key keeps its last value.
    return encode_user_headers((k[0], k[1], v[0], v[1]) for k, v in sorted(entries.items(), key=lambda e: e[0][1]))


def _partitioning(value: object) -> Partitioning:
    if not isinstance(value, dict):
        raise fail("missing `partitioning` object")
    kind = _PARTITIONING_KINDS.get(value.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        raise fail("`partitioning.kind` must be balanced, partition_id or messages_key", 3)
    raw = value.get("value")
    key = b"" if raw is None else get_b64(raw, "partitioning.value")
    if kind == 1:
        return Partitioning.balanced()
    if not 1 <= len(key) <= 255:
        raise fail("a partitioning value has 1..255 bytes", 4028)  # InvalidKeyValueLength
    return Partitioning(kind, key)


async def _send(call: Call) -> web.Response:
    body = await json_object(call.request)
    partitioning = _partitioning(body.get("partitioning"))
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list):
        raise fail("missing `messages` list")
    now = time.time_ns() // 1000  # origin timestamp, as the 0.8 server's JSON decoding sets it
    messages = []
    for m in raw_messages:
        if not isinstance(m, dict):
            raise fail("each message must be an object with `payload`")
        payload = get_b64(m.get("payload"), "payload")
        messages.append((_message_id(m.get("id")), payload, _user_headers(m.get("user_headers")), now))
    stream_id, topic_id = _ids(call)
    await call.run_payload(codes.SEND_MESSAGES, build_send_messages(stream_id, topic_id, partitioning, messages))
    return web.Response(status=201)


async def _flush(call: Call) -> web.Response:
    fsync_text = call.request.match_info["fsync"].removeprefix("fsync=")  # the 0.8 SDK sends "fsync=<bool>"
    if fsync_text not in ("true", "false"):
        raise fail("fsync must be true or false")
    stream_id, topic_id = _ids(call)
    command = rq.FlushUnsavedBuffer(
        stream_id=stream_id, topic_id=topic_id, partition_id=path_u32(call.request, "partition_id"),
        fsync=fsync_text == "true",
    )
    await call.run(command)
    return web.Response(status=200)


# --- consumer offsets ---
async def _get_offset(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    command = rq.GetConsumerOffset(
        consumer=_consumer(query_str(call.request, "consumer_id", "1")),
        stream_id=stream_id,
        topic_id=topic_id,
        partition_id=query_opt_u32(call.request, "partition_id"),
    )
    payload = await call.run(command)
    if not payload:
        raise NotFound()
    return json(js.consumer_offset(rs.ConsumerOffsetInfo.decode(payload)))


async def _store_offset(call: Call) -> web.Response:
    body = await json_object(call.request)
    stream_id, topic_id = _ids(call)
    command = rq.StoreConsumerOffset(
        consumer=_consumer(body.get("consumer_id", "1")),
        stream_id=stream_id,
        topic_id=topic_id,
        partition_id=get_opt_u32(body, "partition_id"),
        offset=get_u64(body, "offset"),
    )
    await call.run(command)
    return no_content()


async def _delete_offset(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    command = rq.DeleteConsumerOffset(
        consumer=_consumer(call.request.match_info["consumer_id"]),
        stream_id=stream_id,
        topic_id=topic_id,
        partition_id=query_opt_u32(call.request, "partition_id"),
    )
    await call.run(command)
    return no_content()


_POLL_QUERY = (
    Param("consumer_id", "string"),
    Param("partition_id", "integer"),
    Param("kind", "string", enum=tuple(_POLLING_KINDS)),
    Param("value", "integer"),
    Param("count", "integer"),
    Param("auto_commit", "boolean"),
)
_OFFSET_QUERY = (Param("consumer_id", "string"), Param("partition_id", "integer"))

ROUTES = [
    Route("GET", _MESSAGES, _poll, "Poll messages", "messages", query=_POLL_QUERY, response="PolledMessages"),
    Route("POST", _MESSAGES, _send, "Send messages", "messages", body="SendMessages", status=201),
    Route("GET", _MESSAGES + "/flush/{partition_id}/{fsync}", _flush, "Flush a partition's unsaved buffer",
          "messages"),
    Route("GET", _OFFSETS, _get_offset, "A consumer's stored offset", "consumer-offsets", query=_OFFSET_QUERY,
          response="ConsumerOffsetInfo"),
    Route("PUT", _OFFSETS, _store_offset, "Store a consumer's offset", "consumer-offsets",
          body="StoreConsumerOffset", status=204),
    Route("DELETE", _OFFSETS + "/{consumer_id}", _delete_offset, "Delete a consumer's stored offset",
          "consumer-offsets", query=(Param("partition_id", "integer"),), status=204),
]
