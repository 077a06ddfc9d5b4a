"""Users, logins and personal access tokens: /users..., /personal-access-tokens...

A login runs the binary LoginUser (or LoginWithPersonalAccessToken) command on
a fresh session, so the password and token checks are the TCP ones; on success
the session's user gets a JWT instead of a connection.
"""

from __future__ import annotations

from aiohttp import web

from whippet.node.http import json_shapes as js
from whippet.node.http.bodies import (
    fail,
    get_str,
    get_u64,
    json_object,
    parse_permissions,
    path_id,
)
from whippet.node.http.errors import NotFound
from whippet.node.http.routing import Call, Route, json, no_content
from whippet.wire import requests as rq
from whippet.wire import responses as rs

__all__ = ["ROUTES"]

_STATUS = {"active": 1, "inactive": 2}


def _status(value: object) -> int:
    if not isinstance(value, str) or value not in _STATUS:
        raise fail("`status` must be \"active\" or \"inactive\"", 45)  # InvalidUserStatus
    return _STATUS[value]


def _check_length(value: str, low: int, high: int, code: int, what: str) -> str:
    if not low <= len(value.encode()) <= high:
        raise fail(f"{what} must have {low}..{high} bytes", code)
    return value


async def _identity(call: Call, command: rq.LoginUser | rq.LoginWithPersonalAccessToken) -> web.Response:
    identity = rs.IdentityInfo.decode(await call.run(command))
    token = call.tokens.issue(identity.user_id)
    return json(js.identity(token.user_id, token.token, token.expiry))


async def _login(call: Call) -> web.Response:
    body = await json_object(call.request)
    username, password = get_str(body, "username"), get_str(body, "password")
    version, context = body.get("version"), body.get("context")
    if not (version is None or isinstance(version, str)) or not (context is None or isinstance(context, str)):
        raise fail("`version` and `context` must be strings or null")
    if not username or len(username.encode()) > 255 or len(password.encode()) > 255:
        raise fail("invalid username or password", 42)  # InvalidCredentials
    return await _identity(call, rq.LoginUser(username=username, password=password, version=version, context=context))


async def _login_pat(call: Call) -> web.Response:
    token = get_str(await json_object(call.request), "token")
    if not token or len(token.encode()) > 255:
        raise fail("invalid personal access token", 53)  # InvalidPersonalAccessToken
    return await _identity(call, rq.LoginWithPersonalAccessToken(token=token))


async def _logout(call: Call) -> web.Response:
    await call.run(rq.LogoutUser())
    assert call.claims is not None
    call.tokens.revoke(call.claims)
    return no_content()


async def _refresh(call: Call) -> web.Response:
    token = call.tokens.refresh(get_str(await json_object(call.request), "token"))
    return json(js.identity(token.user_id, token.token, token.expiry))


async def _get_users(call: Call) -> web.Response:
    return json([js.user(u) for u in rs.decode_users(await call.run(rq.GetUsers()))])


async def _get_user(call: Call) -> web.Response:
    payload = await call.run(rq.GetUser(user_id=path_id(call.request, "user_id")))
    if not payload:
        raise NotFound()
    return json(js.user_details(rs.UserDetails.decode(payload)))


async def _create_user(call: Call) -> web.Response:
    body = await json_object(call.request)
    username = _check_length(get_str(body, "username"), 3, 50, 43, "username")
    password = _check_length(get_str(body, "password"), 3, 100, 44, "password")
    command = rq.CreateUser(
        username=username,
        password=password,
        status=_status(body.get("status", "active")),
        permissions=parse_permissions(body.get("permissions")),
    )
    return json(js.user_details(rs.UserDetails.decode(await call.run(command))))


async def _update_user(call: Call) -> web.Response:
    body = await json_object(call.request)
    username = body.get("username")
    if username is not None:
        if not isinstance(username, str):
            raise fail("`username` must be a string or null")
        _check_length(username, 3, 50, 43, "username")
    status = body.get("status")
    command = rq.UpdateUser(
        user_id=path_id(call.request, "user_id"),
        username=username,
        status=None if status is None else _status(status),
    )
    await call.run(command)
    return no_content()


