"""The permission matrix: every command x every transport x every kind of principal.

For each (principal, transport) the checks run in two phases against a live node:

1. **denials**: every command the rules (:mod:`.permission_rules`) refuse this principal;
   each must answer Unauthorized (41), or Unauthenticated (40) / HTTP 401 without a
   login, and the node's state digest (:mod:`.state`, Raft commit index included) must
   be the same after the batch as before it;
2. **grants**: every command the rules allow; none may answer 40/41 (another error, such
   as "already exists", still shows the permission check passed). Whatever a grant
   changed is repaired (as root) before the next check, so every check sees the same
   objects: stream ``pm`` (id 0) with topic ``t`` (id 0, 2 partitions), group ``g``,
   messages and a stored offset; stream ``other``; user ``victim``.

An **escape** is a denial that was not refused (the command ran, or the state changed);
a **false denial** is a grant refused with 40/41. Targets: 0 escapes; false denials
only where whippet is deliberately stricter (``permission_rules.DEPARTURES``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.security.permission_rules import DEPARTURES, GLOBAL, STREAM, TOPIC, allows
from tests.security.state import diff, state_digest
from tests.support.client import TestClient
from whippet.node.http.auth import TokenAuthority
from whippet.sdk.connection import Connection
from whippet.sdk.quic import QuicConnection
from whippet.sdk.ws import WsConnection
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.batch import build_send_messages
from whippet.wire.errors import IggyError
from whippet.wire.framing import encode_request
from whippet.wire.permissions import (
    GlobalPermissions,
    Permissions,
    StreamPermissions,
    TopicPermissions,
)
from whippet.wire.primitives import Consumer, Identifier, Partitioning, PollingStrategy
from whippet.wire.table import COMMAND_TABLE

__all__ = ["COMMANDS", "PRINCIPALS", "TRANSPORTS", "Command", "MatrixResult", "Principal", "expected", "run_matrix"]

TRANSPORTS = ("tcp", "ws", "quic", "http")
ROOT = ("iggy", "iggy")
S, T, G = Identifier("pm"), Identifier("t"), Identifier("g")
VICTIM = ("victim", "victim-pw")
JWT_SECRET = "matrix-jwt-secret-for-the-expired-token"


# --- principals --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    name: str
    flags: frozenset[str]
    login: str  # "password", "pat", "none", "expired"
    user: tuple[str, str] | None = None

    @property
    def logged_in(self) -> bool:
        return self.login in ("password", "pat")


def _permissions(flag: str, stream_id: int, topic_id: int) -> Permissions:
    level, name = flag.split(".")
    if level == "g":
        return Permissions(global_=GlobalPermissions(**{name: True}))
    if level == "s":
        return Permissions(streams={stream_id: StreamPermissions(**{name: True})})
    topic = {topic_id: TopicPermissions(**{name: True})}
    return Permissions(streams={stream_id: StreamPermissions(topics=topic)})


def _principals() -> list[Principal]:
    out = [Principal("root", frozenset(f"g.{f}" for f in GLOBAL), "password", ROOT)]
    for level, names in (("g", GLOBAL), ("s", STREAM), ("t", TOPIC)):
        for name in names:
            flag = f"{level}.{name}"
            out.append(Principal(flag, frozenset({flag}), "password", (f"u-{level}-{name}", "pw-" + name)))
    out.append(Principal("no permissions", frozenset(), "password", ("u-none", "pw-none")))
    out.append(Principal("PAT (g.read_streams)", frozenset({"g.read_streams"}), "pat",
                         ("u-g-read_streams", "pw-read_streams")))
    out.append(Principal("no login", frozenset(), "none"))
    out.append(Principal("expired HTTP token (root)", frozenset(), "expired", ROOT))
    return out


PRINCIPALS = _principals()


# --- commands -----------------------------------------------------------------------------------
Http = tuple[str, str, Any]  # method, path (with query), JSON body or None


@dataclass(frozen=True)
class Command:
    code: int
    label: str  # Iggy 0.8's rule (permission_rules.LABELS)
    binary: Callable[[], bytes] | None  # the request payload
    http: Http | None = None
    changes: bool = False  # a grant changes the fixture: repair after it
    order: int = 0  # grants run by order (logout last)

    @property
    def name(self) -> str:
        return COMMAND_TABLE[self.code].name

    @property
    def rule(self) -> str:
        """The label whippet applies: 0.8's, or a documented departure."""
        return DEPARTURES.get(self.name, (self.label, ""))[0]


