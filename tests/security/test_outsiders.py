"""Outsider probes: what someone who reaches a node's ports, but is not a member, can do.

Nothing, and every attempt is logged:

- every port of a single node and of a cluster member gets the pickled frame that made
  pysyncobj create a file (the issue's exploit) and random bytes: no marker file, no state
  change, every node still serves;
- the Raft port gets a replay of frames a member really sent (recorded by a proxy between
  the members while a stream was created, then the stream deleted): the stream stays deleted;
- the replication (gRPC) port gets a call without a certificate, with a certificate from
  another CA, with a valid certificate of another cluster, with a member certificate but no
  proof of the secret, and with a proof that does not match the certificate: each refused,
  nothing changed, and the node's log says so.

The cluster runs every member's Raft and replication listener on its own loopback address
(``cluster_host`` 127.0.0.2-4) behind recording proxies on the addresses the member list
names, so all traffic between members passes where the test can record it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.security.outsider import (
    RecordingProxy,
    listening_ports,
    pickle_frame,
    send_to_every_port,
)
from tests.security.state import diff, state_digest
from tests.support.client import TestClient
from whippet.node.certs import make_certs, make_cluster_certs
from whippet.procs import Cluster, NodeProcess
from whippet.replication._pb import replication_pb2 as pb
from whippet.replication._pb import replication_pb2_grpc as pb_grpc
from whippet.replication.peer_identity import AUTH_HEADER, cluster_dns_name, make_proof
from whippet.wire import requests as rq
from whippet.wire.primitives import Identifier

pytestmark = pytest.mark.asyncio

SECRET = "test-cluster-secret"  # what procs.Cluster gives its members
EVIL = rq.CreateStream(name="evil").encode()


class _ProxyLoop:
    """Recording proxies on an event loop of their own (the cluster starts while they run)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.proxies: list[RecordingProxy] = []

    def add(self, listen: tuple[str, int], target: tuple[str, int]) -> RecordingProxy:
        proxy = asyncio.run_coroutine_threadsafe(RecordingProxy(listen, target).start(), self.loop).result(10)
        self.proxies.append(proxy)
        return proxy

    def close(self) -> None:
        for proxy in self.proxies:
            asyncio.run_coroutine_threadsafe(proxy.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


class ProxiedCluster:
    def __init__(self, root: Path) -> None:
        self.cluster = Cluster(root)
        self.proxies = _ProxyLoop()
        self.raft: dict[int, RecordingProxy] = {}
        self.listen_host: dict[int, str] = {}
        for i, node in self.cluster.nodes.items():
            host = f"127.0.0.{i + 1}"
            self.listen_host[i] = host
            node.extra_env["WHIPPET_CLUSTER_HOST"] = host
            self.raft[i] = self.proxies.add(("127.0.0.1", node.raft_port), (host, node.raft_port))
            self.proxies.add(("127.0.0.1", node.raft_port + 1), (host, node.raft_port + 1))

    def replication_address(self, i: int) -> str:
        return f"{self.listen_host[i]}:{self.cluster[i].raft_port + 1}"

    def log(self, i: int) -> str:
        path = self.cluster[i].log_path
        return path.read_text(errors="replace") if path is not None else ""


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedCluster]:
    c = ProxiedCluster(tmp_path_factory.mktemp("outsiders"))
    try:
        c.cluster.start()
        yield c
    finally:
        c.cluster.stop()
        c.proxies.close()


def _alive(nodes: list[NodeProcess]) -> None:
    for n in nodes:
        assert n.proc is not None and n.proc.poll() is None, f"node died:\n{n.read_log()}"


async def _ping(node: NodeProcess) -> None:
    client = await TestClient.connect(node.address)
    await asyncio.wait_for(client.call(rq.Ping()), 2)
    await client.close()


