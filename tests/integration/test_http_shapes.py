"""The HTTP layer's pure parts, without a node: byte-size text, the status mapping,
token issue/verify/revoke, permission JSON, input readers."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whippet.node.http.auth import TokenAuthority, uuid7
from whippet.node.http.bodies import parse_permissions, parse_size
from whippet.node.http.errors import error_body, status_of
from whippet.node.http.json_shapes import byte_size
from whippet.wire.errors import IggyError, InvalidAccessToken, StreamIdNotFound
from whippet.wire.permissions import (
    GlobalPermissions,
    Permissions,
    StreamPermissions,
    TopicPermissions,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"), (1, "1 B"), (999, "999 B"), (1000, "1 KB"), (1234, "1.234 KB"), (10000, "10 KB"),
        (10240, "10 KiB"), (3211776, "3136.5 KiB"), (1 << 30, "1 GiB"), (15_000_000, "15 MB"),
    ],
)
def test_byte_size_matches_byte_unit_alternate_display(n: int, text: str) -> None:
    # byte-unit 5's documented examples of `format!("{:#}", byte)` (10240, 10000, 3211776)
    # and simple cases; the round trip below covers every other value.
    assert byte_size(n) == text


@given(st.integers(min_value=0, max_value=2**64 - 1))
@settings(max_examples=200, deadline=None)
def test_byte_size_text_parses_back(n: int) -> None:
    assert parse_size(byte_size(n), "size") == n


def test_status_mapping_and_error_body() -> None:
    for code in (1009, 2010, 3007, 4000, 100, 5000, 5003, 5006, 3021, 20):
        assert status_of(code) == 404
    for code in (40, 77, 78, 53):
        assert status_of(code) == 401
    assert status_of(41) == 403
    for code in (1, 3, 4, 42, 46, 1012, 4009, 4100):
        assert status_of(code) == 400
    assert error_body(StreamIdNotFound("stream 7 not found")) == {
        "id": 1009, "code": "stream_id_not_found", "reason": "stream 7 not found", "field": "stream_id"}
    assert error_body(IggyError.from_code(4009))["field"] is None


def test_uuid7_layout() -> None:
    ids = [uuid.UUID(uuid7()) for _ in range(50)]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert len(set(ids)) == 50
    ms = ids[0].int >> 80
    assert abs(ms - time.time() * 1000) < 5000


def test_token_authority_lifecycle() -> None:
    auth = TokenAuthority("", 60)  # random secret
    token = auth.issue(7)
    claims = auth.verify(token.token)
    assert (claims.user_id, claims.exp) == (7, token.expiry)
    raw = jwt.decode(token.token, options={"verify_signature": False})
    assert raw["iss"] == raw["aud"] == "iggy.apache.org" and raw["sub"] == "7"
    refreshed = auth.refresh(token.token)
    assert auth.verify(refreshed.token).user_id == 7
    with pytest.raises(InvalidAccessToken):
        auth.verify(token.token)  # revoked by the refresh
    with pytest.raises(InvalidAccessToken):
        auth.refresh(token.token)
    with pytest.raises(InvalidAccessToken):
        TokenAuthority("", 60).verify(refreshed.token)  # another node's secret
    auth.revoke(auth.verify(refreshed.token))
    with pytest.raises(InvalidAccessToken):
        auth.verify(refreshed.token)


def test_revoked_ids_are_forgotten_once_expired() -> None:
    auth = TokenAuthority("s" * 64, 60)
    old = auth.decode(auth.issue(1).token)
    auth.revoke(type(old)(jti="expired-long-ago", user_id=1, exp=int(time.time()) - 3600))
    auth.revoke(old)
    assert auth.revoked_count() == 1 and auth.is_revoked(old.jti)


_flags = st.booleans()
_topic = st.builds(TopicPermissions, _flags, _flags, _flags, _flags)
_stream = st.builds(StreamPermissions, _flags, _flags, _flags, _flags, _flags, _flags,
                    st.none() | st.dictionaries(st.integers(0, 2**32 - 1), _topic, min_size=1, max_size=3))
_perms = st.builds(Permissions, st.builds(GlobalPermissions, *[_flags] * 10),
                   st.none() | st.dictionaries(st.integers(0, 2**32 - 1), _stream, min_size=1, max_size=3))


@given(_perms)
@settings(max_examples=100, deadline=None)
def test_permissions_json_round_trip(perms: Permissions) -> None:
    assert parse_permissions(perms.to_json()) == perms


@pytest.mark.parametrize(
    "bad",
    [
        "yes",
        {"streams": None},  # no global block
        {"global": {"read_streams": "true"}},
        {"global": {}, "streams": {"x": {}}},
        {"global": {}, "streams": {"1": []}},
        {"global": {}, "streams": {"99999999999": {}}},
        {"global": {}, "streams": {"1": {"topics": {"-1": {}}}}},
    ],
)
def test_bad_permissions_are_rejected_with_invalid_format(bad: object) -> None:
    with pytest.raises(IggyError) as info:
        parse_permissions(bad)
    assert info.value.status == 4


def test_parse_size() -> None:
    assert parse_size(0, "s") == 0 and parse_size("unlimited", "s") == 2**64 - 1
    assert parse_size("server_default", "s") == 0 and parse_size("1 GiB", "s") == 1 << 30
    assert parse_size("1.5KB", "s") == 1500 and parse_size("123", "s") == 123
    for bad in ("lots", "-1", "1 XB", True, -5, 2**64):
        with pytest.raises(IggyError):
            parse_size(bad, "s")
