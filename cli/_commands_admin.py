"""``whippet`` commands for users, personal access tokens and consumer groups."""

from __future__ import annotations

import argparse

from whippet.cli import _values
from whippet.cli._commands import _missing, command
from whippet.cli._output import Printer, timestamp
from whippet.sdk import Client

__all__: list[str] = []

_STATUS = {1: "active", 2: "inactive"}


def _perms(a: argparse.Namespace):  # type: ignore[no-untyped-def]
    return _values.permissions(a.global_permissions, a.stream_permissions)


@command("user.create")
async def user_create(c: Client, a: argparse.Namespace, out: Printer) -> None:
    d = await c.create_user(a.new_username, a.new_user_password, a.user_status, _perms(a))
    out.info(f"User with username: {d.user.username} and ID: {d.user.id} created")
    if out.json:
        out.data(d)


@command("user.delete")
async def user_delete(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.delete_user(a.user_id)
    out.info(f"User with ID: {a.user_id} deleted")


@command("user.get")
async def user_get(c: Client, a: argparse.Namespace, out: Printer) -> None:
    d = await c.get_user(a.user_id)
    if d is None:
        raise _missing(f"user {a.user_id}")
    u = d.user
    rows = [("User ID", u.id), ("Created", timestamp(u.created_at)), ("Status", _STATUS.get(u.status, u.status)),
            ("Username", u.username)]
    if d.permissions is not None:
        flags = [k for k, v in vars_(d.permissions.global_).items() if v]
        rows.append(("Global permissions", ", ".join(flags) or "-"))
        for sid in sorted(d.permissions.streams or {}):
            sp = (d.permissions.streams or {})[sid]
            rows.append((f"Stream {sid}", ", ".join(k for k, v in vars_(sp).items() if v is True) or "-"))
    out.fields(rows, raw=d)


def vars_(obj: object) -> dict[str, object]:
    return {n: getattr(obj, n) for n in obj.__dataclass_fields__}  # type: ignore[attr-defined]


@command("user.list")
async def user_list(c: Client, a: argparse.Namespace, out: Printer) -> None:
    users = await c.get_users()
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    out.table(["ID", "Created", "Status", "Username"],
              [(u.id, timestamp(u.created_at), _STATUS.get(u.status, u.status), u.username) for u in users], raw=users)


@command("user.name")
async def user_name(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.update_user(a.user_id, username=a.new_username)
    out.info(f"User with ID: {a.user_id} updated username: {a.new_username}")


@command("user.status")
async def user_status(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.update_user(a.user_id, status=a.status)
    out.info(f"User with ID: {a.user_id} updated status: {a.status}")


@command("user.password")
async def user_password(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.change_password(a.user_id, a.current_password, a.new_password)
    out.info(f"Password for user with ID: {a.user_id} changed")


@command("user.permissions")
async def user_permissions(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.update_permissions(a.user_id, _perms(a))
    out.info(f"Permissions for user with ID: {a.user_id} updated")


@command("pat.create")
async def pat_create(c: Client, a: argparse.Namespace, out: Printer) -> None:
    expiry = _values.expiry_us(a.expiry)
    token = await c.create_personal_access_token(a.name, 0 if expiry == _values.U64_MAX else expiry)
    if out.json:
        out.data({"name": a.name, "token": token})
    elif out.quiet:
        print(token, file=out.out)
    else:
        out.info(f"Personal access token with name: {a.name} created\nToken: {token}")


@command("pat.delete")
async def pat_delete(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.delete_personal_access_token(a.name)
    out.info(f"Personal access token with name: {a.name} deleted")


@command("pat.list")
async def pat_list(c: Client, a: argparse.Namespace, out: Printer) -> None:
    tokens = await c.get_personal_access_tokens()
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    out.table(["Name", "Token Expiry Time"], [(t.name, timestamp(t.expiry_at) if t.expiry_at else "unlimited")
                                              for t in tokens], raw=tokens)


@command("group.create")
async def group_create(c: Client, a: argparse.Namespace, out: Printer) -> None:
    d = await c.create_consumer_group(a.stream_id, a.topic_id, a.name)
    out.info(f"Consumer group with ID: {d.group.id}, name: {d.group.name} created "
             f"for stream with ID: {a.stream_id} and topic with ID: {a.topic_id}")
    if out.json:
        out.data(d)


@command("group.delete")
async def group_delete(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.delete_consumer_group(a.stream_id, a.topic_id, a.group_id)
    out.info(f"Consumer group with ID: {a.group_id} deleted")


@command("group.get")
async def group_get(c: Client, a: argparse.Namespace, out: Printer) -> None:
    d = await c.get_consumer_group(a.stream_id, a.topic_id, a.group_id)
    if d is None:
        raise _missing(f"consumer group {a.group_id}")
    g = d.group
    rows = [("Consumer group ID", g.id), ("Consumer group name", g.name), ("Partitions count", g.partitions_count),
            ("Members count", g.members_count)]
    rows += [(f"Member {m.id}", ", ".join(map(str, m.partitions)) or "-") for m in d.members]
    out.fields(rows, raw=d)


@command("group.list")
async def group_list(c: Client, a: argparse.Namespace, out: Printer) -> None:
    groups = await c.get_consumer_groups(a.stream_id, a.topic_id)
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    out.table(["ID", "Name", "Partitions Count", "Members Count"],
              [(g.id, g.name, g.partitions_count, g.members_count) for g in groups], raw=groups)