# --- every port -------------------------------------------------------------------------------
async def test_a_pickled_frame_to_every_port_of_a_single_node_runs_nothing(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = await TestClient.connect(node.address)
    await c.create_stream("kept")
    await c.close()
    before = await state_digest(node.address, node.http_port)
    assert node.proc is not None
    ports = listening_ports(node.proc.pid)
    # A one-node cluster opens the client ports and nothing else: no Raft, no replication port.
    assert ports["tcp"] == {node.tcp_port, node.http_port, node.ws_port}, ports
    assert ports["udp"] == {node.quic_port}, ports
    marker = tmp_path / "pwned-single"
    await send_to_every_port(ports, pickle_frame(marker))
    await send_to_every_port(ports, os.urandom(4096))
    await asyncio.sleep(0.5)
    assert not marker.exists(), "a pickled frame was executed"
    _alive([node])
    await _ping(node)
    assert diff(before, await state_digest(node.address, node.http_port)) == []


async def test_a_pickled_frame_to_every_port_of_a_cluster_member_runs_nothing(proxied: ProxiedCluster,
                                                                            tmp_path: Path) -> None:
    cluster = proxied.cluster
    member = cluster[1]
    before = await state_digest(member.address, member.http_port)
    assert member.proc is not None
    ports = listening_ports(member.proc.pid)
    assert {member.tcp_port, member.http_port, member.ws_port, member.raft_port, member.raft_port + 1} == ports["tcp"]
    for i, node in cluster.nodes.items():  # every member, on every port, on its real listeners
        assert node.proc is not None
        node_ports = listening_ports(node.proc.pid)
        marker = tmp_path / f"pwned-{i}"
        await send_to_every_port(node_ports, pickle_frame(marker), host="127.0.0.1")
        cluster_ports = {"tcp": {node.raft_port, node.raft_port + 1}, "udp": set()}
        await send_to_every_port(cluster_ports, pickle_frame(marker), host=proxied.listen_host[i])
        await send_to_every_port(cluster_ports, os.urandom(4096), host=proxied.listen_host[i])
        await asyncio.sleep(0.5)
        assert not marker.exists(), f"a pickled frame was executed by node {i}"
    _alive(list(cluster.nodes.values()))
    for node in cluster.nodes.values():
        await _ping(node)
    assert diff(before, await state_digest(member.address, member.http_port)) == []


# --- the Raft port ------------------------------------------------------------------------------
async def test_a_replayed_raft_stream_changes_nothing(proxied: ProxiedCluster) -> None:
    cluster = proxied.cluster
    c = await TestClient.connect(cluster[2].address)
    recorded_from = {i: sum(len(r) for r in p.recorded) for i, p in proxied.raft.items()}
    await c.create_stream("replayed")  # its Raft entries cross the proxies now...
    await asyncio.sleep(1.0)
    await c.call(rq.DeleteStream(stream_id=Identifier("replayed")))  # ...and it is gone again
    await c.close()
    await asyncio.sleep(0.5)
    before = await state_digest(cluster[1].address, cluster[1].http_port)
    replays = 0
    for i, proxy in proxied.raft.items():
        for stream in list(proxy.recorded):
            data = bytes(stream)
            if len(data) <= recorded_from[i] and not data:
                continue
            reader, writer = await asyncio.open_connection(proxied.listen_host[i], cluster[i].raft_port)
            writer.write(data)
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(65536), 0.5)
            except (asyncio.TimeoutError, OSError):
                pass
            writer.close()
            replays += 1
    assert replays >= 2, "the proxies recorded no Raft traffic to replay"
    await asyncio.sleep(1.5)  # time for anything the replays would have set off
    _alive(list(cluster.nodes.values()))
    for i in cluster.nodes:
        now = await state_digest(cluster[i].address, cluster[i].http_port)
        assert not any(k.startswith("stream") and "replayed" in repr(v) for k, v in now.items()), f"node {i}"
    assert diff(before, await state_digest(cluster[1].address, cluster[1].http_port)) == []
    logged = [line for line in proxied.log(1).splitlines()
              if "raft" in line.lower() and any(w in line.lower() for w in ("refus", "reject", "replay", "invalid"))]
    assert logged, "node 1 did not log the replayed Raft frames"


# --- the replication (gRPC) port -------------------------------------------------------------
def _channel(address: str, ca: bytes | None, key: bytes | None = None, chain: bytes | None = None,
             name: str = cluster_dns_name("whippet")) -> grpc.aio.Channel:
    if ca is None:
        return grpc.aio.insecure_channel(address)
    credentials = grpc.ssl_channel_credentials(ca, key, chain)
    return grpc.aio.secure_channel(address, credentials, options=[("grpc.ssl_target_name_override", name)])


