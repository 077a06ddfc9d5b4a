"""The client's engine: bootstrap, per-node links, routing, reconnect, re-login.

Concurrency model: asyncio, one event loop. Each node the client talks to has a
:class:`_Link` (a transport plus the lock that serialises reconnecting it);
requests on a link are pipelined by the transport. The *home* link is the node
bootstrapped from the pool; partition requests go to the partition's leader when
the routing table knows it, else home.

Failure rules, in one place (:meth:`ClientCore._invoke`):

* a transport that is already known dead is reconnected *before* the request is
  written, so nothing is ambiguous and every command goes ahead;
* a request that was written and then lost its connection is retried after the
  reconnect only if it is safe to repeat (reads, polls, offsets, logins, and
  sends, whose message ids make a repeat detectable); other commands raise
  :class:`ConnectionClosed` after the reconnect so the caller decides;
* a not-leader answer, or any error class marked ``retriable`` (a failover in
  progress: the request was not applied), drops the routing entry, refreshes the
  cluster view and retries with backoff for up to ``failover_timeout`` seconds;
* reconnecting walks the shuffled node pool with bounded exponential backoff and
  jitter (``sdk.pool``); after it the session is logged in again and the consumer
  groups it had joined are joined again (the node forgets a closed session's
  memberships).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from whippet.sdk.options import ClientOptions, NodeAddress
from whippet.sdk.pool import NodePool
from whippet.sdk.routing import RoutingTable
from whippet.sdk.transport import BinaryTransport, open_transport
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import (
    CannotEstablishConnection,
    ClientShutdown,
    ConnectionClosed,
    IggyError,
    NotConnected,
)
from whippet.wire.framing import encode_request
from whippet.wire.responses import ClusterMetadata, IdentityInfo

__all__ = ["ClientCore", "is_not_leader"]

log = logging.getLogger("whippet.sdk")

# Safe to repeat after a connection died with the request in flight.
_REPEATABLE = frozenset(
    {
        codes.PING, codes.GET_STATS, codes.GET_CLUSTER_METADATA, codes.GET_ME, codes.GET_CLIENT,
        codes.GET_CLIENTS, codes.GET_USER, codes.GET_USERS, codes.LOGIN_USER,
        codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN, codes.GET_PERSONAL_ACCESS_TOKENS,
        codes.POLL_MESSAGES, codes.SEND_MESSAGES, codes.FLUSH_UNSAVED_BUFFER,
        codes.GET_CONSUMER_OFFSET, codes.STORE_CONSUMER_OFFSET, codes.GET_STREAM, codes.GET_STREAMS,
        codes.GET_TOPIC, codes.GET_TOPICS, codes.GET_CONSUMER_GROUP, codes.GET_CONSUMER_GROUPS,
        codes.JOIN_CONSUMER_GROUP,
    }
)
_LOGIN_CODES = frozenset({codes.LOGIN_USER, codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN})


def is_not_leader(exc: IggyError) -> bool:
    """A "this node does not lead that partition" answer from the cluster edition.

    Matched by name (``not_leader``/``..._not_leader``) or a class attribute
    ``not_leader = True``, so the SDK needs no change when the code is defined.
    """
    return bool(getattr(type(exc), "not_leader", False)) or exc.name.endswith("not_leader")


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
        self.user_id: int | None = None
        self.reconnects = 0

    # --- lifecycle ---
    @property
    def connected_node(self) -> NodeAddress | None:
        return self._home.address if self._home is not None else None

    async def connect(self) -> None:
        """Bootstrap: try the pool until a node answers, log in, learn the cluster."""
        if self._closed:
            raise ClientShutdown("the client was closed")
        if self._home is not None and self._home.transport is not None and not self._home.transport.closed:
            return
        creds = self.options.credentials
        if self._login is None and creds.present:
            self._login = (
                rq.LoginWithPersonalAccessToken(token=creds.token)
                if creds.token
                else rq.LoginUser(username=creds.username, password=creds.password, version="whippet-sdk", context="")
            )
        link = await self._establish(None)
        self._home = link
        self._links[link.address] = link
        if self.options.heartbeat_interval > 0 and self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeat_loop())

    async def close(self) -> None:
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        links, self._links, self._home = list(self._links.values()), {}, None
        for link in links:
            if link.transport is not None:
                await link.transport.close()
                link.transport = None

    async def _heartbeat_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.options.heartbeat_interval)
            try:
                await self._invoke(codes.PING, b"")
            except IggyError as exc:
                log.debug("heartbeat failed: %s", exc)

    # --- establishing connections ---
    async def _establish(self, only: NodeAddress | None) -> _Link:
        """Open a transport to ``only`` or to the next node of the pool, with backoff."""
        last: BaseException | None = None
        attempts = 0
        while not self._closed:
            if only is not None:
                address = only
                entry = None
                if attempts:
                    await asyncio.sleep(self.options.backoff.delay(attempts - 1, self.pool._rng.random()))
                if self.options.backoff.retries is not None and attempts > self.options.backoff.retries:
                    break
            else:
                if self.pool.exhausted():
                    break
                await asyncio.sleep(self.pool.delay())
                entry = self.pool.next(time.monotonic())
                address = entry.address
            attempts += 1
            try:
                transport = await open_transport(
                    address, self.options.transport, self.options.tls, self.options.connect_timeout
                )
            except (TimeoutError, OSError, ConnectionClosed) as exc:
                last = exc
                if entry is not None:
                    self.pool.failed(entry)
                log.debug("cannot connect to %s: %s", address, exc)
                continue
            try:
                await self._prepare(transport, home=only is None)
            except ConnectionClosed as exc:
                last = exc
                await transport.close()
                if entry is not None:
                    self.pool.failed(entry)
                continue
            except BaseException:
                await transport.close()
                raise
            if entry is not None:
                self.pool.succeeded(entry)
            return _Link(address, transport)
        if self._closed:
            raise ClientShutdown("the client was closed")
        where = str(only) if only is not None else ", ".join(map(str, self.pool.addresses))
        raise CannotEstablishConnection(f"no node answered ({where}); last error: {last}")

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

    async def refresh_cluster(self) -> None:
        """Ask the home node for the cluster again (after a failover or a not-leader answer)."""
        link = await self._link_for(None)
        assert link.transport is not None
        await self._discover(link.transport)

    async def _link_for(self, target: NodeAddress | None) -> _Link:
        if self._closed:
            raise ClientShutdown("the client was closed")
        if self._home is None:
            await self.connect()
        assert self._home is not None
        if target is None or target == self._home.address:
            link = self._home
        else:
            link = self._links.get(target) or self._links.setdefault(target, _Link(target))
        if link.transport is None or link.transport.closed:
            await self._revive(link, link.generation)
        return link

    async def _revive(self, link: _Link, seen_generation: int) -> None:
        """Reconnect a dead link once, however many callers noticed it."""
        async with link.lock:
            if link.generation != seen_generation and link.transport is not None and not link.transport.closed:
                return  # someone else already reconnected it
            if link.transport is not None:
                await link.transport.close()
                link.transport = None
            if link is self._home:
                fresh = await self._establish(None)  # any node of the pool will do
                if fresh.address != link.address:
                    self._links.pop(link.address, None)
                    link.address = fresh.address
                    self._links[link.address] = link
            else:
                self.routing.forget_node(link.address)
                fresh = await self._establish(link.address)
            link.transport = fresh.transport
            link.generation += 1
            self.reconnects += 1
            log.info("reconnected to %s", link.address)

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
        while True:
            target = self.routing.leader_for(*partition) if partition is not None else None
            link = await self._link_for(target)
            transport, generation = link.transport, link.generation
            if transport is None:
                raise NotConnected(f"no connection to {link.address}")
            try:
                if self.options.request_timeout is None:
                    return await transport.request_raw(data)
                return await asyncio.wait_for(transport.request_raw(data), self.options.request_timeout)
            except ConnectionClosed:
                attempt += 1
                if attempt > retries or self._closed:
                    raise
                if code not in _REPEATABLE:
                    await self._revive(link, generation)
                    raise
                await self._revive(link, generation)
            except TimeoutError as exc:
                # The answer may still come: the stream position is unknown, so drop the link.
                await transport.close()
                raise ConnectionClosed(f"{link.address} did not answer within {self.options.request_timeout}s") from exc
            except IggyError as exc:
                # Not-leader and retriable answers were not applied: wait out the failover.
                if self._closed or not (is_not_leader(exc) or type(exc).retriable):
                    raise
                now = asyncio.get_running_loop().time()
                if failover_deadline is None:
                    failover_deadline = now + self.options.failover_timeout
                if now >= failover_deadline:
                    raise
                if partition is not None:
                    self.routing.forget(*partition)  # type: ignore[arg-type]
                await asyncio.sleep(min(1.0, 0.05 * 2 ** min(failovers, 5)))
                failovers += 1
                try:
                    await self.refresh_cluster()
                except ConnectionClosed:
                    pass  # the next attempt reconnects

    async def _call(self, request: Any, *, partition: tuple[object, object, int | None] | None = None) -> bytes:
        body = await self._invoke(request.CODE, request.encode(), partition=partition)
        if request.CODE in _LOGIN_CODES:
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