async def _update_permissions(call: Call) -> web.Response:
    body = await json_object(call.request)
    command = rq.UpdatePermissions(
        user_id=path_id(call.request, "user_id"), permissions=parse_permissions(body.get("permissions"))
    )
    await call.run(command)
    return no_content()


async def _change_password(call: Call) -> web.Response:
    body = await json_object(call.request)
    current = _check_length(get_str(body, "current_password"), 3, 100, 44, "current_password")
    new = _check_length(get_str(body, "new_password"), 3, 100, 44, "new_password")
    await call.run(rq.ChangePassword(user_id=path_id(call.request, "user_id"), current_password=current, new_password=new))
    return no_content()


async def _delete_user(call: Call) -> web.Response:
    await call.run(rq.DeleteUser(user_id=path_id(call.request, "user_id")))
    return no_content()


async def _get_pats(call: Call) -> web.Response:
    tokens = rs.decode_personal_access_tokens(await call.run(rq.GetPersonalAccessTokens()))
    return json([js.personal_access_token(t) for t in sorted(tokens, key=lambda t: t.name)])


async def _create_pat(call: Call) -> web.Response:
    body = await json_object(call.request)
    name = _check_length(get_str(body, "name"), 3, 30, 50, "name")  # InvalidPersonalAccessTokenName
    expiry = get_u64(body, "expiry") if body.get("expiry") is not None else 0
    raw = rs.RawPersonalAccessToken.decode(await call.run(rq.CreatePersonalAccessToken(name=name, expiry=expiry)))
    return json({"token": raw.token})


async def _delete_pat(call: Call) -> web.Response:
    name = _check_length(call.request.match_info["name"], 1, 255, 50, "name")
    await call.run(rq.DeletePersonalAccessToken(name=name))
    return no_content()


ROUTES = [
    Route("POST", "/users/login", _login, "Log in; returns a JWT access token", "users", public=True,
          body="LoginUser", response="IdentityInfo"),
    Route("DELETE", "/users/logout", _logout, "Revoke the current access token", "users", status=204),
    Route("POST", "/users/refresh-token", _refresh, "Exchange a token for a new one (the old one is revoked)",
          "users", public=True, body="RefreshToken", response="IdentityInfo"),
    Route("GET", "/users", _get_users, "List users", "users", response="UserList"),
    Route("POST", "/users", _create_user, "Create a user", "users", body="CreateUser", response="UserDetails"),
    Route("GET", "/users/{user_id}", _get_user, "One user with permissions", "users", response="UserDetails"),
    Route("PUT", "/users/{user_id}", _update_user, "Rename or (de)activate a user", "users", body="UpdateUser",
          status=204),
    Route("DELETE", "/users/{user_id}", _delete_user, "Delete a user", "users", status=204),
    Route("PUT", "/users/{user_id}/permissions", _update_permissions, "Replace a user's permissions", "users",
          body="UpdatePermissions", status=204),
    Route("PUT", "/users/{user_id}/password", _change_password, "Change a password", "users",
          body="ChangePassword", status=204),
    Route("POST", "/personal-access-tokens/login", _login_pat, "Log in with a personal access token",
          "personal-access-tokens", public=True, body="LoginWithPersonalAccessToken", response="IdentityInfo"),
    Route("GET", "/personal-access-tokens", _get_pats, "The caller's personal access tokens",
          "personal-access-tokens", response="PersonalAccessTokenList"),
    Route("POST", "/personal-access-tokens", _create_pat, "Create a personal access token (shown once)",
          "personal-access-tokens", body="CreatePersonalAccessToken", response="RawPersonalAccessToken"),
    Route("DELETE", "/personal-access-tokens/{name}", _delete_pat, "Delete a personal access token",
          "personal-access-tokens", status=204),
]
