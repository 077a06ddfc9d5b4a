"""The console's pages: one handler per URL, each gathering with ``views`` and rendering with ``html``.

GET pages need a login (the login page excepted) and only read. POSTs change
things, exist in ``read-write`` mode only, need the form token, and redirect back
(post/redirect/get) with a notice, or render the error the command gave.
"""

from __future__ import annotations

import datetime
import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from whippet.node.http.console import views
from whippet.node.http.console.html import Markup, esc, form, layout, link, table, url
from whippet.node.http.console.session import COOKIE, Viewer, login, viewer
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.batch import build_send_messages
from whippet.wire.errors import IggyError, InvalidFormat
from whippet.wire.primitives import Partitioning

if TYPE_CHECKING:
    from whippet.node.http.auth import TokenAuthority
    from whippet.node.server import Node

__all__ = ["Console", "add_console"]

Page = Callable[[Viewer, web.Request], Awaitable[web.StreamResponse]]
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_FORMATS = ("text", "json", "hex")
_MAX_BROWSE = 100


def _time(us: int) -> str:
    if not us:
        return "-"
    return datetime.datetime.fromtimestamp(us / 1e6, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _ids(values: list[int]) -> str:
    return ", ".join(map(str, values)) or "-"


def _int(request: web.Request, name: str, default: int | None = None, *, low: int = 0) -> int | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < low:
        raise InvalidFormat(f"{name} must be a whole number >= {low}, got {raw!r}")
    return int(raw)


class Console:
    """The pages of one node's console (``mode`` is ``read-only`` or ``read-write``)."""

    def __init__(self, node: Node, tokens: TokenAuthority, mode: str) -> None:
        self.node = node
        self.tokens = tokens
        self.mode = mode

    @property
    def writable(self) -> bool:
        return self.mode == "read-write"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/console", self._redirect_home),
            web.get("/console/login", self.login_page),
            web.post("/console/login", self.login_submit),
            web.post("/console/logout", self.logout),
            web.get("/console/", self._page(self.overview)),
            web.get("/console/streams", self._page(self.streams)),
            web.post("/console/streams", self._write(self.create_stream)),
            web.get("/console/streams/{stream}", self._page(self.stream)),
            web.post("/console/streams/{stream}/topics", self._write(self.create_topic)),
            web.get("/console/streams/{stream}/topics/{topic}", self._page(self.topic)),
            web.get("/console/streams/{stream}/topics/{topic}/messages", self._page(self.browse)),
            web.post("/console/streams/{stream}/topics/{topic}/messages", self._write(self.send_message)),
            web.get("/console/streams/{stream}/topics/{topic}/groups/{group}", self._page(self.group)),
            web.get("/console/users", self._page(self.users)),
        ]

    # --- plumbing --------------------------------------------------------------------------
    def _html(self, title: str, body: Markup, v: Viewer | None, request: web.Request, status: int = 200,
              error: str = "") -> web.Response:
        notice = request.query.get("notice", "") if request.method == "GET" else ""
        text = layout(title, body, user=v.username if v else None, mode=self.mode, notice=notice, error=error)
        return web.Response(text=text, content_type="text/html", status=status, headers=_HEADERS)

    async def _redirect_home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    def _page(self, page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            v = await viewer(self.node, self.tokens, request)
            if v is None:
                raise web.HTTPFound(url("login", next=request.path_qs))
            try:
                return await page(v, request)
            except IggyError as exc:
                status = 403 if exc.status in (40, 41) else 404 if exc.name.endswith("not_found") else 400
                return self._html("Cannot show this", Markup(""), v, request, status,
                                  error=f"{exc.reason} ({exc.name} {exc.status})")

        return handle

    def _write(self, action: Callable[[Viewer, web.Request, dict[str, str]], Awaitable[str]]
               ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            v = await viewer(self.node, self.tokens, request)
            if v is None:
                raise web.HTTPFound(url("login"))
            if not self.writable:
                return self._html("Read-only console", Markup(""), v, request, 403,
                                  error="this console is read-only (http_console = \"read-only\")")
            data = {k: str(val) for k, val in (await request.post()).items()}
            if data.get("csrf") != v.csrf:
                return self._html("Form expired", Markup(""), v, request, 403,
                                  error="the form token does not match this session; reload the page")
            back = request.path.rsplit("/", 1)[0] if request.path.endswith(("/topics", "/messages")) else request.path
            try:
                notice = await action(v, request, data)
            except IggyError as exc:
                return self._html("Not done", Markup(link("back", back)), v, request, 400,
                                  error=f"{exc.reason} ({exc.name} {exc.status})")
            raise web.HTTPSeeOther(f"{back}?{urllib.parse.urlencode({'notice': notice})}")

        return handle

    # --- login -----------------------------------------------------------------------------
    async def login_page(self, request: web.Request, error: str = "", status: int = 200) -> web.Response:
        nxt = request.query.get("next", "/console/")
        body = Markup(
            '<form method="post" action="/console/login" id="login">'
            f'<input type="hidden" name="next" value="{esc(nxt)}">'
            '<label>Username <input name="username" id="username" autocomplete="username"></label>'
            '<label>Password <input type="password" name="password" id="password" autocomplete="current-password">'
            '</label><button type="submit">Log in</button></form>'
            '<p class="muted">The same users and permissions as every other client of the cluster.</p>'
        )
        return self._html("Log in", body, None, request, status, error=error)

    async def login_submit(self, request: web.Request) -> web.StreamResponse:
        data = await request.post()
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        nxt = str(data.get("next", "/console/"))
        if not nxt.startswith("/console/") or "//" in nxt or "\\" in nxt:
            nxt = "/console/"  # only pages of the console: no open redirect
        try:
            if not username or len(username.encode()) > 255 or len(password.encode()) > 255:
                raise InvalidFormat("invalid username or password")
            token = await login(self.node, self.tokens, request, username, password)
        except IggyError:
            return await self.login_page(request, "wrong username or password, or the user is inactive", 401)
        response = web.HTTPSeeOther(nxt)
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/console",
                            secure=request.secure, max_age=self.node.config.http_jwt_expiry_s)
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        v = await viewer(self.node, self.tokens, request)
        if v is not None:
            self.tokens.revoke(v.claims)
        response = web.HTTPSeeOther("/console/login")
        response.del_cookie(COOKIE, path="/console")
        raise response

    # --- pages -----------------------------------------------------------------------------
    async def overview(self, v: Viewer, request: web.Request) -> web.Response:
        h = await views.cluster_health(v)
        problems = h.problems()
        no_leader = sum(1 for p in problems if p[3] == "no leader")
        under = sum(1 for p in problems if p[3].startswith("under-replicated"))
        cards = [("nodes up", f"{h.nodes_up}/{len(h.metadata.nodes)}", h.nodes_up == len(h.metadata.nodes)),
                 ("Raft leader", h.raft_leader or "none", h.raft_leader is not None),
                 ("partitions", h.partitions, True),
                 ("without a leader", no_leader, no_leader == 0),
                 ("under-replicated", under, under == 0)]
        body = Markup('<div class="cards" id="health">' + "".join(
            f'<div class="card"><b class="{"ok" if good else "bad"}">{esc(value)}</b>{esc(label)}</div>'
            for label, value, good in cards) + "</div>")
        body += Markup("<h2>Nodes</h2>") + table(
            ["Node", "Address", "TCP", "HTTP", "Role", "Status"],
            [(n.name, n.ip, n.tcp_port, n.http_port, views.ROLES.get(n.role, n.role), views.STATUSES.get(n.status, n.status))
             for n in h.metadata.nodes], id="nodes")
        body += Markup("<h2>Partitions that need attention</h2>") + table(
            ["Stream", "Topic", "Partition", "Problem"], problems, id="problems", empty="none: every partition has a "
            "leader and all its replicas in sync")
        return self._html(f"Cluster {h.metadata.name}", body, v, request)

    async def streams(self, v: Viewer, request: web.Request) -> web.Response:
        streams = rs.decode_streams(await v.run(rq.GetStreams()))
        body = table(["ID", "Name", "Topics", "Messages", "Size", "Created"],
                     [(s.id, link(s.name, url("streams", s.id)), s.topics_count, s.messages_count, _size(s.size_bytes),
                       _time(s.created_at)) for s in streams], id="streams")
        if self.writable:
            body += Markup("<h2>New stream</h2>") + form("/console/streams", v.csrf, [("name", "Name", "text")],
                                                       "Create stream", id="create-stream")
        return self._html("Streams", body, v, request)

    async def stream(self, v: Viewer, request: web.Request) -> web.Response:
        sid = request.match_info["stream"]
        raw = await v.run(rq.GetStream(stream_id=views.ident(sid)))
        if not raw:
            raise web.HTTPNotFound(text="no such stream")
        details = rs.StreamDetails.decode(raw)
        s = details.stream
        body = table(["ID", "Topic", "Partitions", "Replication factor", "Messages", "Size", "Created"],
                     [(t.id, link(t.name, url("streams", s.id, "topics", t.id)), t.partitions_count,
                       t.replication_factor, t.messages_count, _size(t.size_bytes), _time(t.created_at))
                      for t in details.topics], id="topics")
        if self.writable:
            body += Markup("<h2>New topic</h2>") + form(
                url("streams", s.id, "topics"), v.csrf,
                [("name", "Name", "text"), ("partitions", "Partitions", "number"),
                 ("replication_factor", "Replication factor (0: the cluster's default)", "number")],
                "Create topic", id="create-topic")
        return self._html(f"Stream {s.name}", body, v, request)

    async def topic(self, v: Viewer, request: web.Request) -> web.Response:
        sid, tid = request.match_info["stream"], request.match_info["topic"]
        states = await views.topic_states(v, sid, tid)
        rows = []
        for p in states.partitions:
            in_sync = _ids(p.in_sync) if p.source_name == "leader" else f"? ({p.source_name})"
            lag = max((p.log_end - f.log_end for f in p.followers), default=0)
            rows.append((p.partition_id, "-" if p.leader_node_id is None else p.leader_node_id, p.epoch,
                         _ids(p.replicas), in_sync, p.high_watermark, p.log_end, lag, _size(p.size_bytes),
                         p.messages_count,
                         link("browse", url("streams", states.stream_id, "topics", states.topic_id, "messages",
                                            partition=p.partition_id))))
        body = Markup("<h2>Partitions</h2>") + table(
            ["Partition", "Leader", "Epoch", "Replicas", "In sync", "High watermark", "Log end", "Follower lag",
             "Size", "Messages", ""], rows, id="partitions")
        lags = await views.group_lags(v, sid, tid)
        body += Markup("<h2>Consumer groups</h2>") + table(
            ["Group", "Members", "Lag (messages)"],
            [(link(g.group.group.name, url("streams", states.stream_id, "topics", states.topic_id, "groups",
                                            g.group.group.id)), len(g.group.members), g.total) for g in lags],
            id="groups")
        if self.writable:
            body += Markup("<h2>Send a message</h2>") + form(
                url("streams", states.stream_id, "topics", states.topic_id, "messages"), v.csrf,
                [("payload", "Payload", "textarea"), ("partition", "Partition (empty: balanced)", "number")],
                "Send", id="send-message")
        return self._html(f"Topic {states.topic_name} of {states.stream_name}", body, v, request)

    async def browse(self, v: Viewer, request: web.Request) -> web.Response:
        sid, tid = request.match_info["stream"], request.match_info["topic"]
        states = await views.topic_states(v, sid, tid)
        partition = _int(request, "partition", 0)
        offset = _int(request, "offset")
        at = request.query.get("timestamp", "").strip()
        timestamp_us = None
        if at:
            try:
                timestamp_us = int(datetime.datetime.fromisoformat(at).replace(
                    tzinfo=datetime.timezone.utc).timestamp() * 1e6) if not at.isdigit() else int(at)
            except ValueError:
                raise InvalidFormat(f"timestamp {at!r}: give an ISO time (UTC) or microseconds") from None
        count = min(_int(request, "count", 20, low=1) or 20, _MAX_BROWSE)
        fmt = request.query.get("format", "text")
        if fmt not in _FORMATS:
            fmt = "text"
        assert partition is not None
        head, polled = await views.messages(v, sid, tid, partition, offset=offset, timestamp_us=timestamp_us,
                                            count=count)
        here = ("streams", states.stream_id, "topics", states.topic_id, "messages")
        controls = Markup(
            f'<form method="get" action="{esc(url(*here))}" id="browse">'
            f'<label>Partition <select name="partition" id="browse-partition">' + "".join(
                f'<option value="{p.partition_id}"{" selected" if p.partition_id == partition else ""}>'
                f"{p.partition_id}</option>" for p in states.partitions) + "</select></label>"
            f'<label>From offset <input type="number" min="0" name="offset" value="{esc(offset if offset is not None else "")}"></label>'
            f'<label>or time (UTC) <input name="timestamp" placeholder="2025-01-31T12:00:00" value="{esc(at)}"></label>'
            f'<label>Count <input type="number" min="1" max="{_MAX_BROWSE}" name="count" value="{count}"></label>'
            '<label>Payload as <select name="format">' + "".join(
                f'<option{" selected" if f == fmt else ""}>{f}</option>' for f in _FORMATS) + "</select></label>"
            '<button type="submit">Show</button></form>')
        rows = [(m.offset, _time(m.timestamp), str(m.id), len(m.payload),
                 Markup(f"<pre>{esc(views.render_payload(m.payload, fmt))}</pre>"),
                 Markup("<br>".join(f"{esc(k)} = {esc(val)} <span class=\"muted\">({esc(kind)})</span>"
                                    for k, kind, val in views.headers_of(m))))
                for m in polled]
        body = controls + Markup(f'<p class="muted">Partition {esc(partition)}: high watermark '
                                 f"{esc(head.current_offset + 1 if polled or head.current_offset else 0)}"
                                 "; nothing is committed by browsing.</p>")
        body += table(["Offset", "Time (UTC)", "ID", "Size", "Payload", "Headers"], rows, id="messages",
                      empty="no messages here")
        if polled:
            body += link("next page", url(*here, partition=partition, offset=polled[-1].offset + 1, count=count,
                                          format=fmt), id="next-page")
        return self._html(f"Messages of {states.stream_name}/{states.topic_name}", body, v, request)

    async def group(self, v: Viewer, request: web.Request) -> web.Response:
        sid, tid, gid = request.match_info["stream"], request.match_info["topic"], request.match_info["group"]
        lags = await views.group_lags(v, sid, tid, only=gid)
        if not lags:
            raise web.HTTPNotFound(text="no such consumer group")
        g = lags[0]
        body = Markup(f'<div class="cards"><div class="card"><b id="total-lag">{esc(g.total)}</b>messages behind'
                      f'</div><div class="card"><b>{esc(len(g.group.members))}</b>members</div></div>')
        body += Markup("<h2>Members</h2>") + table(
            ["Member", "Partitions"], [(m.id, _ids(sorted(m.partitions))) for m in g.group.members], id="members",
            empty="no member connected")
        body += Markup("<h2>Lag per partition</h2>") + table(
            ["Partition", "Member", "Stored offset", "High watermark", "Lag"],
            [(p, views.as_text(member), views.as_text(stored), hw, lag) for p, member, stored, hw, lag in g.rows],
            id="lag")
        return self._html(f"Consumer group {g.group.group.name}", body, v, request)

    async def users(self, v: Viewer, request: web.Request) -> web.Response:
        users = rs.decode_users(await v.run(rq.GetUsers()))
        status = {1: "active", 2: "inactive"}
        body = table(["ID", "Username", "Status", "Created"],
                     [(u.id, u.username, status.get(u.status, u.status), _time(u.created_at)) for u in users],
                     id="users")
        tokens = rs.decode_personal_access_tokens(await v.run(rq.GetPersonalAccessTokens()))
        body += Markup(f"<h2>Personal access tokens of {esc(v.username)}</h2>") + table(
            ["Name", "Expires"], [(t.name, _time(t.expiry_at) if t.expiry_at else "never") for t in tokens],
            id="tokens")
        return self._html("Users", body, v, request)

    # --- writes (read-write mode) ----------------------------------------------------------
    async def create_stream(self, v: Viewer, request: web.Request, data: dict[str, str]) -> str:
        s = rs.StreamInfo.decode(await v.run(rq.CreateStream(name=data.get("name", "").strip())))
        return f"stream {s.name} created"

    async def create_topic(self, v: Viewer, request: web.Request, data: dict[str, str]) -> str:
        def number(name: str, default: int) -> int:
            raw = data.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit():
                raise InvalidFormat(f"{name} must be a whole number")
            return int(raw)

        t = rs.TopicDetails.decode(await v.run(rq.CreateTopic(
            stream_id=views.ident(request.match_info["stream"]), partitions_count=number("partitions", 1),
            compression=1, message_expiry=0, max_topic_size=0,
            replication_factor=number("replication_factor", 0), name=data.get("name", "").strip())))
        return f"topic {t.topic.name} created"

    async def send_message(self, v: Viewer, request: web.Request, data: dict[str, str]) -> str:
        payload = data.get("payload", "").encode()
        raw_partition = data.get("partition", "").strip()
        if raw_partition and not raw_partition.isdigit():
            raise InvalidFormat("partition must be a whole number")
        partitioning = Partitioning.partition_id(int(raw_partition)) if raw_partition else Partitioning.balanced()
        message_id = int.from_bytes(os.urandom(16), "little") | 1  # a retry would be recognised by deduplication
        body = build_send_messages(views.ident(request.match_info["stream"]), views.ident(request.match_info["topic"]),
                                   partitioning, [(message_id, payload, b"", int(time.time() * 1e6))])
        appended = rs.Appended.decode(await v.run_payload(codes.SEND_MESSAGES_APPENDED, body))
        return f"message stored at offset {appended.first_offset} of partition {appended.partition_id}"


def add_console(app: web.Application, node: Node, tokens: TokenAuthority) -> None:
    """Serve the console on ``app`` unless ``http_console`` is off."""
    mode = node.config.http_console
    if mode == "off":
        return
    app.router.add_routes(Console(node, tokens, mode).routes())

