"""Who is looking at the console, and running commands as them.

A login runs the binary LoginUser command (the TCP password check) and stores
an access token of the node's :class:`~whippet.node.http.auth.TokenAuthority`
(the HTTP API's, same secret, same expiry) in an ``HttpOnly``, ``SameSite=Strict``
cookie scoped to ``/console``. Every page then runs the wire commands it shows
through ``node.dispatch`` as that user, so the console can show and do exactly
what the user's permissions allow over TCP, with the same errors.

Writes (``read-write`` mode only) are POSTed forms carrying a token derived from
the session's access token (HMAC), so another site cannot make a logged-in
browser submit them even where ``SameSite`` is not enforced.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from whippet.node.dispatch import dispatch
from whippet.node.http.routing import http_session
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.errors import IggyError, InvalidAccessToken
from whippet.wire.primitives import Identifier

if TYPE_CHECKING:
    from whippet.node.http.auth import Claims, TokenAuthority
    from whippet.node.server import Node

__all__ = ["COOKIE", "Viewer", "login", "viewer"]

COOKIE = "whippet_console"


@dataclass(slots=True)
class Viewer:
    """A logged-in console user and the means to act as them."""

    node: Node
    request: web.Request
    claims: Claims
    username: str
    token: str

    async def run(self, command: Any) -> bytes:
        return await self.run_payload(command.CODE, command.encode())

    async def run_payload(self, code: int, payload: bytes) -> bytes:
        """One wire command as this user (permissions and errors as over TCP)."""
        session = http_session(self.request, self.claims.user_id)
        reply = await dispatch(self.node, session, code, memoryview(payload))
        if isinstance(reply, (bytes, bytearray, memoryview)):
            return bytes(reply)
        return b"".join(bytes(part) for part in reply)

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def csrf_token(access_token: str) -> str:
    return hmac.new(access_token.encode(), b"whippet-console-form", hashlib.sha256).hexdigest()


async def viewer(node: Node, tokens: TokenAuthority, request: web.Request) -> Viewer | None:
    """The logged-in user of a request, or None (no cookie, expired, revoked, user gone)."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    try:
        claims = tokens.verify(token)
    except InvalidAccessToken:
        return None
    v = Viewer(node, request, claims, "", token)
    try:
        details = await v.run(rq.GetUser(user_id=Identifier(claims.user_id)))
    except IggyError:
        details = b""
    if details:
        v.username = rs.UserDetails.decode(details).user.username
    else:  # no right to read users: the console still works, named by id
        v.username = f"user {claims.user_id}"
    return v


async def login(node: Node, tokens: TokenAuthority, request: web.Request, username: str, password: str) -> str:
    """Check the credentials as TCP does; the access token to put in the cookie. Raises IggyError."""
    session = http_session(request, None)
    command = rq.LoginUser(username=username, password=password, version="whippet-console", context="")
    reply = await dispatch(node, session, command.CODE, memoryview(command.encode()))
    identity = rs.IdentityInfo.decode(bytes(reply) if isinstance(reply, (bytes, bytearray)) else b"".join(reply))
    return tokens.issue(identity.user_id).token
