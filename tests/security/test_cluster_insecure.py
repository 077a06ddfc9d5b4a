"""Plain gRPC between members only behind ``cluster_insecure``, which warns at every start; even
then a call needs the proof of the secret (never the secret itself)."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from tests.support.client import TestClient
from whippet.procs import Cluster
from whippet.replication._pb import replication_pb2 as pb
from whippet.replication._pb import replication_pb2_grpc as pb_grpc
from whippet.replication.peer_identity import AUTH_HEADER, make_proof
from whippet.wire import requests as rq

pytestmark = pytest.mark.asyncio

WARNING = "cluster_insecure is set: replication, forwarding and pings between members travel as plain gRPC"


async def test_an_insecure_cluster_works_warns_at_every_start_and_still_needs_the_proof(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, size=2, replication_factor=2,
                      extra_env={"WHIPPET_CLUSTER_INSECURE": "true"}).start()
    try:
        assert all(n.read_log().count(WARNING) == 1 for n in cluster.nodes.values())
        assert not (tmp_path / "certs").exists()  # no certificate was needed
        c = await TestClient.connect(cluster[1].address)
        await c.create_stream("plain")
        await c.create_topic("plain", "t", partitions=1)
        await c.close()
        c2 = await TestClient.connect(cluster[2].address)
        await c2.send("plain", "t", 0, [b"over plain gRPC"])  # replicated (and maybe forwarded) without TLS
        _, msgs = await c2.poll("plain", "t", 0)
        assert [m.payload for m in msgs] == [b"over plain gRPC"]
        await c2.close()

        address = f"127.0.0.1:{cluster[1].raft_port + 1}"
        secret = "test-cluster-secret"
        attempts = {
            "no proof": (),
            "the secret itself, in clear": (("x-whippet-secret", secret), (AUTH_HEADER, secret)),
            "a proof of another secret": ((AUTH_HEADER, make_proof("guess", "whippet", 2, time.time())),),
        }
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.ReplicationStub(channel)
            for what, metadata in attempts.items():
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.Forward(pb.ForwardRequest(code=rq.CreateStream.CODE,
                                                         payload=rq.CreateStream(name="evil").encode(),
                                                         has_user=True), metadata=metadata, timeout=5)
                assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, what
        c = await TestClient.connect(cluster[1].address)
        assert b"evil" not in await c.call(rq.GetStreams())
        await c.close()

        cluster[2].stop()
        cluster[2].start()
        assert cluster[2].read_log().count(WARNING) == 2  # again at the restart
    finally:
        cluster.stop()