def _send_body() -> bytes:
    return build_send_messages(S, T, Partitioning.partition_id(0), [(0, b"matrix", b"", 0)])


_TOPIC_BODY = {"name": "t-new", "partitions_count": 1, "compression_algorithm": "none", "message_expiry": 0,
               "max_topic_size": 0, "replication_factor": None}
_SEND_JSON = {"partitioning": {"kind": "partition_id", "value": base64.b64encode((0).to_bytes(4, "little")).decode()},
              "messages": [{"payload": base64.b64encode(b"matrix").decode()}]}
_TOPIC_PATH = "/streams/pm/topics/t"
_C1 = Consumer.consumer(Identifier(1))
_PERMS = Permissions(global_=GlobalPermissions(read_servers=True))


def _cmd(request: rq.WireStruct, label: str, http: Http | None = None, *, changes: bool = False,
         order: int = 0) -> Command:
    return Command(request.CODE, label, request.encode, http, changes, order)


COMMANDS: list[Command] = [
    _cmd(rq.Ping(), "NONE", ("GET", "/ping", None)),
    _cmd(rq.GetStats(), "SRV", ("GET", "/stats", None)),
    _cmd(rq.GetSnapshotFile(compression=1, snapshot_types=(100,)), "AUTH",
         ("POST", "/snapshot", {"compression": "stored", "snapshot_types": ["all"]})),
    _cmd(rq.GetClusterMetadata(), "AUTH", ("GET", "/cluster/metadata", None)),
    _cmd(rq.GetMe(), "AUTH", ("GET", "/me", None)),
    _cmd(rq.GetClient(client_id=1), "SRV", ("GET", "/clients/1", None)),
    _cmd(rq.GetClients(), "SRV", ("GET", "/clients", None)),
    _cmd(rq.GetUser(user_id=Identifier("victim")), "USR-R", ("GET", "/users/victim", None)),
    _cmd(rq.GetUsers(), "USR-R", ("GET", "/users", None)),
    _cmd(rq.CreateUser(username="new-user", password="new-user-pw", status=1, permissions=None), "USR-M",
         ("POST", "/users", {"username": "new-user", "password": "new-user-pw", "status": "active",
                             "permissions": None}), changes=True),
    _cmd(rq.UpdateUser(user_id=Identifier("victim"), username=None, status=2), "USR-M",
         ("PUT", "/users/victim", {"status": "inactive"}), changes=True),
    _cmd(rq.UpdatePermissions(user_id=Identifier("victim"), permissions=_PERMS), "USR-M",
         ("PUT", "/users/victim/permissions", {"permissions": _PERMS.to_json()}), changes=True),
    _cmd(rq.ChangePassword(user_id=Identifier("victim"), current_password=VICTIM[1], new_password="victim-pw2"),
         "USR-M", ("PUT", "/users/victim/password", {"current_password": VICTIM[1], "new_password": "victim-pw2"}),
         changes=True),
    _cmd(rq.DeleteUser(user_id=Identifier("victim")), "USR-M", ("DELETE", "/users/victim", None), changes=True,
         order=5),
    _cmd(rq.LoginUser(username="victim", password="wrong", version="matrix", context=None), "NONE",
         ("POST", "/users/login", {"username": "victim", "password": "wrong"})),
    _cmd(rq.GetPersonalAccessTokens(), "AUTH", ("GET", "/personal-access-tokens", None)),
    _cmd(rq.CreatePersonalAccessToken(name="pm-token", expiry=0), "AUTH",
         ("POST", "/personal-access-tokens", {"name": "pm-token", "expiry": 0}), order=1),
    _cmd(rq.DeletePersonalAccessToken(name="pm-token"), "AUTH", ("DELETE", "/personal-access-tokens/pm-token", None),
         order=2),
    _cmd(rq.LoginWithPersonalAccessToken(token="not-a-token"), "NONE",
         ("POST", "/personal-access-tokens/login", {"token": "not-a-token"})),
    _cmd(rq.PollMessages(consumer=_C1, stream_id=S, topic_id=T, partition_id=0, strategy=PollingStrategy.offset(0),
                         count=10, auto_commit=False), "POLL",
         ("GET", _TOPIC_PATH + "/messages?consumer_id=1&partition_id=0&kind=offset&value=0&count=10", None)),
    Command(codes.POLL_MESSAGES_V09, "POLL", rq.PollMessages(
        consumer=_C1, stream_id=S, topic_id=T, partition_id=0, strategy=PollingStrategy.offset(0), count=10,
        auto_commit=False).encode, None),
    Command(codes.SEND_MESSAGES, "SEND", _send_body, ("POST", _TOPIC_PATH + "/messages", _SEND_JSON)),
    Command(codes.SEND_MESSAGES_APPENDED, "SEND", _send_body, None),
    _cmd(rq.FlushUnsavedBuffer(stream_id=S, topic_id=T, partition_id=0, fsync=False), "SEND",
         ("GET", _TOPIC_PATH + "/messages/flush/0/false", None)),
    _cmd(rq.GetConsumerOffset(consumer=_C1, stream_id=S, topic_id=T, partition_id=0), "POLL",
         ("GET", _TOPIC_PATH + "/consumer-offsets?consumer_id=1&partition_id=0", None)),
    _cmd(rq.StoreConsumerOffset(consumer=_C1, stream_id=S, topic_id=T, partition_id=0, offset=0), "POLL",
         ("PUT", _TOPIC_PATH + "/consumer-offsets", {"consumer_id": "1", "partition_id": 0, "offset": 0})),
    _cmd(rq.DeleteConsumerOffset(consumer=_C1, stream_id=S, topic_id=T, partition_id=0), "POLL",
         ("DELETE", _TOPIC_PATH + "/consumer-offsets/1?partition_id=0", None), changes=True),
    _cmd(rq.GetStream(stream_id=S), "STR-R", ("GET", "/streams/pm", None)),
    _cmd(rq.GetStreams(), "STR-L", ("GET", "/streams", None)),
    _cmd(rq.CreateStream(name="pm-new"), "STR-C", ("POST", "/streams", {"name": "pm-new"}), changes=True),
    _cmd(rq.UpdateStream(stream_id=S, name="pm-x"), "STR-M", ("PUT", "/streams/pm", {"name": "pm-x"}), changes=True),
    _cmd(rq.PurgeStream(stream_id=S), "STR-M", ("DELETE", "/streams/pm/purge", None), changes=True),
    _cmd(rq.DeleteStream(stream_id=S), "STR-M", ("DELETE", "/streams/pm", None), changes=True, order=5),
    _cmd(rq.GetTopic(stream_id=S, topic_id=T), "TOP-R", ("GET", _TOPIC_PATH, None)),
    _cmd(rq.GetTopics(stream_id=S), "TOP-R-stream", ("GET", "/streams/pm/topics", None)),
    _cmd(rq.CreateTopic(stream_id=S, partitions_count=1, compression=1, message_expiry=0, max_topic_size=0,
                        replication_factor=0, name="t-new"), "TOP-C",
         ("POST", "/streams/pm/topics", _TOPIC_BODY), changes=True),
    _cmd(rq.UpdateTopic(stream_id=S, topic_id=T, compression=1, message_expiry=0, max_topic_size=0,
                        replication_factor=0, name="t-x"), "TOP-M",
         ("PUT", _TOPIC_PATH, {**_TOPIC_BODY, "name": "t-x"}), changes=True),
    _cmd(rq.PurgeTopic(stream_id=S, topic_id=T), "TOP-M", ("DELETE", _TOPIC_PATH + "/purge", None), changes=True),
    _cmd(rq.DeleteTopic(stream_id=S, topic_id=T), "TOP-M", ("DELETE", _TOPIC_PATH, None), changes=True, order=4),
    _cmd(rq.CreatePartitions(stream_id=S, topic_id=T, partitions_count=1), "TOP-M",
         ("POST", _TOPIC_PATH + "/partitions", {"partitions_count": 1}), changes=True),
    _cmd(rq.DeletePartitions(stream_id=S, topic_id=T, partitions_count=1), "TOP-M",
         ("DELETE", _TOPIC_PATH + "/partitions?partitions_count=1", None), changes=True),
    _cmd(rq.DeleteSegments(stream_id=S, topic_id=T, partition_id=0, segments_count=1), "TOP-M",
         ("DELETE", _TOPIC_PATH + "/partitions/0?segments_count=1", None)),
    _cmd(rq.GetConsumerGroup(stream_id=S, topic_id=T, group_id=G), "TOP-R",
         ("GET", _TOPIC_PATH + "/consumer-groups/g", None)),
    _cmd(rq.GetConsumerGroups(stream_id=S, topic_id=T), "TOP-R", ("GET", _TOPIC_PATH + "/consumer-groups", None)),
    _cmd(rq.CreateConsumerGroup(stream_id=S, topic_id=T, name="g-new"), "TOP-R",
         ("POST", _TOPIC_PATH + "/consumer-groups", {"name": "g-new"}), changes=True),
    _cmd(rq.JoinConsumerGroup(stream_id=S, topic_id=T, group_id=G), "TOP-R", None, order=1),
    _cmd(rq.LeaveConsumerGroup(stream_id=S, topic_id=T, group_id=G), "TOP-R", None, order=2),
    _cmd(rq.DeleteConsumerGroup(stream_id=S, topic_id=T, group_id=G), "TOP-R",
         ("DELETE", _TOPIC_PATH + "/consumer-groups/g", None), changes=True, order=3),
    _cmd(rq.GetPartitionLeaders(stream_id=S, topic_id=T), "ROUTE", None),
    _cmd(rq.SetTopicAck(stream_id=S, topic_id=T, ack="leader"), "TOP-M", ("PUT", _TOPIC_PATH + "/ack",
                                                                         {"ack": "leader"}), changes=True),
    _cmd(rq.GetTopicAck(stream_id=S, topic_id=T), "TOP-R", ("GET", _TOPIC_PATH + "/ack", None)),
    _cmd(rq.GetPartitionStates(stream_id=S, topic_id=T, partitions=[]), "TOP-R", None),
    _cmd(rq.GetConsumerAssignment(stream_id=S, topic_id=T, group_id=G), "TOP-R", None),
    _cmd(rq.LogoutUser(), "AUTH", ("DELETE", "/users/logout", None), order=9),
]


