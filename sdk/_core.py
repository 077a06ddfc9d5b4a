"""The client's engine: bootstrap, per-node links, routing, reconnect, re-login.

Concurrency model: asyncio, one event loop. Each node the client talks to has a
:class:`_Link` (a transport plus the lock that serialises reconnecting it);
requests on a link are pipelined by the transport. The *home* link is the node
bootstrapped from the pool; partition requests go to the partition's leader when
the routing table knows it, else home (which forwards them).

Routing is learned from the home node: cluster metadata and partition leaders
(whippet's GET_PARTITION_LEADERS) after every (re)connect, every
``routing_refresh_interval`` seconds, after a not-leader answer, and for a topic
the table has not seen yet just before its first partition request. A node that
answers that command with InvalidCommand (Iggy 0.8) gets everything, as before.
Requests of a consumer *group* always go home: the group membership belongs to
the home session.

Failure rules, in one place (:meth:`ClientCore._invoke`):

* a transport that is already known dead is reconnected *before* the request is
  written, so nothing is ambiguous and every command goes ahead;
* a partition leader's link that fails to open, or dies under a request, is
  dropped and its address skipped for a moment (``routing.mark_down``); requests
  that are safe to repeat then go home at once, so a dead leader never holds the
  client up longer than one failed connect;
* a home request that was written and then lost its connection is retried after the
  reconnect only if it is safe to repeat (reads, polls, offsets, logins, and
  sends, whose message ids make a repeat detectable); other commands raise
  :class:`ConnectionClosed` after the reconnect so the caller decides;
* an answer whose error class is marked ``retriable`` (not leader, or a failover in
  progress: the request was not applied), drops the routing entry, refreshes the
  cluster view and retries with backoff for up to ``failover_timeout`` seconds, never
  at a node that already refused this request while another is usable
  (:meth:`ClientCore._elsewhere`: a leader cut off from the cluster keeps naming itself);
* reconnecting walks the shuffled node pool with bounded exponential backoff and
  jitter (``sdk.pool``); after it the session is logged in again and the consumer
  groups it had joined are joined again (the node forgets a closed session's
  memberships). A lost home connection is reconnected at once in the background,
  and the application hears of both (``sdk.state``);
* the first ``connect()`` gives up after ``connect_timeout`` seconds in all (each
  attempt, login included, is bounded by what is left) with one error naming every
  node tried and why it failed; reconnecting later keeps to the backoff budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from whippet.sdk import errors as se
from whippet.sdk.lanes import PartitionLanes
from whippet.sdk.messages import as_identifier
from whippet.sdk.options import ClientOptions, NodeAddress
from whippet.sdk.pool import NodePool
from whippet.sdk.routing import RoutingTable
from whippet.sdk.state import ConnectionState, StateCallback, StateNotifier
from whippet.sdk.transport import BinaryTransport, open_transport
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import ConnectionClosed, IggyError, InvalidCommand
from whippet.wire.framing import encode_request
from whippet.wire.responses import ClusterMetadata, IdentityInfo, PartitionLeaders
from whippet.wire.table import COMMAND_TABLE

__all__ = ["ClientCore"]

log = logging.getLogger("whippet.sdk")

# How long a leader address that failed is skipped (its partitions go home meanwhile).
_DOWN_S = 2.0


def _repeatable(code: int) -> bool:
    """Safe to send again after a connection died with it in flight (``wire.table``)."""
    spec = COMMAND_TABLE.get(code)
    return spec is not None and spec.repeatable


def _describe(exc: BaseException) -> str:
    """A connection failure in a few words ("connection refused", "no connection within 5 s")."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, IggyError):
        return exc.reason
    return str(exc) or type(exc).__name__


def _is_login(code: int) -> bool:
    spec = COMMAND_TABLE.get(code)
    return spec is not None and spec.login


@dataclass(eq=False)
class _Link:
    address: NodeAddress
    transport: BinaryTransport | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    generation: int = 0


