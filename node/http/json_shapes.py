"""Wire responses rendered as the JSON the 0.8 SDK's serde types read.

Each function takes a decoded wire response (``whippet.wire.responses``) and
returns the JSON value 0.8's HTTP handlers serialize for it; field names and
value spellings come from ``iggy_common``'s ``Serialize`` impls:

- timestamps and durations are µs numbers; ``message_expiry`` and
  ``max_topic_size`` keep the 0 / u64::MAX conventions;
- byte sizes (``size``, stats memory and disk figures) are strings in the
  byte-unit crate's ``{:#}`` form (``"0 B"``, ``"1.234 KB"``, ``"10 KiB"``), the
  text a 0.8 server sends; the SDK reads a number or any such string;
- enums are lower-case words (``"active"``, ``"gzip"``, ``"leader"``, ``"ws"``).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from whippet.wire import responses as rs
from whippet.wire.batch import PolledMessage
from whippet.wire.errors import IggyError
from whippet.wire.headers import HeaderKind, decode_user_headers

__all__ = [
    "COMPRESSION",
    "HEADER_KINDS",
    "USER_STATUS",
    "byte_size",
    "client",
    "client_details",
    "cluster_metadata",
    "consumer_group",
    "consumer_group_details",
    "consumer_offset",
    "identity",
    "partition",
    "personal_access_token",
    "polled_messages",
    "stats",
    "stream",
    "stream_details",
    "topic",
    "topic_details",
    "user",
    "user_details",
]

COMPRESSION = {1: "none", 2: "gzip"}
USER_STATUS = {1: "active", 2: "inactive"}
_TRANSPORT = {1: "tcp", 2: "quic", 3: "http", 4: "ws"}
_ROLE = {0: "leader", 1: "follower"}
_STATUS = {0: "healthy", 1: "starting", 2: "stopping", 3: "unreachable", 4: "maintenance", 5: "unknown"}
#: header kind code -> the snake_case name of 0.8's ``HeaderKind``
HEADER_KINDS = {kind.value: name for name, kind in (
    ("raw", HeaderKind.RAW), ("string", HeaderKind.STRING), ("bool", HeaderKind.BOOL),
    ("int8", HeaderKind.INT8), ("int16", HeaderKind.INT16), ("int32", HeaderKind.INT32),
    ("int64", HeaderKind.INT64), ("int128", HeaderKind.INT128), ("uint8", HeaderKind.UINT8),
    ("uint16", HeaderKind.UINT16), ("uint32", HeaderKind.UINT32), ("uint64", HeaderKind.UINT64),
    ("uint128", HeaderKind.UINT128), ("float32", HeaderKind.FLOAT32), ("float64", HeaderKind.FLOAT64),
)}

# byte-unit's byte units by size, largest first (decimal and binary interleave).
_UNITS = sorted(
    [("B", 1)]
    + [(p + "B", 1000 ** (i + 1)) for i, p in enumerate("KMGTPE")]
    + [(p + "iB", 1024 ** (i + 1)) for i, p in enumerate("KMGTPE")],
    key=lambda u: u[1],
    reverse=True,
)


def byte_size(n: int) -> str:
    """``n`` bytes as byte-unit's ``format!("{:#}")``: the largest unit that shows it exactly
    with at most three decimals (``get_recoverable_unit(false, 3)``)."""
    for name, size in _UNITS:
        if n >= size and (n * 1000) % size == 0:
            value = (Decimal(n) / Decimal(size)).normalize()
            return f"{value:f} {name}"
    return f"{n} B"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def stream(s: rs.StreamInfo) -> dict[str, Any]:
    return {
        "id": s.id,
        "created_at": s.created_at,
        "name": s.name,
        "size": byte_size(s.size_bytes),
        "messages_count": s.messages_count,
        "topics_count": s.topics_count,
    }


def stream_details(d: rs.StreamDetails) -> dict[str, Any]:
    return {**stream(d.stream), "topics": [topic(t) for t in d.topics]}


def topic(t: rs.TopicInfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "created_at": t.created_at,
        "name": t.name,
        "size": byte_size(t.size_bytes),
        "message_expiry": t.message_expiry,
        "compression_algorithm": COMPRESSION.get(t.compression, "none"),
        "max_topic_size": t.max_topic_size,
        "replication_factor": t.replication_factor,
        "messages_count": t.messages_count,
        "partitions_count": t.partitions_count,
    }


def topic_ack(a: rs.TopicAck) -> dict[str, Any]:
    """whippet's own: the topic's ack setting ("default" = the node's) and the level in force."""
    return {"ack": a.ack or "default", "effective": a.effective}


def partition(p: rs.PartitionInfo) -> dict[str, Any]:
    return {
        "id": p.id,
        "created_at": p.created_at,
        "segments_count": p.segments_count,
        "current_offset": p.current_offset,
        "size": byte_size(p.size_bytes),
        "messages_count": p.messages_count,
    }


def topic_details(d: rs.TopicDetails) -> dict[str, Any]:
    return {**topic(d.topic), "partitions": [partition(p) for p in d.partitions]}


def consumer_group(g: rs.ConsumerGroupInfo) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "partitions_count": g.partitions_count,
        "members_count": g.members_count,
    }


