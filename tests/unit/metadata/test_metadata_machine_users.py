"""Users and personal access tokens: happy paths and rejections."""

from __future__ import annotations

import pytest

from tests.unit.metadata.metadata_helpers import PERMS, reject
from whippet.metadata import commands as c
from whippet.metadata import events as e
from whippet.metadata.machine import MetadataMachine
from whippet.metadata.permissions import ROOT_PERMISSIONS
from whippet.wire.errors import (
    CannotChangePermissions,
    CannotDeleteUser,
    InvalidUserStatus,
    PersonalAccessTokenAlreadyExists,
    PersonalAccessTokensLimitReached,
    ResourceNotFound,
    UserAlreadyExists,
)


def _users() -> MetadataMachine:
    m = MetadataMachine()
    assert m.apply(c.CreateUser("iggy", "root-hash", 1, ROOT_PERMISSIONS, 10)) == 0
    assert m.apply(c.CreateUser("bob", "bob-hash", 2, None, 11)) == 1
    return m


def test_create_user_and_lookups() -> None:
    m = _users()
    assert m.events == [e.UserCreated(1)]
    bob = m.user("bob")
    assert (bob.id, bob.username, bob.password_hash, bob.status, bob.permissions, bob.created_at) == (
        1, "bob", "bob-hash", 2, None, 11,
    )  # fmt: skip
    assert m.user(0).permissions == ROOT_PERMISSIONS
    assert [u.id for u in m.users()] == [0, 1]
    for key in (2, "Bob", "nobody"):
        with pytest.raises(ResourceNotFound):
            m.user(key)


def test_user_rejections() -> None:
    m = _users()
    reject(m, c.CreateUser("bob", "h", 1, None, 0), UserAlreadyExists)
    reject(m, c.CreateUser("eve", "h", 3, None, 0), InvalidUserStatus)
    reject(m, c.UpdateUser(1, "iggy", None), UserAlreadyExists)
    reject(m, c.UpdateUser(1, None, 0), InvalidUserStatus)
    reject(m, c.DeleteUser(0), CannotDeleteUser)
    reject(m, c.UpdatePermissions(0, None), CannotChangePermissions)
    for cmd in (
        c.UpdateUser(7, "x", None),
        c.UpdatePermissions(7, None),
        c.ChangePassword(7, "h"),
        c.DeleteUser(7),
        c.CreatePersonalAccessToken(7, "t", "h", 0),
        c.DeletePersonalAccessToken(1, "missing"),
        c.DeletePersonalAccessToken(7, "t"),
    ):
        reject(m, cmd, ResourceNotFound)


def test_update_user_permissions_password() -> None:
    m = _users()
    m.apply(c.UpdateUser(1, "bob", None))  # own name again is fine
    m.apply(c.UpdateUser(1, "robert", 1))
    assert m.events == [e.UserUpdated(1)]
    assert m.user("robert").status == 1
    with pytest.raises(ResourceNotFound):
        m.user("bob")
    m.apply(c.UpdateUser(1, None, 2))
    assert (m.user(1).username, m.user(1).status) == ("robert", 2)
    m.apply(c.UpdatePermissions(1, PERMS))
    assert m.user(1).permissions == PERMS
    m.apply(c.ChangePassword(1, "new-hash"))
    assert m.user(1).password_hash == "new-hash"
    m.apply(c.ChangePassword(0, "root-2"))  # root may change its password and name
    m.apply(c.UpdateUser(0, "admin", None))
    assert m.user("admin").password_hash == "root-2"


def test_delete_user_frees_id_and_tokens() -> None:
    m = _users()
    m.apply(c.CreateUser("carol", "h", 1, None, 0))
    m.apply(c.CreatePersonalAccessToken(1, "a", "hash-a", 0))
    m.apply(c.DeleteUser(1))
    assert m.events == [e.UserDeleted(1)]
    assert m.pats(1) == [] and m.pat_by_hash("hash-a") is None
    m.apply(c.DeleteUser(2))
    assert m.apply(c.CreateUser("x", "h", 1, None, 0)) == 2  # most recently freed first
    assert m.apply(c.CreateUser("y", "h", 1, None, 0)) == 1
    assert m.apply(c.CreateUser("bob", "h", 1, None, 0)) == 3


def test_personal_access_tokens() -> None:
    m = _users()
    m.apply(c.CreatePersonalAccessToken(1, "zeta", "hz", 0))
    assert m.events == [e.PatCreated(1, "zeta")]
    m.apply(c.CreatePersonalAccessToken(1, "alpha", "ha", 123))
    assert [(p.name, p.expiry_at) for p in m.pats(1)] == [("alpha", 123), ("zeta", 0)]
    assert m.pat_by_hash("ha") == m.pats(1)[0]
    assert m.pat_by_hash("nope") is None
    m.apply(c.CreatePersonalAccessToken(0, "zeta", "hz0", 0))  # names are per user
    reject(m, c.CreatePersonalAccessToken(1, "zeta", "other", 0), PersonalAccessTokenAlreadyExists)
    reject(m, c.CreatePersonalAccessToken(1, "new", "hz", 0), PersonalAccessTokenAlreadyExists)
    m.apply(c.DeletePersonalAccessToken(1, "zeta"))
    assert m.events == [e.PatDeleted(1, "zeta")]
    assert [p.name for p in m.pats(1)] == ["alpha"] and m.pat_by_hash("hz") is None


def test_token_limit_per_user() -> None:
    m = _users()
    for i in range(100):
        m.apply(c.CreatePersonalAccessToken(1, f"t{i}", f"h{i}", 0))
    reject(m, c.CreatePersonalAccessToken(1, "one-more", "hx", 0), PersonalAccessTokensLimitReached)
    m.apply(c.CreatePersonalAccessToken(0, "root-token", "hr", 0))
