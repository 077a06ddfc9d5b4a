"""Streams, topics, partitions, segments and consumer groups: /streams/...

Body checks mirror 0.8's ``Validatable`` impls so a bad name or count gets the
same error code over HTTP as from a 0.8 server (InvalidStreamName, TooManyPartitions,
...); everything else is decided by the binary handlers.
"""

from __future__ import annotations

from aiohttp import web

from whippet.node.http import json_shapes as js
from whippet.node.http.bodies import (
    fail,
    get_str,
    get_u32,
    get_u64,
    json_object,
    parse_size,
    path_id,
    path_u32,
    query_u32,
)
from whippet.node.http.errors import NotFound
from whippet.node.http.routing import Call, Param, Route, json, no_content
from whippet.node.v09.dispatch import patched_update
from whippet.node.v09.replies import topic_view
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.ack import ACK_LEVELS
from whippet.wire.errors import IggyError
from whippet.wire.headers import HeaderKind
from whippet.wire.primitives import Identifier
from whippet.wire.v09 import options as o09

__all__ = ["ROUTES"]

_MAX_PARTITIONS = 1000
_COMPRESSION = {"none": 1, "gzip": 2}
_STREAM = "/streams/{stream_id}"
_TOPIC = _STREAM + "/topics/{topic_id}"


def _name(body: dict[str, object], code: int) -> str:
    name = get_str(body, "name")
    if not 1 <= len(name.encode()) <= 255:
        raise fail("a name has 1..255 bytes", code)
    return name


def _ids(call: Call) -> tuple[Identifier, Identifier]:
    return path_id(call.request, "stream_id"), path_id(call.request, "topic_id")


async def _exists(call: Call, lookup: rq.GetStream | rq.GetTopic) -> bool:
    """Whether a list came back empty because its parent is missing (the binary command
    answers both cases with an empty payload). A lookup the caller may not run counts as
    existing: the list command already passed its own permission check."""
    try:
        return bool(await call.run(lookup))
    except IggyError:
        return True


# --- streams ---
async def _get_streams(call: Call) -> web.Response:
    return json([js.stream(s) for s in rs.decode_streams(await call.run(rq.GetStreams()))])


async def _get_stream(call: Call) -> web.Response:
    payload = await call.run(rq.GetStream(stream_id=path_id(call.request, "stream_id")))
    if not payload:
        raise NotFound()
    return json(js.stream_details(rs.StreamDetails.decode(payload)))


async def _create_stream(call: Call) -> web.Response:
    name = _name(await json_object(call.request), 1013)  # InvalidStreamName
    info = rs.StreamInfo.decode(await call.run(rq.CreateStream(name=name)))
    return json(js.stream_details(rs.StreamDetails(stream=info, topics=[])))


async def _update_stream(call: Call) -> web.Response:
    name = _name(await json_object(call.request), 1013)
    await call.run(rq.UpdateStream(stream_id=path_id(call.request, "stream_id"), name=name))
    return no_content()


async def _delete_stream(call: Call) -> web.Response:
    await call.run(rq.DeleteStream(stream_id=path_id(call.request, "stream_id")))
    return no_content()


async def _purge_stream(call: Call) -> web.Response:
    await call.run(rq.PurgeStream(stream_id=path_id(call.request, "stream_id")))
    return no_content()


# --- topics ---
def _topic_settings(body: dict[str, object]) -> tuple[int, int, int, int]:
    """(compression, message_expiry, max_topic_size, replication_factor) of a create/update body."""
    compression = get_str(body, "compression_algorithm").lower()
    if compression not in _COMPRESSION:
        raise fail(f"unknown compression algorithm {compression!r}")
    expiry = get_u64(body, "message_expiry")
    max_size = parse_size(body.get("max_topic_size", 0), "max_topic_size")
    replication = body.get("replication_factor")
    if replication is not None:
        if isinstance(replication, bool) or not isinstance(replication, int) or not 0 <= replication <= 255:
            raise fail("`replication_factor` must be 0..255 or null")
        if replication == 0:
            raise fail("the replication factor cannot be 0", 2018)  # InvalidReplicationFactor
    return _COMPRESSION[compression], expiry, max_size, replication or 0


def _options(body: dict[str, object], *, update: bool) -> o09.TopicOptions:
    """A 0.9 body's ``options`` (key -> string value), checked against the topic catalog."""
    raw = body.get("options") or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise fail("`options` must map option keys to strings")
    return o09.parse_topic_options([(str(k), HeaderKind.STRING, v.encode()) for k, v in raw.items()], update=update)


def _with_options(call: Call, topic: dict[str, object]) -> dict[str, object]:
    """A topic's JSON plus its 0.9 ``options``: value as text, and whether the client set it."""
    stream = path_id(call.request, "stream_id").value
    with call.node.meta.lock:
        stream_id = call.node.meta.machine.stream(stream).id
    explicit, derived, _, _ = topic_view(call.node, stream_id, int(topic["id"]))  # type: ignore[call-overload]
    topic["options"] = {
        **{k: {"value": o09.option_text(kind, v), "explicit": False} for k, kind, v in derived},
        **{k: {"value": o09.option_text(kind, v), "explicit": True} for k, kind, v in explicit},
    }
    return topic