async def _forward(channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.StatusCode:
    stub = pb_grpc.ReplicationStub(channel)
    try:
        await stub.Forward(pb.ForwardRequest(code=rq.CreateStream.CODE, payload=EVIL, has_user=True, user_id=0,
                                             origin_node_id=2), metadata=metadata, timeout=3)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    finally:
        await channel.close()
    return grpc.StatusCode.OK


async def test_grpc_calls_from_outsiders_are_refused_logged_and_change_nothing(proxied: ProxiedCluster,
                                                                              tmp_path: Path) -> None:
    cluster = proxied.cluster
    target = proxied.replication_address(1)
    certs = cluster.root / "certs"
    ca = (certs / "cluster" / "ca.pem").read_bytes()
    member_key, member_chain = ((certs / "cluster" / f"node-2.{ext}").read_bytes() for ext in ("key", "pem"))
    other_ca = make_cluster_certs(tmp_path / "other-ca", "whippet", [2])  # right names, wrong CA
    other_cluster = make_cluster_certs(certs, "elsewhere", [2])  # the same CA, another cluster
    client_ca = make_certs(tmp_path / "client-ca")  # a client certificate, not a member's
    proof = ((AUTH_HEADER, make_proof(SECRET, "whippet", 2, time.time())),)
    wrong_secret = ((AUTH_HEADER, make_proof("guessed", "whippet", 2, time.time())),)
    other_node = ((AUTH_HEADER, make_proof(SECRET, "whippet", 3, time.time())),)
    before = await state_digest(cluster[1].address, cluster[1].http_port)
    log_start = len(proxied.log(1))

    def read(path: Path) -> bytes:
        return path.read_bytes()

    cases: dict[str, tuple[grpc.aio.Channel, Any]] = {
        "plain gRPC": (_channel(target, None), proof),
        "TLS without a certificate": (_channel(target, ca), proof),
        "a certificate of another CA": (
            _channel(target, ca, read(other_ca.key(2)), read(other_ca.cert(2))), proof),
        "a client certificate of the dev CA": (_channel(target, ca, read(client_ca.key), read(client_ca.cert)), proof),
        "a member certificate of another cluster": (
            _channel(target, ca, read(other_cluster.key(2)), read(other_cluster.cert(2))), proof),
        "a member certificate without the secret": (_channel(target, ca, member_key, member_chain), ()),
        "a member certificate with a wrong secret": (_channel(target, ca, member_key, member_chain), wrong_secret),
        "node 2's certificate with node 3's proof": (_channel(target, ca, member_key, member_chain), other_node),
    }
    outcomes = {what: await _forward(channel, metadata) for what, (channel, metadata) in cases.items()}
    assert all(code != grpc.StatusCode.OK for code in outcomes.values()), outcomes
    handshake = ("plain gRPC", "TLS without a certificate", "a certificate of another CA",
                 "a client certificate of the dev CA")
    assert {outcomes[w] for w in handshake} == {grpc.StatusCode.UNAVAILABLE}, outcomes  # refused in the handshake
    assert {outcomes[w] for w in cases if w not in handshake} == {grpc.StatusCode.PERMISSION_DENIED}, outcomes
    # The same channel set-up with everything right is accepted (the refusals are not a broken probe).
    assert await _forward(_channel(target, ca, member_key, member_chain), proof) == grpc.StatusCode.OK
    await asyncio.sleep(0.5)
    c = await TestClient.connect(cluster[1].address)
    await c.call(rq.DeleteStream(stream_id=Identifier("evil")))  # the accepted control call made it
    await c.close()
    await asyncio.sleep(0.5)
    after = await state_digest(cluster[1].address, cluster[1].http_port)
    assert [line for line in diff(before, after) if not line.startswith("raft commit index")] == []  # (the
    # accepted control call and its deletion are two entries)
    log = proxied.log(1)[log_start:]
    assert log.count("Handshake failed") >= 3, log[-3000:]  # gRPC's own line for each refused handshake
    for reason in ("is for cluster elsewhere, not whippet", "no cluster proof header", "wrong cluster secret",
                   "proof made by node 3 over a certificate of node [2]"):
        assert "refused a replication-port call from ipv4:127.0.0.1:" in log and reason in log, reason
