"""Users, logins and personal access tokens (31-44)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from whippet.metadata import commands as mc
from whippet.metadata.permissions import can_manage_users, can_read_users
from whippet.node import auth
from whippet.node.clock import now_us
from whippet.node.dispatch import Reply, handler
from whippet.node.handlers._common import key, permissions, require
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import (
    InvalidCredentials,
    InvalidPassword,
    InvalidPersonalAccessTokenName,
    InvalidUsername,
    PersonalAccessTokenAlreadyExists,
    PersonalAccessTokenExpired,
    PersonalAccessTokensLimitReached,
    ResourceNotFound,
    UserInactive,
)
from whippet.wire.responses import (
    IdentityInfo,
    PersonalAccessTokenInfo,
    RawPersonalAccessToken,
    UserDetails,
    UserInfo,
    encode_many,
)

if TYPE_CHECKING:
    from whippet.metadata.model import User
    from whippet.node.server import Node
    from whippet.node.session import Session

_U64_MAX = (1 << 64) - 1
_ACTIVE = 1


def _check_username(name: str) -> None:
    if not 3 <= len(name.encode()) <= 50:
        raise InvalidUsername("a username has 3 to 50 bytes")


def _check_password(password: str) -> None:
    if not 3 <= len(password.encode()) <= 100:
        raise InvalidPassword("a password has 3 to 100 bytes")


def user_info(user: User) -> UserInfo:
    return UserInfo(id=user.id, created_at=user.created_at, status=user.status, username=user.username)


def user_details(user: User) -> bytes:
    return UserDetails(user=user_info(user), permissions=user.permissions).encode()


def _target(node: Node, session: Session, user_key: int | str, *, own_ok: bool, manage: bool) -> User:
    """The user a command acts on, after the permission check (call under the lock)."""
    perms = permissions(node, session)
    user = node.meta.machine.user(user_key)
    if not (own_ok and user.id == session.user_id):
        require(can_manage_users(perms) if manage else can_read_users(perms))
    return user


@handler(codes.GET_USER)
async def get_user(node: Node, session: Session, req: rq.GetUser) -> Reply:
    with node.meta.lock:
        try:
            return user_details(_target(node, session, key(req.user_id), own_ok=True, manage=False))
        except ResourceNotFound:
            return b""


@handler(codes.GET_USERS)
async def get_users(node: Node, session: Session, req: rq.GetUsers) -> Reply:
    with node.meta.lock:
        require(can_read_users(permissions(node, session)))
        return encode_many(user_info(u) for u in node.meta.machine.users())


@handler(codes.CREATE_USER)
async def create_user(node: Node, session: Session, req: rq.CreateUser) -> Reply:
    with node.meta.lock:
        require(can_manage_users(permissions(node, session)))
    _check_username(req.username)
    _check_password(req.password)
    user_id = await node.meta.propose(
        mc.CreateUser(
            username=req.username,
            password_hash=await auth.hash_password_async(req.password),
            status=req.status,
            permissions=req.permissions,
            created_at=now_us(),
        )
    )
    with node.meta.lock:
        return user_details(node.meta.machine.user(user_id))


@handler(codes.DELETE_USER)
async def delete_user(node: Node, session: Session, req: rq.DeleteUser) -> Reply:
    with node.meta.lock:
        user = _target(node, session, key(req.user_id), own_ok=False, manage=True)
    await node.meta.propose(mc.DeleteUser(user_id=user.id))
    for other in node.clients.all():
        if other.user_id == user.id:
            other.user_id = None
    return b""


@handler(codes.UPDATE_USER)
async def update_user(node: Node, session: Session, req: rq.UpdateUser) -> Reply:
    with node.meta.lock:
        user = _target(node, session, key(req.user_id), own_ok=False, manage=True)
    if req.username is not None:
        _check_username(req.username)
    await node.meta.propose(mc.UpdateUser(user_id=user.id, username=req.username, status=req.status))
    return b""


@handler(codes.UPDATE_PERMISSIONS)
async def update_permissions(node: Node, session: Session, req: rq.UpdatePermissions) -> Reply:
    with node.meta.lock:
        user = _target(node, session, key(req.user_id), own_ok=False, manage=True)
    await node.meta.propose(mc.UpdatePermissions(user_id=user.id, permissions=req.permissions))
    return b""


@handler(codes.CHANGE_PASSWORD)
async def change_password(node: Node, session: Session, req: rq.ChangePassword) -> Reply:
    with node.meta.lock:
        user = _target(node, session, key(req.user_id), own_ok=True, manage=True)
    _check_password(req.new_password)
    if not await auth.verify_password_async(user.password_hash, req.current_password):
        raise InvalidCredentials("the current password does not match")
    new_hash = await auth.hash_password_async(req.new_password)
    await node.meta.propose(mc.ChangePassword(user_id=user.id, password_hash=new_hash))
    return b""


@handler(codes.LOGIN_USER)
async def login_user(node: Node, session: Session, req: rq.LoginUser) -> Reply:
    # Iggy parses the username as an identifier: an all-digit name is a user id.
    user_key: int | str = int(req.username) if req.username.isdigit() else req.username
    with node.meta.lock:
        try:
            user = node.meta.machine.user(user_key)
        except ResourceNotFound:
            raise InvalidCredentials() from None
    if not await auth.verify_password_async(user.password_hash, req.password):
        raise InvalidCredentials()
    if user.status != _ACTIVE:
        raise UserInactive()
    session.user_id = user.id
    return IdentityInfo(user_id=user.id).encode()


@handler(codes.LOGOUT_USER)
async def logout_user(node: Node, session: Session, req: rq.LogoutUser) -> Reply:
    session.user_id = None
    return b""


# --- personal access tokens ---


@handler(codes.GET_PERSONAL_ACCESS_TOKENS)
async def get_personal_access_tokens(node: Node, session: Session, req: rq.GetPersonalAccessTokens) -> Reply:
    with node.meta.lock:
        tokens = node.meta.machine.pats(session.require_user())
        return encode_many(PersonalAccessTokenInfo(name=t.name, expiry_at=t.expiry_at) for t in tokens)


@handler(codes.CREATE_PERSONAL_ACCESS_TOKEN)
async def create_personal_access_token(
    node: Node, session: Session, req: rq.CreatePersonalAccessToken
) -> Reply:
    user_id = session.require_user()
    if not 3 <= len(req.name.encode()) <= 30:
        raise InvalidPersonalAccessTokenName("a token name has 3 to 30 bytes")
    # Refused here rather than by the state machine, so a request that cannot succeed never
    # reaches the Raft log (the only writes a user without permissions may propose are these).
    with node.meta.lock:
        names = {t.name for t in node.meta.machine.pats(user_id)}
    if req.name in names:
        raise PersonalAccessTokenAlreadyExists(f"token {req.name!r} already exists")
    if len(names) >= node.config.auth_max_tokens_per_user:
        raise PersonalAccessTokensLimitReached(f"a user holds at most {node.config.auth_max_tokens_per_user} tokens")
    expiry_at = 0 if req.expiry in (0, _U64_MAX) else now_us() + req.expiry
    if expiry_at > _U64_MAX:  # past the year 580,000: never (the command could not hold it)
        expiry_at = 0
    token = auth.new_token()
    await node.meta.propose(
        mc.CreatePersonalAccessToken(
            user_id=user_id, name=req.name, token_hash=auth.token_hash(token), expiry_at=expiry_at
        )
    )
    return RawPersonalAccessToken(token=token).encode()


@handler(codes.DELETE_PERSONAL_ACCESS_TOKEN)
async def delete_personal_access_token(
    node: Node, session: Session, req: rq.DeletePersonalAccessToken
) -> Reply:
    user_id = session.require_user()
    with node.meta.lock:  # as in create: what cannot succeed does not reach the Raft log
        if not any(t.name == req.name for t in node.meta.machine.pats(user_id)):
            raise ResourceNotFound(f"token {req.name!r} not found")
    await node.meta.propose(mc.DeletePersonalAccessToken(user_id=user_id, name=req.name))
    return b""


@handler(codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN)
async def login_with_personal_access_token(
    node: Node, session: Session, req: rq.LoginWithPersonalAccessToken
) -> Reply:
    with node.meta.lock:
        pat = node.meta.machine.pat_by_hash(auth.token_hash(req.token))
        if pat is None:
            raise ResourceNotFound("unknown personal access token")
        if pat.expiry_at and pat.expiry_at <= now_us():
            raise PersonalAccessTokenExpired()
        user = node.meta.machine.user(pat.user_id)
    if user.status != _ACTIVE:
        raise UserInactive()
    session.user_id = user.id
    return IdentityInfo(user_id=user.id).encode()
