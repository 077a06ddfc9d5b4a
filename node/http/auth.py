"""JWT access tokens of the HTTP API, as Iggy 0.8 issues and checks them.

HS256; issuer and audience ``iggy.apache.org``; claims ``jti`` (a UUIDv7),
``sub`` (the user id as text), ``aud``, ``iss``, ``iat``, ``exp``, ``nbf``, all
times in seconds (``core/server/src/http/jwt/``). An empty configured secret
means a random one per start, so tokens die with the process, as in 0.8.

Logout and refresh revoke a token by its ``jti``. Revoked ids are kept in memory
with their expiry and forgotten once expired, because an expired token is
rejected by its own ``exp`` anyway. (0.8 also writes them to a file; a restart
here changes the random secret, which invalidates every token, so only a
configured secret makes a revoked token valid again after a restart.)
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from whippet.wire.errors import InvalidAccessToken

__all__ = ["AUDIENCE", "ISSUER", "Claims", "IssuedToken", "TokenAuthority", "uuid7"]

ISSUER = "iggy.apache.org"
AUDIENCE = "iggy.apache.org"
_ALGORITHM = "HS256"
_LEEWAY_S = 5  # 0.8's default clock skew


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says."""

    jti: str
    user_id: int
    exp: int


@dataclass(frozen=True, slots=True)
class IssuedToken:
    user_id: int
    token: str
    expiry: int  # the ``exp`` claim, Unix seconds


def uuid7() -> str:
    """A UUIDv7 (48-bit Unix milliseconds, then randomness); the stdlib has none before 3.14."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


class TokenAuthority:
    """Issues, verifies, refreshes and revokes access tokens for one node."""

    def __init__(self, secret: str, expiry_s: int) -> None:
        self._secret = secret or secrets.token_urlsafe(48)
        self._expiry_s = expiry_s
        self._revoked: dict[str, int] = {}  # jti -> exp

    def issue(self, user_id: int) -> IssuedToken:
        now = int(time.time())
        expiry = now + self._expiry_s
        claims: dict[str, str | int] = {
            "jti": uuid7(),
            "sub": str(user_id),
            "aud": AUDIENCE,
            "iss": ISSUER,
            "iat": now,
            "exp": expiry,
            "nbf": now,
        }
        token = jwt.encode(claims, self._secret, algorithm=_ALGORITHM)
        return IssuedToken(user_id=user_id, token=token, expiry=expiry)

    def decode(self, token: str) -> Claims:
        """Check signature, issuer, audience and times; raises InvalidAccessToken (78)."""
        try:
            raw = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=_LEEWAY_S,
                options={"require": ["jti", "sub", "exp", "iat"]},
            )
            user_id = int(raw["sub"])
            if not 0 <= user_id <= 0xFFFF_FFFF or not isinstance(raw["jti"], str):
                raise ValueError("bad claims")
            return Claims(jti=raw["jti"], user_id=user_id, exp=int(raw["exp"]))
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidAccessToken("invalid access token") from exc

    def verify(self, token: str) -> Claims:
        """:meth:`decode`, and the token must not be revoked."""
        claims = self.decode(token)
        if self.is_revoked(claims.jti):
            raise InvalidAccessToken("the access token was revoked")
        return claims

    def is_revoked(self, jti: str) -> bool:
        return jti in self._revoked

    def revoke(self, claims: Claims) -> None:
        self._forget_expired()
        self._revoked[claims.jti] = claims.exp

    def refresh(self, token: str) -> IssuedToken:
        """Revoke ``token`` and issue a new one for its user; a token refreshes only once."""
        claims = self.decode(token)
        if self.is_revoked(claims.jti):
            raise InvalidAccessToken("the access token was already revoked")
        self.revoke(claims)
        return self.issue(claims.user_id)

    def revoked_count(self) -> int:
        return len(self._revoked)

    def _forget_expired(self) -> None:
        now = int(time.time()) - _LEEWAY_S
        for jti in [jti for jti, exp in self._revoked.items() if exp <= now]:
            del self._revoked[jti]