class ClientCore:
    """Connection management under the command methods of :class:`whippet.sdk.Client`."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self.pool = NodePool(options.nodes, options.backoff)
        self.routing = RoutingTable(options.transport)
        self._home: _Link | None = None
        self._links: dict[NodeAddress, _Link] = {}
        self._login: Any = None  # the last successful login request, replayed on reconnect
        self._joined: set[tuple[Any, Any, Any]] = set()
        self._closed = False
        self._heartbeat: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._lanes = PartitionLanes()
        self._learning: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.user_id: int | None = None
        self.reconnects = 0
        #: whether the node answers SEND_MESSAGES_APPENDED (9004); None until the first send
        self.appended_offered: bool | None = None
        self.state = StateNotifier()
        self._reviving: asyncio.Task[None] | None = None
        # Callers that connect at once (a producer's partition loops on their first send)
        # share one bootstrap: each would otherwise open a home connection, and every one
        # but the last would be left open with nobody reading it.
        self._connecting = asyncio.Lock()

    # --- lifecycle ---
    @property
    def connected_node(self) -> NodeAddress | None:
        return self._home.address if self._home is not None else None

    def on_connection_state(self, callback: StateCallback) -> None:
        """Call ``callback(ConnectionEvent)`` on every connection change (see ``sdk.state``)."""
        self.state.add(callback)

    async def connect(self) -> None:
        """Bootstrap: try the pool until a node answers, log in, learn the cluster.

        Raises :class:`CannotEstablishConnection` after ``connect_timeout`` seconds in all,
        naming each node tried and its last error."""
        if self._closed:
            raise se.ClientShutdown("the client was closed")
        async with self._connecting:
            await self._connect_once()

    async def _connect_once(self) -> None:
        if self._closed:
            raise se.ClientShutdown("the client was closed")
        if self._home is not None and self._home.transport is not None and not self._home.transport.closed:
            return
        creds = self.options.credentials
        if self._login is None and creds.present:
            self._login = (
                rq.LoginWithPersonalAccessToken(token=creds.token)
                if creds.token
                else rq.LoginUser(username=creds.username, password=creds.password, version="whippet-sdk", context="")
            )
        loop = asyncio.get_running_loop()
        link = await self._establish(deadline=loop.time() + self.options.connect_timeout)
        self._home = link
        self._links[link.address] = link
        self._watch_home(link)
        self.state.emit(ConnectionState.CONNECTED, link.address)
        if self.options.heartbeat_interval > 0 and self._heartbeat is None:
            self._heartbeat = loop.create_task(self._heartbeat_loop())
        if self.options.discover and self.options.routing_refresh_interval > 0 and self._refresher is None:
            self._refresher = loop.create_task(self._refresh_loop())

    async def close(self) -> None:
        was_open = not self._closed and self._home is not None
        self._closed = True
        for task in (self._heartbeat, self._refresher, self._reviving):
            if task is not None:
                task.cancel()
        self._heartbeat = self._refresher = self._reviving = None
        home = self._home.address if self._home is not None else None
        links, self._links, self._home = list(self._links.values()), {}, None
        for link in links:
            if link.transport is not None:
                await link.transport.close()
                link.transport = None
        if was_open:
            self.state.emit(ConnectionState.CLOSED, home)

    def _watch_home(self, link: _Link) -> None:
        """Hear at once when the home connection dies (transports that can tell)."""
        transport = link.transport
        if transport is not None and hasattr(transport, "on_lost"):
            transport.on_lost = lambda reason: self._home_lost(link, transport, reason)

    def _home_lost(self, link: _Link, transport: BinaryTransport, reason: str) -> None:
        if self._closed or self._home is not link or link.transport is not transport:
            return  # closed on purpose, or already replaced
        self.state.emit(ConnectionState.DISCONNECTED, link.address, reason)
        if self._reviving is None or self._reviving.done():
            self._reviving = asyncio.get_running_loop().create_task(self._revive_quietly(link, link.generation))

    async def _revive_quietly(self, link: _Link, generation: int) -> None:
        try:
            await self._revive(link, generation)
        except IggyError as exc:  # the next request tries again and raises
            log.warning("reconnecting failed: %s", exc)

    async def _heartbeat_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.options.heartbeat_interval)
            try:
                await self._invoke(codes.PING, b"")
            except IggyError as exc:
                log.debug("heartbeat failed: %s", exc)

    async def _refresh_loop(self) -> None:
        """Re-learn the cluster now and then, so leader moves nobody tripped over are seen."""
        while not self._closed:
            await asyncio.sleep(self.options.routing_refresh_interval)
            try:
                await self.refresh_cluster()
            except IggyError as exc:
                log.debug("routing refresh failed: %s", exc)

    # --- establishing connections ---
    async def _dial(
        self, address: NodeAddress, *, home: bool, timeout: float | None = None
    ) -> BaseException | BinaryTransport:
        """One attempt to open and prepare (log in, ...) a transport, within ``timeout``
        (``connect_timeout`` by default); a connection failure is returned, not raised."""
        limit = self.options.connect_timeout if timeout is None else timeout
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can drop a connection that
        # opened in the same tick as a cancellation, leaving its socket and reader task behind.
        try:
            async with asyncio.timeout(limit):
                transport = await open_transport(address, self.options.transport, self.options.tls, limit)
        except TimeoutError:
            return TimeoutError(f"no connection within {limit:g} s")
        except (OSError, ConnectionClosed) as exc:
            log.debug("cannot connect to %s: %s", address, exc)
            return exc
        try:
            async with asyncio.timeout(limit):
                await self._prepare(transport, home=home)
        except TimeoutError:
            await transport.close()
            return TimeoutError(f"connected, but no answer to the login within {limit:g} s")
        except ConnectionClosed as exc:
            await transport.close()
            return exc
        except BaseException:
            await transport.close()
            raise
        if self._closed:
            # close() ran while this connection opened: it no longer knows of it, so nobody
            # would close it (its reader task was destroyed pending at interpreter exit).
            await transport.close()
            return se.ClientShutdown("the client was closed while connecting")
        return transport

    async def _establish(self, deadline: float | None = None) -> _Link:
        """Open a transport to the next node of the pool that answers, with backoff; until
        ``deadline`` (loop time) when given, else until the backoff's retries are used up."""
        loop = asyncio.get_running_loop()
        errors: dict[NodeAddress, BaseException] = {}
        while not self._closed and not self.pool.exhausted():
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                break
            await asyncio.sleep(self.pool.delay() if left is None else min(self.pool.delay(), left))
            if deadline is not None and deadline - loop.time() <= 0:
                break
            entry = self.pool.next(time.monotonic())
            timeout = None if deadline is None else min(self.options.connect_timeout, deadline - loop.time())
            result = await self._dial(entry.address, home=True, timeout=timeout)
            if isinstance(result, BaseException):
                errors[entry.address] = result
                self.pool.failed(entry)
                continue
            self.pool.succeeded(entry)
            return _Link(entry.address, result)
        if self._closed:
            raise se.ClientShutdown("the client was closed")
        tried = "; ".join(f"{a}: {_describe(e)}" for a, e in errors.items()) or "no attempt"
        within = f" within {self.options.connect_timeout:g} s (connect_timeout)" if deadline is not None else ""
        raise se.CannotEstablishConnection(f"cannot connect to any node{within}: {tried}")

    async def _prepare(self, transport: BinaryTransport, *, home: bool) -> None:
        """Log in, learn the cluster, re-join groups: the session state a new connection needs.

        Group memberships belong to the home session only; a link to a partition
        leader just logs in.
        """
        if self._login is not None:
            body = await transport.request(self._login.CODE, self._login.encode())
            self.user_id = IdentityInfo.decode(body).user_id if body else None
        if not home:
            return
        if self.options.discover:
            await self._discover(transport)
        for stream, topic, group in list(self._joined):
            try:
                await transport.request(
                    codes.JOIN_CONSUMER_GROUP,
                    rq.JoinConsumerGroup(stream_id=stream, topic_id=topic, group_id=group).encode(),
                )
            except ConnectionClosed:
                raise
            except IggyError as exc:  # the group may be gone: stop re-joining it
                log.warning("cannot re-join group %s/%s/%s: %s", stream, topic, group, exc)
                self._joined.discard((stream, topic, group))

    async def _discover(self, transport: BinaryTransport) -> None:
        try:
            body = await transport.request(codes.GET_CLUSTER_METADATA, b"")
            metadata = ClusterMetadata.decode(body)
        except ConnectionClosed:
            raise
        except IggyError as exc:  # a node without cluster metadata is still usable
            log.debug("cluster metadata unavailable: %s", exc)
            return
        self.routing.update(metadata)
        self.pool.merge(self.routing.addresses())
        await self._learn_leaders(transport)

    async def _learn_leaders(self, transport: BinaryTransport, stream: object = None, topic: object = None) -> None:
        """Ask for partition leaders (every topic, or one); a node without the command routes nothing."""
        one = stream is not None and topic is not None
        request = rq.GetPartitionLeaders(
            stream_id=as_identifier(stream) if one else None,  # type: ignore[arg-type]
            topic_id=as_identifier(topic) if one else None,  # type: ignore[arg-type]
        )
        try:
            body = await transport.request(request.CODE, request.encode())
        except ConnectionClosed:
            raise
        except InvalidCommand:
            self.routing.leaders_not_offered()
            return
        except IggyError as exc:  # not logged in, no such topic, not allowed: no routes, the request will say
            log.debug("partition leaders unavailable: %s", exc)
            return
        try:
            answer = PartitionLeaders.decode(body)
        except IggyError as exc:
            log.warning("unreadable partition leaders answer: %s", exc)
            return
        self.routing.set_partition_leaders(answer, complete=not one)

    async def refresh_cluster(self) -> None:
        """Ask the home node for the cluster again (after a failover or a not-leader answer)."""
        link = await self._link_for(None)
        assert link.transport is not None
        await self._discover(link.transport)

    async def _learn_topic(self, stream: object, topic: object) -> None:
        """Routes for a topic first seen now (e.g. created after connecting); failures are ignored."""
        link = await self._link_for(None)
        if link.transport is not None:
            try:
                await self._learn_leaders(link.transport, stream, topic)
            except ConnectionClosed:
                pass  # the request itself reconnects

    async def _link_for(self, target: NodeAddress | None) -> _Link:
        if self._closed:
            raise se.ClientShutdown("the client was closed")
        if self._home is None:
            await self.connect()
        assert self._home is not None
        if target is not None and target != self._home.address:
            leader = await self._leader_link(target)
            if leader is not None:
                return leader
        link = self._home
        if link.transport is None or link.transport.closed:
            await self._revive(link, link.generation)
        return link

    async def _leader_link(self, address: NodeAddress) -> _Link | None:
        """The link to a partition leader, opened on first use with one attempt; None when
        it cannot be opened now (the address is then skipped for a moment)."""
        link = self._links.get(address) or self._links.setdefault(address, _Link(address))
        if link.transport is not None and not link.transport.closed:
            return link
        async with link.lock:
            if link.transport is not None and not link.transport.closed:
                return link  # another caller opened it meanwhile
            result = await self._dial(address, home=False)
            if isinstance(result, BaseException):
                await self._drop_leader(link)
                return None
            link.transport = result
            link.generation += 1
            return link

    async def _drop_leader(self, link: _Link) -> None:
        """Forget a partition leader's link and skip its address for a moment."""
        if self._links.get(link.address) is link:
            del self._links[link.address]
        self.routing.mark_down(link.address, time.monotonic() + _DOWN_S)
        transport, link.transport = link.transport, None
        if transport is not None:
            await transport.close()

    async def _revive(self, link: _Link, seen_generation: int) -> None:
        """Reconnect the dead home link once, however many callers noticed it."""
        async with link.lock:
            if link.generation != seen_generation and link.transport is not None and not link.transport.closed:
                return  # someone else already reconnected it
            if link.transport is not None:
                stale, link.transport = link.transport, None
                await stale.close()
            fresh = await self._establish()  # any node of the pool will do
            if fresh.address != link.address:
                self._links.pop(link.address, None)
                link.address = fresh.address
                self._links[link.address] = link
            link.transport = fresh.transport
            link.generation += 1
            self.reconnects += 1
            log.info("reconnected to %s", link.address)
            if link is self._home:
                self._watch_home(link)
                self.state.emit(ConnectionState.RECONNECTED, link.address)

    # --- requests ---
    async def _invoke(
        self,
        code: int,
        payload: bytes | bytearray | memoryview,
        *,
        partition: tuple[object, object, int | None] | None = None,
        frame: bytes | None = None,
    ) -> bytes:
        """Send one command to the right node; see the module docstring for the retry rules."""
        data = frame if frame is not None else encode_request(code, bytes(payload))
        retries = self.options.request_retries
        attempt = failovers = 0
        failover_deadline: float | None = None
        lane: tuple[str, str, int] | None = None
        refused: set[NodeAddress] = set()  # nodes that answered not-leader for this request
        if partition is not None and partition[2] is not None:
            lane = (str(partition[0]), str(partition[1]), partition[2])
            if self.options.discover:
                await self._await_routes(lane[0], lane[1])
        while True:
            target = self.routing.leader_for(*partition) if partition is not None else None
            if refused:
                target = self._elsewhere(target, refused)
            link = await self._link_for(target)
            generation = link.generation
            try:
                return await self._exchange(link, data, lane)
            except ConnectionClosed:
                attempt += 1
                if attempt > retries or self._closed:
                    raise
                if link is not self._home:  # a partition leader died: go home, which forwards
                    await self._drop_leader(link)
                    if not _repeatable(code):
                        raise
                    continue
                if not _repeatable(code):
                    await self._revive(link, generation)
                    raise
                await self._revive(link, generation)
            except TimeoutError as exc:
                # The answer may still come: the stream position is unknown, so drop the link.
                if link.transport is not None and link.generation == generation:
                    await link.transport.close()
                raise se.ConnectionClosed(f"{link.address} did not answer within {self.options.request_timeout}s") from exc
            except IggyError as exc:
                # Not-leader and retriable answers were not applied: wait out the failover.
                if self._closed or not exc.retriable:
                    raise
                now = asyncio.get_running_loop().time()
                if failover_deadline is None:
                    failover_deadline = now + self.options.failover_timeout
                if now >= failover_deadline:
                    raise
                if partition is not None:
                    self.routing.forget(*partition)  # type: ignore[arg-type]
                    refused.add(link.address)
                await asyncio.sleep(min(0.5, 0.05 * 2 ** min(failovers, 4)))
                failovers += 1
                try:
                    await self.refresh_cluster()
                except ConnectionClosed:
                    pass  # the next attempt reconnects

    def _elsewhere(self, target: NodeAddress | None, refused: set[NodeAddress]) -> NodeAddress | None:
        """Where a partition request goes once the nodes in ``refused`` answered not-leader for it.

        A leader cut off from the rest of the cluster refuses (it lost its quorum) but,
        hearing nothing, still names itself leader; when it is also the home node, asking
        it again (or its routing) keeps the request there until the partition heals. Any
        other node forwards and, on the majority side, waits for the new leader and runs
        the request as soon as there is one. So the request goes to the home node if that
        did not refuse, else to the next usable node that did not, else to any known node
        that did not (the refusing node may call the others down because it is the one cut
        off); once every node has refused, the round starts again (``refused`` keeps only
        the newest).
        """
        home = self._home.address if self._home is not None else None
        chosen = target if target is not None else home
        if chosen is None or chosen not in refused:
            return target
        if home is not None and home not in refused:
            return None
        others = [a for a in self.routing.usable_addresses(time.monotonic()) if a not in refused]
        # A node cut off from the cluster reports every other node as down: its view of
        # the others is the one to doubt, so any known node will do before asking it again.
        others = others or [a for a in [*self.routing.addresses(), *self.pool.addresses] if a not in refused]
        if others:
            return others[0]
        newest = chosen
        refused.clear()
        refused.add(newest)
        return target

    async def _exchange(self, link: _Link, data: bytes, lane: tuple[str, str, int] | None) -> bytes:
        """One request on one link, in its partition's lane (see ``sdk.lanes``)."""
        if lane is not None:
            await self._lanes.enter(lane, link)
        try:
            transport = link.transport
            if transport is None:  # dropped while this request waited in its lane
                raise se.ConnectionClosed(f"the link to {link.address} was dropped")
            if self.options.request_timeout is None:
                return await transport.request_raw(data)
            return await asyncio.wait_for(transport.request_raw(data), self.options.request_timeout)
        finally:
            if lane is not None:
                self._lanes.leave(lane)

    async def _await_routes(self, stream: str, topic: str) -> None:
        """Learn a topic's leaders before its first partition request. Requests that arrive
        meanwhile wait for the same answer, so none of them overtakes the first."""
        key = (stream, topic)
        pending = self._learning.get(key)
        if pending is None:
            if not self.routing.should_ask(stream, topic):
                return
            pending = self._learning[key] = asyncio.ensure_future(self._learn_topic(stream, topic))
            pending.add_done_callback(lambda _: self._learning.pop(key, None))
        await asyncio.shield(pending)

    async def _call(self, request: Any, *, partition: tuple[object, object, int | None] | None = None) -> bytes:
        body = await self._invoke(request.CODE, request.encode(), partition=partition)
        if _is_login(request.CODE):
            self._login = request
        elif request.CODE == codes.LOGOUT_USER:
            self._login = None
        return body

    def _remember_join(self, stream: Any, topic: Any, group: Any, joined: bool) -> None:
        key = (stream, topic, group)
        if joined:
            self._joined.add(key)
        else:
            self._joined.discard(key)
