"""Parsers for the CLI's argument values: expiries, sizes, permissions, headers.

Each raises :class:`ValueError` with a sentence the user can act on; argparse
turns that into a usage error (exit code 2). The accepted spellings follow the
Iggy CLI: ``server_default``, ``never_expire``/``unlimited``, humantime-like
durations (``1h 30min``, ``15s``) and sizes (``10GB``, ``512MiB``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from whippet.wire._codec import U64_MAX
from whippet.wire.headers import HeaderKind, encode_user_headers
from whippet.wire.permissions import GlobalPermissions, Permissions, StreamPermissions, flag_names
from whippet.wire.units import expiry_us, size_bytes

__all__ = ["U64_MAX", "expiry_us", "global_permissions", "header", "permissions", "size_bytes", "stream_permissions"]

_GLOBAL_ALIASES = {
    "m_srv": "manage_servers", "r_srv": "read_servers", "m_usr": "manage_users", "r_usr": "read_users",
    "m_str": "manage_streams", "r_str": "read_streams", "m_top": "manage_topics", "r_top": "read_topics",
    "p_msg": "poll_messages", "s_msg": "send_messages",
}
_STREAM_ALIASES = {
    "m_str": "manage_stream", "r_str": "read_stream", "m_top": "manage_topics", "r_top": "read_topics",
    "p_msg": "poll_messages", "s_msg": "send_messages",
}


def _flags(text: str, aliases: dict[str, str], allowed: set[str], what: str) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for word in filter(None, (w.strip().lower() for w in text.split(","))):
        name = aliases.get(word, word)
        if name not in allowed:
            raise ValueError(f"unknown {what} permission {word!r}; known: {', '.join(sorted(allowed))}")
        out[name] = True
    return out


def global_permissions(text: str) -> GlobalPermissions:
    """``manage_streams,read_streams`` or the Iggy short forms ``m_str,r_str``."""
    allowed = set(flag_names(GlobalPermissions))
    return GlobalPermissions(**_flags(text, _GLOBAL_ALIASES, allowed, "global"))


def stream_permissions(text: str) -> tuple[int, StreamPermissions]:
    """``STREAM_ID`` or ``STREAM_ID#flag,flag`` (per-stream flags)."""
    sid, _, flags = text.partition("#")
    if not sid.strip().isdigit():
        raise ValueError(f"stream permissions must start with a numeric stream id: {text!r}")
    allowed = set(flag_names(StreamPermissions))
    return int(sid), StreamPermissions(**_flags(flags, _STREAM_ALIASES, allowed, "stream"), topics=None)


def permissions(global_: GlobalPermissions | None, streams: Sequence[tuple[int, StreamPermissions]] | None) -> Permissions | None:
    if global_ is None and not streams:
        return None
    return Permissions(global_=global_ or GlobalPermissions(), streams=dict(streams) if streams else None)


_HEADER_KINDS = {
    "raw": (HeaderKind.RAW, lambda v: v.encode()),
    "string": (HeaderKind.STRING, lambda v: v.encode()),
    "bool": (HeaderKind.BOOL, lambda v: bytes([v.lower() in ("1", "true", "yes")])),
    "int32": (HeaderKind.INT32, lambda v: struct.pack("<i", int(v))),
    "int64": (HeaderKind.INT64, lambda v: struct.pack("<q", int(v))),
    "uint32": (HeaderKind.UINT32, lambda v: struct.pack("<I", int(v))),
    "uint64": (HeaderKind.UINT64, lambda v: struct.pack("<Q", int(v))),
    "float64": (HeaderKind.FLOAT64, lambda v: struct.pack("<d", float(v))),
}


def header(text: str) -> tuple[int, bytes, int, bytes]:
    """``key:kind:value`` (kind one of raw, string, bool, int32, int64, uint32, uint64, float64)."""
    key, sep1, rest = text.partition(":")
    kind, sep2, value = rest.partition(":")
    if not (sep1 and sep2 and key) or kind.lower() not in _HEADER_KINDS:
        raise ValueError(f"header must be key:kind:value with kind in {', '.join(_HEADER_KINDS)}: {text!r}")
    code, convert = _HEADER_KINDS[kind.lower()]
    try:
        data = convert(value)
    except (ValueError, struct.error) as exc:
        raise ValueError(f"header {key!r}: {value!r} is not a {kind}") from exc
    encode_user_headers([(HeaderKind.STRING, key.encode(), code, data)])  # validates lengths
    return (HeaderKind.STRING, key.encode(), code, data)