async def _get_topics(call: Call) -> web.Response:
    payload = await call.run(rq.GetTopics(stream_id=path_id(call.request, "stream_id")))
    if not payload and not await _exists(call, rq.GetStream(stream_id=path_id(call.request, "stream_id"))):
        raise NotFound()  # 0.8: an unknown stream is 404, a stream without topics is []
    return json([_with_options(call, js.topic(t)) for t in rs.decode_topics(payload)])


async def _get_topic(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    payload = await call.run(rq.GetTopic(stream_id=stream_id, topic_id=topic_id))
    if not payload:
        raise NotFound()
    return json(_with_options(call, js.topic_details(rs.TopicDetails.decode(payload))))


async def _create_topic(call: Call) -> web.Response:
    body = await json_object(call.request)
    name = _name(body, 2014)  # InvalidTopicName
    partitions = get_u32(body, "partitions_count")
    if partitions > _MAX_PARTITIONS:
        raise fail(f"at most {_MAX_PARTITIONS} partitions", 2015)  # TooManyPartitions
    compression, expiry, max_size, replication = _topic_settings(body)
    opts = _options(body, update=False)
    command = rq.CreateTopic(
        stream_id=path_id(call.request, "stream_id"),
        partitions_count=partitions,
        compression=opts.compression or compression,
        message_expiry=opts.message_expiry or expiry,
        max_topic_size=opts.max_topic_size or max_size,
        replication_factor=replication,
        name=name,
        options=opts.entries,
        ack=opts.ack or "",
    )
    return json(_with_options(call, js.topic_details(rs.TopicDetails.decode(await call.run(command)))))


async def _update_topic(call: Call) -> web.Response:
    body = await json_object(call.request)
    name = _name(body, 2014)
    stream_id, topic_id = _ids(call)
    if body.get("compression_algorithm") is None:  # a 0.9 body: a patch of what it names
        given = {k: str(body[k]) for k in ("message_expiry", "max_topic_size") if body.get(k) is not None}
        body = {**body, "options": {**given, **(body.get("options") or {})}}  # type: ignore[dict-item]
    opts = _options(body, update=True)
    if body.get("compression_algorithm") is None:
        patch = rq.UpdateTopic(stream_id=stream_id, topic_id=topic_id, compression=opts.compression or 0,
                               message_expiry=opts.message_expiry or 0, max_topic_size=opts.max_topic_size or 0,
                               replication_factor=0, name=name, options=opts.entries)  # fmt: skip
        await call.run(patched_update(call.node, patch))
        return no_content()
    compression, expiry, max_size, replication = _topic_settings(body)
    command = rq.UpdateTopic(
        stream_id=stream_id,
        topic_id=topic_id,
        compression=opts.compression or compression,
        message_expiry=opts.message_expiry or expiry,
        max_topic_size=opts.max_topic_size or max_size,
        replication_factor=replication,
        name=name,
        options=opts.entries,
    )
    await call.run(command)
    return no_content()


async def _delete_topic(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    await call.run(rq.DeleteTopic(stream_id=stream_id, topic_id=topic_id))
    return no_content()


async def _purge_topic(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    await call.run(rq.PurgeTopic(stream_id=stream_id, topic_id=topic_id))
    return no_content()


async def _get_topic_ack(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    return json(js.topic_ack(rs.TopicAck.decode(await call.run(rq.GetTopicAck(stream_id=stream_id, topic_id=topic_id)))))


async def _set_topic_ack(call: Call) -> web.Response:
    ack = get_str(await json_object(call.request), "ack")
    if ack != "default" and ack not in ACK_LEVELS:
        raise fail(f"`ack` must be one of {', '.join(ACK_LEVELS)} or default, got {ack!r}")
    stream_id, topic_id = _ids(call)
    await call.run(rq.SetTopicAck(stream_id=stream_id, topic_id=topic_id, ack="" if ack == "default" else ack))
    return no_content()


# --- partitions and segments ---
def _partitions_count(count: int) -> int:
    if not 1 <= count <= _MAX_PARTITIONS:
        raise fail(f"partitions_count must be 1..{_MAX_PARTITIONS}", 2015)
    return count


async def _create_partitions(call: Call) -> web.Response:
    count = _partitions_count(get_u32(await json_object(call.request), "partitions_count"))
    stream_id, topic_id = _ids(call)
    await call.run(rq.CreatePartitions(stream_id=stream_id, topic_id=topic_id, partitions_count=count))
    return web.Response(status=201)


async def _delete_partitions(call: Call) -> web.Response:
    count = _partitions_count(query_u32(call.request, "partitions_count", 0))
    stream_id, topic_id = _ids(call)
    await call.run(rq.DeletePartitions(stream_id=stream_id, topic_id=topic_id, partitions_count=count))
    return no_content()


async def _delete_segments(call: Call) -> web.Response:
    if "segments_count" not in call.request.query:
        raise fail("missing query parameter `segments_count`")
    count = query_u32(call.request, "segments_count", 0)
    stream_id, topic_id = _ids(call)
    partition_id = path_u32(call.request, "partition_id")
    await call.run(
        rq.DeleteSegments(stream_id=stream_id, topic_id=topic_id, partition_id=partition_id, segments_count=count)
    )
    return no_content()


# --- consumer groups ---
async def _get_groups(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    payload = await call.run(rq.GetConsumerGroups(stream_id=stream_id, topic_id=topic_id))
    if not payload and not await _exists(call, rq.GetTopic(stream_id=stream_id, topic_id=topic_id)):
        raise NotFound()  # an unknown topic is 404, a topic without groups is []
    return json([js.consumer_group(g) for g in rs.decode_consumer_groups(payload)])


async def _get_group(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    payload = await call.run(
        rq.GetConsumerGroup(stream_id=stream_id, topic_id=topic_id, group_id=path_id(call.request, "group_id"))
    )
    if not payload:
        raise NotFound()
    return json(js.consumer_group_details(rs.ConsumerGroupDetails.decode(payload)))


async def _create_group(call: Call) -> web.Response:
    name = _name(await json_object(call.request), 5005)  # InvalidConsumerGroupName
    stream_id, topic_id = _ids(call)
    info = rs.ConsumerGroupInfo.decode(
        await call.run(rq.CreateConsumerGroup(stream_id=stream_id, topic_id=topic_id, name=name))
    )
    return json(js.consumer_group_details(rs.ConsumerGroupDetails(group=info, members=[])), status=201)


async def _delete_group(call: Call) -> web.Response:
    stream_id, topic_id = _ids(call)
    await call.run(
        rq.DeleteConsumerGroup(stream_id=stream_id, topic_id=topic_id, group_id=path_id(call.request, "group_id"))
    )
    return no_content()


ROUTES = [
    Route("GET", "/streams", _get_streams, "List streams", "streams", response="StreamList"),
    Route("POST", "/streams", _create_stream, "Create a stream", "streams", body="CreateStream",
          response="StreamDetails"),
    Route("GET", _STREAM, _get_stream, "One stream with its topics", "streams", response="StreamDetails"),
    Route("PUT", _STREAM, _update_stream, "Rename a stream", "streams", body="UpdateStream", status=204),
    Route("DELETE", _STREAM, _delete_stream, "Delete a stream", "streams", status=204),
    Route("DELETE", _STREAM + "/purge", _purge_stream, "Delete a stream's messages", "streams", status=204),
    Route("GET", _STREAM + "/topics", _get_topics, "List a stream's topics", "topics", response="TopicList"),
    Route("POST", _STREAM + "/topics", _create_topic, "Create a topic", "topics", body="CreateTopic",
          response="TopicDetails"),
    Route("GET", _TOPIC, _get_topic, "One topic with its partitions", "topics", response="TopicDetails"),
    Route("PUT", _TOPIC, _update_topic, "Change a topic", "topics", body="UpdateTopic", status=204),
    Route("DELETE", _TOPIC, _delete_topic, "Delete a topic", "topics", status=204),
    Route("DELETE", _TOPIC + "/purge", _purge_topic, "Delete a topic's messages", "topics", status=204),
    Route("GET", _TOPIC + "/ack", _get_topic_ack, "A topic's producer ack level (whippet extension)", "topics",
          response="TopicAck"),
    Route("PUT", _TOPIC + "/ack", _set_topic_ack, "Set a topic's producer ack level (whippet extension)", "topics",
          body="SetTopicAck", status=204),
    Route("POST", _TOPIC + "/partitions", _create_partitions, "Add partitions", "partitions",
          body="CreatePartitions", status=201),
    Route("DELETE", _TOPIC + "/partitions", _delete_partitions, "Remove the highest partitions", "partitions",
          query=(Param("partitions_count", "integer", required=True, maximum=_MAX_PARTITIONS),), status=204),
    Route("DELETE", _TOPIC + "/partitions/{partition_id}", _delete_segments, "Delete a partition's oldest segments",
          "segments", query=(Param("segments_count", "integer", required=True),), status=204),
    Route("GET", _TOPIC + "/consumer-groups", _get_groups, "List consumer groups", "consumer-groups",
          response="ConsumerGroupList"),
    Route("POST", _TOPIC + "/consumer-groups", _create_group, "Create a consumer group", "consumer-groups",
          body="CreateConsumerGroup", status=201, response="ConsumerGroupDetails"),
    Route("GET", _TOPIC + "/consumer-groups/{group_id}", _get_group, "One consumer group with its members",
          "consumer-groups", response="ConsumerGroupDetails"),
    Route("DELETE", _TOPIC + "/consumer-groups/{group_id}", _delete_group, "Delete a consumer group",
          "consumer-groups", status=204),
]
