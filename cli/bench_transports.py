"""``whippet-bench-transports``: the same send and poll workload over TCP, QUIC, WebSocket and HTTP.

One fresh node (fsync never), one stream and topic per transport, ``--batches``
batches of ``--batch`` messages of ``--size`` bytes sent with one request in
flight, then read back 1000 at a time. Binary transports send pre-encoded
frames; HTTP sends Iggy's JSON (base64 payloads), as an HTTP client must. Prints
MB/s per transport and each one's ratio to TCP, all from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from whippet.procs import NodeProcess
from whippet.sdk.connection import Connection
from whippet.sdk.quic import QuicConnection
from whippet.sdk.ws import WsConnection
from whippet.wire import codes
from whippet.wire.batch import build_send_messages
from whippet.wire.framing import encode_request
from whippet.wire.primitives import Consumer, Identifier, Partitioning, PollingStrategy
from whippet.wire.requests import CreateStream, CreateTopic, LoginUser, PollMessages

__all__ = ["main"]

async def _binary_link(kind: str, node: NodeProcess) -> Any:
    if kind == "tcp":
        return await Connection.open("127.0.0.1", node.tcp_port)
    if kind == "quic":
        return await QuicConnection.open("127.0.0.1", node.quic_port)
    return await WsConnection.open("127.0.0.1", node.ws_port)


def _poll_frame(stream: str, offset: int, count: int) -> bytes:
    req = PollMessages(
        consumer=Consumer.consumer(1), stream_id=Identifier(stream),
        topic_id=Identifier("t"), partition_id=0, strategy=PollingStrategy.offset(offset),
        count=count, auto_commit=False,
    )
    return encode_request(codes.POLL_MESSAGES, req.encode())


async def _binary(kind: str, node: NodeProcess, opts: argparse.Namespace) -> dict[str, float]:
    link = await _binary_link(kind, node)
    login = LoginUser(username="iggy", password="iggy", version="bench", context="").encode()
    await link.request_raw(encode_request(codes.LOGIN_USER, login))
    await link.request_raw(encode_request(codes.CREATE_STREAM, CreateStream(name=kind).encode()))
    topic = CreateTopic(stream_id=Identifier(kind), partitions_count=1, compression=1, message_expiry=0,
                        max_topic_size=0, replication_factor=1, name="t")
    await link.request_raw(encode_request(codes.CREATE_TOPIC, topic.encode()))
    body = os.urandom(opts.size)
    frame = encode_request(
        codes.SEND_MESSAGES,
        build_send_messages(Identifier(kind), Identifier("t"), Partitioning.partition_id(0),
                            [(0, body, b"", 0)] * opts.batch),
    )
    deadline = time.monotonic() + opts.max_seconds
    sent = 0
    t0 = time.perf_counter()
    while sent < opts.batches and time.monotonic() < deadline:
        await link.request_raw(frame)
        sent += 1
    send_s = time.perf_counter() - t0
    total, offset, nbytes = sent * opts.batch, 0, 0
    t0 = time.perf_counter()
    deadline = time.monotonic() + opts.max_seconds
    while offset < total and time.monotonic() < deadline:
        reply = await link.request_raw(_poll_frame(kind, offset, 1000))
        n = int.from_bytes(reply[12:16], "little")
        if n == 0:
            break
        offset += n
        nbytes += len(reply) - 16
    poll_s = time.perf_counter() - t0
    await link.close()
    return {"send_mb_s": sent * opts.batch * (opts.size + 64) / 1e6 / send_s, "poll_mb_s": nbytes / 1e6 / poll_s}


async def _http(node: NodeProcess, opts: argparse.Namespace) -> dict[str, float]:
    base = f"http://127.0.0.1:{node.http_port}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/users/login", json={"username": "iggy", "password": "iggy"}) as r:
            token = (await r.json())["access_token"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        await (await http.post(f"{base}/streams", json={"name": "http"}, headers=auth)).read()
        topic = {"name": "t", "partitions_count": 1, "compression_algorithm": "none", "message_expiry": 0,
                 "max_topic_size": 0, "replication_factor": 1}
        await (await http.post(f"{base}/streams/http/topics", json=topic, headers=auth)).read()
        payload = base64.b64encode(os.urandom(opts.size)).decode()
        body = json.dumps({"partitioning": {"kind": "partition_id", "value": base64.b64encode(
            (0).to_bytes(4, "little")).decode()}, "messages": [{"payload": payload}] * opts.batch})
        url = f"{base}/streams/http/topics/t/messages"
        headers = {**auth, "Content-Type": "application/json"}
        deadline = time.monotonic() + opts.max_seconds
        sent = 0
        t0 = time.perf_counter()
        while sent < opts.batches and time.monotonic() < deadline:
            async with http.post(url, data=body, headers=headers) as r:
                assert r.status in (200, 201), await r.text()
            sent += 1
        send_s = time.perf_counter() - t0
        total, offset, nbytes = sent * opts.batch, 0, 0
        t0 = time.perf_counter()
        deadline = time.monotonic() + opts.max_seconds
        while offset < total and time.monotonic() < deadline:
            params = {"partition_id": "0", "kind": "offset", "value": str(offset), "count": "1000"}
            async with http.get(url, params=params, headers=auth) as r:
                data = await r.read()
            n = json.loads(data)["count"]
            if n == 0:
                break
            offset += n
            nbytes += n * (opts.size + 64)
        poll_s = time.perf_counter() - t0
    return {"send_mb_s": sent * opts.batch * (opts.size + 64) / 1e6 / send_s, "poll_mb_s": nbytes / 1e6 / poll_s}


async def run(opts: argparse.Namespace) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="whippet-bench-transports-") as tmp:
        node = NodeProcess(data_dir=Path(tmp) / "node",
                           extra_env={"WHIPPET_STORAGE_FSYNC": "never", "WHIPPET_LOG_LEVEL": "WARNING"})
        node.start()
        try:
            out = {}
            for kind in ("tcp", "quic", "ws"):
                out[kind] = await _binary(kind, node, opts)
            out["http"] = await _http(node, opts)
        finally:
            node.stop()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="whippet-bench-transports", description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--max-seconds", type=float, default=15.0)
    p.add_argument("--out", default="bench-results")
    opts = p.parse_args(argv)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(run(opts))
    tcp = result["tcp"]
    print(f"{'transport':<10} {'send MB/s':>10} {'poll MB/s':>10} {'send/TCP':>9} {'poll/TCP':>9}")
    for kind, r in result.items():
        print(f"{kind:<10} {r['send_mb_s']:>10.1f} {r['poll_mb_s']:>10.1f} "
              f"{r['send_mb_s'] / tcp['send_mb_s']:>9.2f} {r['poll_mb_s'] / tcp['poll_mb_s']:>9.2f}")
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "transports.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
