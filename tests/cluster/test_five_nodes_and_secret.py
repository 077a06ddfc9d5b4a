"""Five nodes work like three; a peer without the cluster's certificate and secret gets nothing
(the full set of outsider probes is tests/security/test_outsiders.py)."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from tests.cluster.producer import Producer
from tests.cluster.test_failover import _assert_exactly_once, _poll_all, _setup
from tests.support.client import TestClient
from whippet.procs import Cluster
from whippet.replication._pb import replication_pb2 as pb
from whippet.replication._pb import replication_pb2_grpc as pb_grpc
from whippet.wire import requests as rq
from whippet.wire.responses import ClusterMetadata

pytestmark = pytest.mark.asyncio


async def test_five_node_cluster_survives_two_failures(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, size=5, replication_factor=5, extra_env={"WHIPPET_DEDUP_ENABLED": "true"}).start()
    try:
        await _setup(cluster)
        c = await TestClient.connect(cluster[3].address)
        assert len(ClusterMetadata.decode(await c.call(rq.GetClusterMetadata())).nodes) == 5
        await c.close()
        producer = Producer(cluster)
        deadline = time.monotonic() + 90
        await producer.run(range(0, 10), deadline)
        cluster[1].kill()  # the partition's leader
        cluster[2].kill()
        await producer.run(range(10, 20), deadline)  # 3 of 5 replicas left: still a quorum
        await producer.close()
        _assert_exactly_once(await _poll_all(cluster[4]), producer.acked)
    finally:
        cluster.stop()


async def test_replication_port_rejects_a_caller_without_the_secret(cluster) -> None:
    from whippet.node.config import load_config

    member = next(iter(cluster.nodes.values()))
    raft = f"127.0.0.1:{member.raft_port}"
    address = load_config(env={}).replication_address(raft)
    async with grpc.aio.insecure_channel(address) as channel:  # plain gRPC to the mutual-TLS port
        stub = pb_grpc.ReplicationStub(channel)
        for metadata in ((), (("x-whippet-secret", "test-cluster-secret"),)):  # even the real secret, in clear
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Forward(pb.ForwardRequest(code=202, payload=b"\x04evil", has_user=True), metadata=metadata,
                                   timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # refused in the TLS handshake
    c = await TestClient.connect(member.address)
    streams = await c.call(rq.GetStreams())
    await c.close()
    assert b"evil" not in streams