def consumer_group_details(d: rs.ConsumerGroupDetails) -> dict[str, Any]:
    members = [
        {"id": m.id, "partitions_count": len(m.partitions), "partitions": list(m.partitions)}
        for m in d.members
    ]
    return {**consumer_group(d.group), "members": members}


def user(u: rs.UserInfo) -> dict[str, Any]:
    return {
        "id": u.id,
        "created_at": u.created_at,
        "status": USER_STATUS.get(u.status, "inactive"),
        "username": u.username,
    }


def user_details(d: rs.UserDetails) -> dict[str, Any]:
    perms = None if d.permissions is None else d.permissions.to_json()
    return {**user(d.user), "permissions": perms}


def client(c: rs.ClientInfo) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "user_id": None if c.user_id == rs.NO_USER_ID else c.user_id,
        "address": c.address,
        "transport": _TRANSPORT.get(c.transport, "tcp"),
        "consumer_groups_count": c.consumer_groups_count,
    }


def client_details(d: rs.ClientDetails) -> dict[str, Any]:
    groups = [{"stream_id": s, "topic_id": t, "group_id": g} for s, t, g in d.consumer_groups]
    return {**client(d.client), "consumer_groups": groups}


def personal_access_token(p: rs.PersonalAccessTokenInfo) -> dict[str, Any]:
    return {"name": p.name, "expiry_at": p.expiry_at or None}


def identity(user_id: int, token: str, expiry: int) -> dict[str, Any]:
    return {"user_id": user_id, "access_token": {"token": token, "expiry": expiry}}


def stats(s: rs.Stats) -> dict[str, Any]:
    sizes = (
        "memory_usage", "total_memory", "available_memory", "read_bytes", "written_bytes",
        "messages_size_bytes", "free_disk_space", "total_disk_space",
    )
    plain = (
        "process_id", "cpu_usage", "total_cpu_usage", "run_time", "start_time", "streams_count",
        "topics_count", "partitions_count", "segments_count", "messages_count", "clients_count",
        "consumer_groups_count", "hostname", "os_name", "os_version", "kernel_version",
        "iggy_server_version", "threads_count",
    )
    out: dict[str, Any] = {name: getattr(s, name) for name in plain}
    out.update({name: byte_size(getattr(s, name)) for name in sizes})
    out["iggy_server_semver"] = s.iggy_server_semver or None
    out["cache_metrics"] = {
        f"{m.stream_id}-{m.topic_id}-{m.partition_id}": {"hits": m.hits, "misses": m.misses, "hit_ratio": m.hit_ratio}
        for m in s.cache_metrics
    }
    return out


def cluster_metadata(m: rs.ClusterMetadata) -> dict[str, Any]:
    nodes = [
        {
            "name": n.name,
            "ip": n.ip,
            "endpoints": {"tcp": n.tcp_port, "quic": n.quic_port, "http": n.http_port, "websocket": n.websocket_port},
            "role": _ROLE.get(n.role, "follower"),
            "status": _STATUS.get(n.status, "unknown"),
        }
        for n in m.nodes
    ]
    return {"name": m.name, "nodes": nodes}


def consumer_offset(o: rs.ConsumerOffsetInfo) -> dict[str, Any]:
    return {"partition_id": o.partition_id, "current_offset": o.current_offset, "stored_offset": o.stored_offset}


def _user_headers(raw: bytes) -> list[dict[str, Any]] | str:
    """Typed entries when the bytes decode as headers, else the raw bytes in base64 (as 0.8)."""
    if not raw:
        return []
    try:
        pairs = decode_user_headers(raw)
    except IggyError:
        return _b64(raw)
    if any(k not in HEADER_KINDS or v not in HEADER_KINDS for k, _, v, _ in pairs):
        return _b64(raw)
    return [
        {"key": {"kind": HEADER_KINDS[kk], "value": _b64(key)}, "value": {"kind": HEADER_KINDS[vk], "value": _b64(val)}}
        for kk, key, vk, val in pairs
    ]


def polled_messages(head: rs.PolledHead, messages: list[PolledMessage]) -> dict[str, Any]:
    """JSON has no bytes type, so each message becomes an object here; this is the one
    place the HTTP API walks messages one by one (the binary transports never do)."""
    rendered = [
        {
            "header": {
                "checksum": m.checksum,
                "id": m.id,
                "offset": m.offset,
                "timestamp": m.timestamp,
                "origin_timestamp": m.origin_timestamp,
                "user_headers_length": len(m.user_headers),
                "payload_length": len(m.payload),
                "reserved": 0,
            },
            "payload": _b64(m.payload),
            "user_headers": _user_headers(m.user_headers),
        }
        for m in messages
    ]
    return {
        "partition_id": head.partition_id,
        "current_offset": head.current_offset,
        "count": head.count,
        "messages": rendered,
    }
