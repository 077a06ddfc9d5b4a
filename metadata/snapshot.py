"""On-disk and on-wire snapshot formats of the metadata (the one owner of both).

State snapshot (:func:`encode_state` / :func:`decode_state`)::

    magic b"WHMS" | version u8 | 3 reserved zero bytes | body_len u32 LE | crc32 u32 LE | body

The body is canonical JSON (sorted keys, everything listed by id) of the whole
:class:`MetadataState`, including the id slabs' free stacks, which cannot be
rebuilt from the live ids. Name indexes are derived and rebuilt on decode. Two
machines in the same state produce identical bytes. Keys added after version 1
(a topic's ``ack`` and ``options``, a group's ``generation``, the 0.9 client
table ``client_requests``) are always written and default when absent, so older
snapshots still load. The client table is a list in the state's dict order,
which decides what it forgets first.

Raft dump (:func:`pack_raft_dump` / :func:`unpack_raft_dump`), the file pysyncobj
keeps and ships to lagging followers, wraps a state snapshot with the Raft
bookkeeping that must travel with it (the last two applied entries, members)::

    magic b"WHRD" | version u8 | 3 reserved | meta_len u32 | snap_len u32 | crc32 u32 | meta JSON | snapshot

with meta ``{"entries": [[base64 command, index, term] x2], "cluster": [address...]}``.

Any damage (bad magic, version, length, checksum or structure) raises
:class:`~whippet.wire.errors.StateFileCorrupted` with what was wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib
from typing import Any

from whippet.metadata.model import (
    AppliedRequest,
    ClusterNode,
    ConsumerGroup,
    IdSlab,
    Member,
    MetadataState,
    Partition,
    PersonalAccessToken,
    Stream,
    Topic,
    User,
)
from whippet.wire.ack import ACK_LEVELS
from whippet.wire.errors import StateFileCorrupted
from whippet.wire.permissions import Permissions

__all__ = [
    "RaftEntry",
    "StateFileCorrupted",
    "decode_state",
    "encode_state",
    "pack_raft_dump",
    "unpack_raft_dump",
]

_STATE_MAGIC = b"WHMS"
_DUMP_MAGIC = b"WHRD"
_VERSION = 1
_STATE_HEAD = struct.Struct("<4sB3sII")
_DUMP_HEAD = struct.Struct("<4sB3sIII")
_RESERVED = b"\0\0\0"


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- state -> JSON ----------------------------------------------------------------------
def _slab(s: IdSlab) -> dict[str, Any]:
    return {"high": s.high, "free": list(s.free)}


def _topic(t: Topic) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "created_at": t.created_at,
        "compression": t.compression,
        "message_expiry": t.message_expiry,
        "max_topic_size": t.max_topic_size,
        "replication_factor": t.replication_factor,
        "ack": t.ack,
        "options": [[k, kind, base64.b64encode(v).decode()] for k, kind, v in t.options],
        "partitions": [
            [p.id, p.created_at, list(p.replicas), p.leader, p.epoch,
             [[k, c, o] for (k, c), o in sorted(p.offsets.items())], list(p.offsets_fence)]
            for p in t.partitions
        ],
        "group_ids": _slab(t.group_ids),
        "groups": [
            {
                "id": g.id,
                "name": g.name,
                "generation": g.generation,
                "members": [
                    [m.id, m.node_id, m.client_id, list(m.partitions)]
                    for _, m in sorted(g.members.items())
                ],
            }
            for _, g in sorted(t.consumer_groups.items())
        ],
    }


def _to_json(st: MetadataState) -> dict[str, Any]:
    return {
        "streams": [
            {
                "id": s.id,
                "name": s.name,
                "created_at": s.created_at,
                "topic_ids": _slab(s.topic_ids),
                "topics": [_topic(t) for _, t in sorted(s.topics.items())],
            }
            for _, s in sorted(st.streams.items())
        ],
        "stream_ids": _slab(st.stream_ids),
        "users": [
            {
                "id": u.id,
                "username": u.username,
                "password_hash": u.password_hash,
                "status": u.status,
                "permissions": None if u.permissions is None else u.permissions.to_json(),
                "created_at": u.created_at,
            }
            for _, u in sorted(st.users.items())
        ],
        "user_ids": _slab(st.user_ids),
        "pats": [
            [p.user_id, p.name, p.token_hash, p.expiry_at]
            for uid in sorted(st.pats)
            for _, p in sorted(st.pats[uid].items())
        ],
        "nodes": [
            [n.id, n.name, n.host, n.tcp_port, n.quic_port, n.http_port, n.ws_port, n.raft_address]
            for _, n in sorted(st.nodes.items())
        ],
        "client_requests": [[c, a.request, a.checksum, a.result] for c, a in st.client_requests.items()],
    }


# --- JSON -> state ------------------------------------------------------------------------
def _slab_from(d: dict[str, Any]) -> IdSlab:
    return IdSlab(int(d["high"]), [int(k) for k in d["free"]])


def _ack_from(value: Any) -> str:
    if value != "" and value not in ACK_LEVELS:
        raise ValueError(f"unknown topic ack level {value!r}")
    return str(value)


def _topic_from(stream_id: int, d: dict[str, Any]) -> Topic:
    t = Topic(
        id=d["id"],
        stream_id=stream_id,
        name=d["name"],
        created_at=d["created_at"],
        partitions=[
            Partition(p[0], p[1], list(p[2]), p[3], p[4], {(o[0], o[1]): o[2] for o in p[5]},
                      (int(p[6][0]), int(p[6][1])) if len(p) > 6 else (0, 0))  # absent before fences
            for p in d["partitions"]
        ],
        compression=d["compression"],
        message_expiry=d["message_expiry"],
        max_topic_size=d["max_topic_size"],
        replication_factor=d["replication_factor"],
        ack=_ack_from(d.get("ack", "")),  # absent in snapshots written before topics had one
        options=tuple((o[0], int(o[1]), base64.b64decode(o[2], validate=True)) for o in d.get("options", [])),
        group_ids=_slab_from(d["group_ids"]),
    )
    for g in d["groups"]:
        members = {m[0]: Member(m[0], m[1], m[2], list(m[3])) for m in g["members"]}
        t.consumer_groups[g["id"]] = ConsumerGroup(g["id"], g["name"], members, int(g.get("generation", 0)))
        t.group_by_name[g["name"]] = g["id"]
    if any(p.id != i for i, p in enumerate(t.partitions)):
        raise ValueError(f"topic {t.id}: partition ids are not contiguous")
    return t


def _from_json(d: dict[str, Any]) -> MetadataState:
    st = MetadataState(stream_ids=_slab_from(d["stream_ids"]), user_ids=_slab_from(d["user_ids"]))
    for sd in d["streams"]:
        s = Stream(sd["id"], sd["name"], sd["created_at"], topic_ids=_slab_from(sd["topic_ids"]))
        for td in sd["topics"]:
            t = _topic_from(s.id, td)
            s.topics[t.id] = t
            s.topic_by_name[t.name] = t.id
        st.streams[s.id] = s
        st.stream_by_name[s.name] = s.id
    for ud in d["users"]:
        perms = None if ud["permissions"] is None else Permissions.from_json(ud["permissions"])
        u = User(
            ud["id"], ud["username"], ud["password_hash"], ud["status"], perms, ud["created_at"]
        )
        st.users[u.id] = u
        st.user_by_name[u.username] = u.id
    for p in d["pats"]:
        pat = PersonalAccessToken(p[0], p[1], p[2], p[3])
        st.pats.setdefault(pat.user_id, {})[pat.name] = pat
        st.pat_by_hash[pat.token_hash] = pat
    for n in d["nodes"]:
        st.nodes[n[0]] = ClusterNode(*n)
    for c, request, checksum, result in d.get("client_requests", []):
        st.client_requests[str(c)] = AppliedRequest(int(request), int(checksum), None if result is None else int(result))
    return st


# --- framing ----------------------------------------------------------------------------------
def encode_state(state: MetadataState) -> bytes:
    body = _canonical(_to_json(state))
    return _STATE_HEAD.pack(_STATE_MAGIC, _VERSION, _RESERVED, len(body), zlib.crc32(body)) + body


def decode_state(data: bytes | bytearray | memoryview) -> MetadataState:
    """Raises StateFileCorrupted if ``data`` is not an intact state snapshot."""
    raw = bytes(data)
    if len(raw) < _STATE_HEAD.size:
        raise StateFileCorrupted(f"metadata snapshot truncated: {len(raw)} bytes")
    magic, version, reserved, length, crc = _STATE_HEAD.unpack_from(raw)
    if magic != _STATE_MAGIC:
        raise StateFileCorrupted(f"not a metadata snapshot (magic {magic!r})")
    if version != _VERSION or reserved != _RESERVED:
        raise StateFileCorrupted(f"unsupported metadata snapshot version {version}")
    body = raw[_STATE_HEAD.size :]
    if len(body) != length:
        raise StateFileCorrupted(
            f"metadata snapshot body is {len(body)} bytes, header says {length}"
        )
    if zlib.crc32(body) != crc:
        raise StateFileCorrupted("metadata snapshot checksum mismatch")
    try:
        return _from_json(json.loads(body))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise StateFileCorrupted(f"metadata snapshot structure is invalid: {exc!r}") from None


RaftEntry = tuple[bytes, int, int]  # (command bytes, raft index, term)


def _pack_dump(meta: dict[str, Any], state_snapshot: bytes) -> bytes:
    meta_bytes = _canonical(meta)
    rest = meta_bytes + state_snapshot
    head = _DUMP_HEAD.pack(
        _DUMP_MAGIC, _VERSION, _RESERVED, len(meta_bytes), len(state_snapshot), zlib.crc32(rest)
    )
    return head + rest


def _unpack_dump(data: bytes) -> tuple[dict[str, Any], bytes]:
    if len(data) < _DUMP_HEAD.size:
        raise StateFileCorrupted(f"metadata dump truncated: {len(data)} bytes")
    magic, version, reserved, meta_len, snap_len, crc = _DUMP_HEAD.unpack_from(data)
    if magic != _DUMP_MAGIC:
        raise StateFileCorrupted(f"not a metadata dump (magic {magic!r})")
    if version != _VERSION or reserved != _RESERVED:
        raise StateFileCorrupted(f"unsupported metadata dump version {version}")
    rest = data[_DUMP_HEAD.size :]
    if len(rest) != meta_len + snap_len:
        raise StateFileCorrupted("metadata dump length mismatch")
    if zlib.crc32(rest) != crc:
        raise StateFileCorrupted("metadata dump checksum mismatch")
    try:
        meta = json.loads(rest[:meta_len])
    except ValueError as exc:
        raise StateFileCorrupted(f"metadata dump header is invalid: {exc}") from None
    if type(meta) is not dict:
        raise StateFileCorrupted("metadata dump header is not an object")
    return meta, rest[meta_len:]


def pack_raft_dump(
    last: RaftEntry, prev: RaftEntry, members: list[str], state_snapshot: bytes
) -> bytes:
    """The dump file: state at ``last`` (the last applied entry), ``prev`` before it."""
    entries = [[base64.b64encode(e[0]).decode("ascii"), e[1], e[2]] for e in (last, prev)]
    return _pack_dump({"entries": entries, "cluster": sorted(members)}, state_snapshot)


def unpack_raft_dump(data: bytes) -> tuple[RaftEntry, RaftEntry, list[str], bytes]:
    """Returns (last, prev, members, state snapshot); raises StateFileCorrupted.
    The state snapshot itself is checked by :func:`decode_state`."""
    meta, state_snapshot = _unpack_dump(data)
    try:
        last, prev = (
            (base64.b64decode(e[0], validate=True), int(e[1]), int(e[2])) for e in meta["entries"]
        )
        members = [str(a) for a in meta["cluster"]]
    except (KeyError, TypeError, ValueError, IndexError, binascii.Error) as exc:
        raise StateFileCorrupted(f"metadata dump header is invalid: {exc!r}") from None
    return last, prev, members, state_snapshot