# --- the fixture -------------------------------------------------------------------------------
class Root:
    """Root's TCP connection: sets up the principals, reads the state, repairs the fixture."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def digest(self, node: Any) -> dict[str, Any]:
        return await state_digest(node.address, node.http_port, client=TestClient(self.conn))

    async def call(self, request: rq.WireStruct) -> bytes:
        return await self.conn.request(request.CODE, request.encode())

    async def quietly(self, request: rq.WireStruct) -> None:
        with contextlib.suppress(IggyError):
            await self.call(request)

    async def setup(self) -> None:
        await self.call(rq.CreateStream(name="pm"))
        await self.call(rq.CreateStream(name="other"))
        for stream in ("pm", "other"):
            await self._topic(Identifier(stream))
        for p in PRINCIPALS:
            if p.login == "password" and p.user != ROOT:
                flag = next(iter(p.flags)) if p.flags else None
                perms = _permissions(flag, 0, 0) if flag else None
                await self.call(rq.CreateUser(username=p.user[0], password=p.user[1], status=1, permissions=perms))
        await self._victim()

    async def _topic(self, stream: Identifier) -> None:
        await self.call(rq.CreateTopic(stream_id=stream, partitions_count=2, compression=1, message_expiry=0,
                                       max_topic_size=0, replication_factor=0, name="t"))
        for p in (0, 1):
            body = build_send_messages(stream, T, Partitioning.partition_id(p), [(0, b"m", b"", 0)] * 3)
            await self.conn.request(codes.SEND_MESSAGES, body)
        await self.call(rq.CreateConsumerGroup(stream_id=stream, topic_id=T, name="g"))
        await self.call(rq.StoreConsumerOffset(consumer=_C1, stream_id=stream, topic_id=T, partition_id=0, offset=1))

    async def _victim(self) -> None:
        await self.call(rq.CreateUser(username=VICTIM[0], password=VICTIM[1], status=1, permissions=None))

    async def repair(self, users: bool) -> None:
        """Back to the fixture after a grant changed it (ids as before: freed ids are reused first);
        ``users``: a user command ran (victim is remade, which hashes a password)."""
        await self.quietly(rq.DeleteStream(stream_id=Identifier("pm-new")))
        await self.quietly(rq.UpdateStream(stream_id=Identifier("pm-x"), name="pm"))
        streams = {s.name: s.id for s in rs.decode_streams(await self.call(rq.GetStreams()))}
        if "pm" not in streams:
            await self.call(rq.CreateStream(name="pm"))
        await self.quietly(rq.DeleteTopic(stream_id=S, topic_id=Identifier("t-new")))
        await self.quietly(rq.UpdateTopic(stream_id=S, topic_id=Identifier("t-x"), compression=1, message_expiry=0,
                                          max_topic_size=0, replication_factor=0, name="t"))
        topics = {t.name: t for t in rs.decode_topics(await self.call(rq.GetTopics(stream_id=S)))}
        if "t" not in topics:
            await self._topic(S)
        else:
            count = topics["t"].partitions_count
            if count > 2:
                await self.call(rq.DeletePartitions(stream_id=S, topic_id=T, partitions_count=count - 2))
            elif count < 2:
                await self.call(rq.CreatePartitions(stream_id=S, topic_id=T, partitions_count=2 - count))
            await self.quietly(rq.DeleteConsumerGroup(stream_id=S, topic_id=T, group_id=Identifier("g-new")))
            await self.quietly(rq.CreateConsumerGroup(stream_id=S, topic_id=T, name="g"))
            await self.call(rq.SetTopicAck(stream_id=S, topic_id=T, ack=""))
        if users:
            await self.quietly(rq.DeleteUser(user_id=Identifier("new-user")))
            await self.quietly(rq.DeleteUser(user_id=Identifier("victim")))  # whatever a grant did to it
            await self._victim()


_USER_CODES = {codes.CREATE_USER, codes.UPDATE_USER, codes.UPDATE_PERMISSIONS, codes.CHANGE_PASSWORD,
               codes.DELETE_USER}


# --- transports --------------------------------------------------------------------------------
class _BinarySession:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def status(self, command: Command) -> int:
        assert command.binary is not None
        try:
            await self.conn.request_raw(encode_request(command.code, command.binary()))
        except IggyError as exc:
            return exc.status
        return 0

    async def close(self) -> None:
        await self.conn.close()


async def _open_binary(node: Any, transport: str) -> Any:
    if transport == "tcp":
        return await Connection.open("127.0.0.1", node.tcp_port)
    if transport == "ws":
        return await WsConnection.open("127.0.0.1", node.ws_port)
    return await QuicConnection.open("127.0.0.1", node.quic_port)


class _HttpSession:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str | None) -> None:
        self.http, self.base, self.token = http, base, token

    async def status(self, command: Command) -> int:
        """The Iggy code an HTTP answer stands for: 0 for 2xx/404-with-body, 40 for 401, 41 for 403."""
        assert command.http is not None
        method, path, body = command.http
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as reply:
            text = await reply.read()
            if reply.status == 401:
                return 40
            if reply.status == 403:
                return 41
            if reply.status >= 500:
                return 1
            if reply.status >= 400:
                try:
                    return int((await reply.json())["id"])
                except (ValueError, KeyError, TypeError, aiohttp.ContentTypeError):
                    return 404 if reply.status == 404 else 2
            del text
            return 0

    async def close(self) -> None:
        pass


async def _session(node: Any, transport: str, principal: Principal, http: aiohttp.ClientSession,
                   pat: str) -> Any:
    if transport == "http":
        base = f"http://127.0.0.1:{node.http_port}"
        token = None
        if principal.login == "password":
            assert principal.user is not None
            async with http.post(base + "/users/login", json={"username": principal.user[0],
                                                               "password": principal.user[1]}) as r:
                token = (await r.json())["access_token"]["token"]
        elif principal.login == "pat":
            async with http.post(base + "/personal-access-tokens/login", json={"token": pat}) as r:
                token = (await r.json())["access_token"]["token"]
        elif principal.login == "expired":
            token = TokenAuthority(JWT_SECRET, -3600).issue(0).token  # root's, expired an hour ago
        return _HttpSession(http, base, token)
    conn = await _open_binary(node, transport)
    if principal.login == "password":
        assert principal.user is not None
        await conn.request(codes.LOGIN_USER, rq.LoginUser(username=principal.user[0], password=principal.user[1],
                                                          version="matrix", context=None).encode())
    elif principal.login == "pat":
        await conn.request(codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN,
                           rq.LoginWithPersonalAccessToken(token=pat).encode())
    return _BinarySession(conn)


# --- the run -------------------------------------------------------------------------------------
@dataclass
class MatrixResult:
    checks: int = 0
    escapes: list[str] = field(default_factory=list)
    false_denials: list[str] = field(default_factory=list)
    departures_seen: set[str] = field(default_factory=set)
    #: (command, principal) -> expected allow, for the published table
    expected: dict[tuple[str, str], bool] = field(default_factory=dict)
    per_transport: dict[str, int] = field(default_factory=dict)


def expected() -> dict[tuple[str, str], bool]:
    """(command name, principal name) -> whether the rules allow it."""
    return {(c.name, p.name): allows(c.rule, p.flags, p.logged_in) for c in COMMANDS for p in PRINCIPALS}


def applicable(command: Command, transport: str, principal: Principal) -> bool:
    if transport == "http":
        return command.http is not None
    return command.binary is not None and principal.login != "expired"  # expired: an HTTP token only


async def run_matrix(node: Any, log: Callable[[str], Awaitable[None]] | None = None,
                     transports: tuple[str, ...] = TRANSPORTS) -> MatrixResult:
    """Run every check against ``node`` (a fresh node with root iggy/iggy and
    ``http_jwt_secret = JWT_SECRET``)."""
    result = MatrixResult()
    root = Root(await Connection.open("127.0.0.1", node.tcp_port))
    await root.conn.request(codes.LOGIN_USER, rq.LoginUser(username=ROOT[0], password=ROOT[1], version="matrix",
                                                           context=None).encode())
    await root.setup()
    pat_owner = await Connection.open("127.0.0.1", node.tcp_port)
    pat_principal = next(p for p in PRINCIPALS if p.login == "pat")
    assert pat_principal.user is not None
    await pat_owner.request(codes.LOGIN_USER, rq.LoginUser(username=pat_principal.user[0],
                                                           password=pat_principal.user[1], version="m",
                                                           context=None).encode())
    pat = rs.RawPersonalAccessToken.decode(await pat_owner.request(
        codes.CREATE_PERSONAL_ACCESS_TOKEN, rq.CreatePersonalAccessToken(name="matrix", expiry=0).encode())).token
    await pat_owner.close()
    result.expected = expected()
    try:
        async with aiohttp.ClientSession() as http:
            for transport in transports:
                result.per_transport[transport] = 0
                for principal in PRINCIPALS:
                    await _check(node, transport, principal, root, http, pat, result)
                if log is not None:
                    await log(f"{transport}: {result.per_transport[transport]} checks")
    finally:
        await root.conn.close()
    return result


async def _check(node: Any, transport: str, principal: Principal, root: Root, http: aiohttp.ClientSession,
                 pat: str, result: MatrixResult) -> None:
    commands = [c for c in COMMANDS if applicable(c, transport, principal)]
    denied = [c for c in commands if not result.expected[(c.name, principal.name)]]
    granted = sorted((c for c in commands if result.expected[(c.name, principal.name)]), key=lambda c: c.order)
    where = f"{transport} / {principal.name}"
    refusal = {41} if principal.logged_in else {40}
    session = await _session(node, transport, principal, http, pat)  # a login changes nothing
    try:
        if denied:
            before = await root.digest(node)
            for command in denied:
                status = await session.status(command)
                result.checks += 1
                result.per_transport[transport] += 1
                if status not in refusal:
                    result.escapes.append(f"{where}: {command.name} answered {status}, expected {sorted(refusal)}")
            changed = diff(before, await root.digest(node))
            if changed:
                result.escapes.append(f"{where}: denied commands changed the state: {changed}")
                await root.repair(users=True)
        for command in granted:
            status = await session.status(command)
            result.checks += 1
            result.per_transport[transport] += 1
            if status in (40, 41):
                result.false_denials.append(f"{where}: {command.name} answered {status}")
            elif command.name in DEPARTURES:
                result.departures_seen.add(command.name)
            if command.changes and status == 0:
                await root.repair(users=command.code in _USER_CODES)
    finally:
        await session.close()
    await asyncio.sleep(0)
