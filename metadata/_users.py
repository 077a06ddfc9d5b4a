"""Command handlers for users and personal access tokens.

Passwords and tokens arrive already hashed (argon2 with a random salt, BLAKE3):
hashing is the proposer's job because it is not deterministic. The user with id 0
is root: it cannot be deleted (48) nor have its permissions changed (49).
"""

from __future__ import annotations

from whippet.metadata import _lookup
from whippet.metadata.commands import (
    ChangePassword,
    CreatePersonalAccessToken,
    CreateUser,
    DeletePersonalAccessToken,
    DeleteUser,
    UpdatePermissions,
    UpdateUser,
)
from whippet.metadata.events import (
    Event,
    PatCreated,
    PatDeleted,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from whippet.metadata.model import (
    ROOT_USER_ID,
    USER_ACTIVE,
    USER_INACTIVE,
    MetadataState,
    PersonalAccessToken,
    User,
)
from whippet.wire.errors import (
    CannotChangePermissions,
    CannotDeleteUser,
    InvalidUserStatus,
    PersonalAccessTokenAlreadyExists,
    PersonalAccessTokensLimitReached,
    ResourceNotFound,
    UserAlreadyExists,
)

MAX_TOKENS_PER_USER = 100


def _check_status(status: int) -> None:
    if status not in (USER_ACTIVE, USER_INACTIVE):
        raise InvalidUserStatus(f"user status must be 1 (active) or 2 (inactive), got {status}")


def create_user(st: MetadataState, cmd: CreateUser, ev: list[Event]) -> int:
    if cmd.username in st.user_by_name:
        raise UserAlreadyExists(f"user {cmd.username!r} already exists")
    _check_status(cmd.status)
    uid = st.user_ids.take()
    st.users[uid] = User(
        uid, cmd.username, cmd.password_hash, cmd.status, cmd.permissions, cmd.created_at
    )
    st.user_by_name[cmd.username] = uid
    ev.append(UserCreated(uid))
    return uid


def update_user(st: MetadataState, cmd: UpdateUser, ev: list[Event]) -> None:
    u = _lookup.user(st, cmd.user_id)
    name = cmd.username
    if name is not None and name != u.username and name in st.user_by_name:
        raise UserAlreadyExists(f"user {name!r} already exists")
    if cmd.status is not None:
        _check_status(cmd.status)
    if name is not None:
        del st.user_by_name[u.username]
        u.username = name
        st.user_by_name[name] = u.id
    if cmd.status is not None:
        u.status = cmd.status
    ev.append(UserUpdated(u.id))


def update_permissions(st: MetadataState, cmd: UpdatePermissions, ev: list[Event]) -> None:
    u = _lookup.user(st, cmd.user_id)
    if u.id == ROOT_USER_ID:
        raise CannotChangePermissions("the root user's permissions cannot be changed")
    u.permissions = cmd.permissions
    ev.append(UserUpdated(u.id))


def change_password(st: MetadataState, cmd: ChangePassword, ev: list[Event]) -> None:
    u = _lookup.user(st, cmd.user_id)
    u.password_hash = cmd.password_hash
    ev.append(UserUpdated(u.id))


def delete_user(st: MetadataState, cmd: DeleteUser, ev: list[Event]) -> None:
    u = _lookup.user(st, cmd.user_id)
    if u.id == ROOT_USER_ID:
        raise CannotDeleteUser("the root user cannot be deleted")
    del st.users[u.id]
    del st.user_by_name[u.username]
    for pat in st.pats.pop(u.id, {}).values():
        st.pat_by_hash.pop(pat.token_hash, None)
    st.user_ids.release(u.id)
    ev.append(UserDeleted(u.id))


def create_pat(st: MetadataState, cmd: CreatePersonalAccessToken, ev: list[Event]) -> None:
    u = _lookup.user(st, cmd.user_id)
    tokens = st.pats.get(u.id, {})
    if len(tokens) >= MAX_TOKENS_PER_USER:
        raise PersonalAccessTokensLimitReached(f"user {u.id} already has {len(tokens)} tokens")
    if cmd.name in tokens or cmd.token_hash in st.pat_by_hash:
        raise PersonalAccessTokenAlreadyExists(f"token {cmd.name!r} already exists for user {u.id}")
    pat = PersonalAccessToken(u.id, cmd.name, cmd.token_hash, cmd.expiry_at)
    st.pats.setdefault(u.id, {})[cmd.name] = pat
    st.pat_by_hash[cmd.token_hash] = pat
    ev.append(PatCreated(u.id, cmd.name))


def delete_pat(st: MetadataState, cmd: DeletePersonalAccessToken, ev: list[Event]) -> None:
    tokens = st.pats.get(cmd.user_id, {})
    pat = tokens.get(cmd.name)
    if pat is None:
        raise ResourceNotFound(f"token {cmd.name!r} not found for user {cmd.user_id}")
    del tokens[cmd.name]
    if not tokens:
        del st.pats[cmd.user_id]
    del st.pat_by_hash[pat.token_hash]
    ev.append(PatDeleted(cmd.user_id, cmd.name))
