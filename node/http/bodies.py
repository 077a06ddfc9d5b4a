"""Reading request input: path ids, query parameters and JSON bodies, strictly typed.

Every value a route takes goes through one of these readers, so a malformed
request becomes an :class:`IggyError` (400) before anything runs, and never a
``KeyError``/``TypeError`` (500). The accepted spellings are what 0.8's serde
types accept: a path id that parses as a u32 is numeric, anything else a name;
``kind`` of a poll is ``offset``/``o`` ...; sizes are numbers or byte-unit text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal
from typing import Any

from aiohttp import web

from whippet.wire.errors import IggyError, InvalidFormat
from whippet.wire.permissions import (
    GlobalPermissions,
    Permissions,
    StreamPermissions,
    TopicPermissions,
    flag_names,
)
from whippet.wire.primitives import Identifier

__all__ = [
    "U32_MAX",
    "U64_MAX",
    "fail",
    "get_b64",
    "get_bool",
    "get_opt_u8",
    "get_opt_u32",
    "get_str",
    "get_u32",
    "get_u64",
    "identifier",
    "json_object",
    "parse_permissions",
    "parse_size",
    "path_id",
    "path_u32",
    "query_bool",
    "query_opt_u32",
    "query_str",
    "query_u32",
    "query_u64",
]

U32_MAX = 0xFFFF_FFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgtpe]i?b|b)?\s*", re.IGNORECASE)
_SIZE_FACTORS = {"b": 1} | {
    f"{p}{'ib' if binary else 'b'}": (1024 if binary else 1000) ** (i + 1)
    for i, p in enumerate("kmgtpe")
    for binary in (False, True)
}


def fail(reason: str, code: int = InvalidFormat.code) -> IggyError:
    """The error for bad input (InvalidFormat unless a more precise code is given)."""
    return IggyError.from_code(code, reason)


def identifier(text: str, what: str) -> Identifier:
    """A path or query id the way 0.8's ``Identifier::from_str_value`` reads it."""
    try:
        return Identifier.parse(text)
    except IggyError as exc:
        raise fail(f"{what}: {exc.reason}", 6) from None  # InvalidIdentifier


def path_id(request: web.Request, name: str) -> Identifier:
    return identifier(request.match_info[name], name)


def _u(text: str, what: str, limit: int) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > limit:
        raise fail(f"{what} must be an unsigned integer below {limit + 1}, got {text!r}")
    return int(text)


def path_u32(request: web.Request, name: str) -> int:
    return _u(request.match_info[name], name, U32_MAX)


# --- query ---
def query_str(request: web.Request, name: str, default: str) -> str:
    return request.query.get(name, default)


def query_u32(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    return default if text is None else _u(text, name, U32_MAX)


def query_opt_u32(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    return None if text is None or text == "" else _u(text, name, U32_MAX)


def query_u64(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    return default if text is None else _u(text, name, U64_MAX)


def query_bool(request: web.Request, name: str, default: bool) -> bool:
    text = request.query.get(name)
    if text is None:
        return default
    if text not in ("true", "false"):
        raise fail(f"{name} must be true or false, got {text!r}")
    return text == "true"


# --- JSON bodies ---
async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (any other JSON value, or no JSON, is 400)."""
    raw = await request.read()
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise fail("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise fail("the body must be a JSON object")
    return value


def _present(obj: dict[str, Any], name: str) -> Any:
    if name not in obj:
        raise fail(f"missing field `{name}`")
    return obj[name]


def get_str(obj: dict[str, Any], name: str) -> str:
    value = _present(obj, name)
    if not isinstance(value, str):
        raise fail(f"`{name}` must be a string")
    return value


def _int(value: Any, name: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise fail(f"`{name}` must be an integer in 0..{limit}")
    return value


def get_u32(obj: dict[str, Any], name: str) -> int:
    return _int(_present(obj, name), name, U32_MAX)


def get_u64(obj: dict[str, Any], name: str) -> int:
    return _int(_present(obj, name), name, U64_MAX)


def get_opt_u8(obj: dict[str, Any], name: str) -> int | None:
    value = obj.get(name)
    return None if value is None else _int(value, name, 0xFF)


def get_opt_u32(obj: dict[str, Any], name: str) -> int | None:
    value = obj.get(name)
    return None if value is None else _int(value, name, U32_MAX)


def get_bool(obj: dict[str, Any], name: str, default: bool = False) -> bool:
    value = obj.get(name, default)
    if not isinstance(value, bool):
        raise fail(f"`{name}` must be true or false")
    return value


def get_b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise fail(f"`{name}` must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise fail(f"`{name}` is not valid base64") from None


def parse_size(value: Any, name: str) -> int:
    """A byte count: a number, or text such as ``"1 GiB"``; ``unlimited`` is u64::MAX and
    ``server_default``/``0`` is 0 (0.8's ``MaxTopicSize``)."""
    if not isinstance(value, str):
        return _int(value, name, U64_MAX)
    if value in ("unlimited", "Unlimited"):
        return U64_MAX
    if value in ("server_default", "none", "None"):
        return 0
    match = _SIZE.fullmatch(value)
    if match is None:
        raise fail(f"`{name}` is not a byte size: {value!r}", 80)  # InvalidSizeBytes
    number, unit = match.groups()
    size = int(Decimal(number) * _SIZE_FACTORS[(unit or "b").lower()])
    if size > U64_MAX:
        raise fail(f"`{name}` is too large", 80)
    return size


def _flags(
    obj: Any, cls: type[GlobalPermissions] | type[StreamPermissions] | type[TopicPermissions], where: str
) -> dict[str, bool]:
    if not isinstance(obj, dict):
        raise fail(f"`{where}` must be an object")
    out = {}
    for name in flag_names(cls):
        value = obj.get(name, False)
        if not isinstance(value, bool):
            raise fail(f"`{where}.{name}` must be true or false")
        out[name] = value
    return out


def _id_map(obj: Any, where: str) -> dict[int, Any] | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise fail(f"`{where}` must be an object keyed by id")
    return {_u(str(key), f"{where} key", U32_MAX): value for key, value in obj.items()}


def parse_permissions(value: Any) -> Permissions | None:
    """0.8's ``Permissions`` JSON (``{global:{...}, streams:{"<id>":{..., topics:{...}}}}``) or null."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail("`permissions` must be an object or null")
    global_ = GlobalPermissions(**_flags(_present(value, "global"), GlobalPermissions, "global"))
    raw_streams = _id_map(value.get("streams"), "streams")
    streams = None
    if raw_streams is not None:
        streams = {}
        for sid, s in raw_streams.items():
            flags = _flags(s, StreamPermissions, f"streams.{sid}")
            raw_topics = _id_map(s.get("topics"), f"streams.{sid}.topics")
            topics = None
            if raw_topics is not None:
                topics = {
                    tid: TopicPermissions(**_flags(t, TopicPermissions, f"streams.{sid}.topics.{tid}"))
                    for tid, t in raw_topics.items()
                }
            streams[sid] = StreamPermissions(**flags, topics=topics)
    return Permissions(global_=global_, streams=streams)
