"""``whippet-bench-cluster``: replication throughput and failover time on a real 3-node cluster.

``throughput``: one 3-node cluster, two topics with the same partition leaders —
replication factor 1 and replication factor 3 with quorum acks — and the same
pre-encoded send workload (1 KiB messages, batches of 1000, one request in flight
per producer) against each. The two are measured in alternating, equally long
windows (RF1, RF3, RF3, RF1, ...) so both see the same machine: the load of other
processes and, on a VM, the cost of first-touch page cache drift over a run and a
fixed-size burst would measure that drift instead. Each pair of windows gives one
RF3/RF1 ratio; the median is reported.

``failover``: ``--rounds`` times, a fresh cluster, a producer sending small
quorum-acked batches to one partition, ``kill -9`` of that partition's leader, and
the time until a write is acknowledged again; prints the distribution.
Every loop is bounded in count and time; every process is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from whippet.procs import Cluster
from whippet.sdk.connection import Connection
from whippet.wire import codes
from whippet.wire.batch import build_send_messages
from whippet.wire.errors import IggyError
from whippet.wire.framing import encode_request
from whippet.wire.primitives import Identifier, Partitioning
from whippet.wire.requests import CreateStream, CreateTopic, LoginUser

__all__ = ["main"]


async def _login(address: str) -> Connection:
    host, port = address.rsplit(":", 1)
    conn = await Connection.open(host, int(port))
    await conn.request(codes.LOGIN_USER, LoginUser(username="iggy", password="iggy", version="bench", context="").encode())
    return conn


async def _create(conn: Connection, stream: str, topic: str, rf: int, partitions: int = 1) -> None:
    await conn.request(
        codes.CREATE_TOPIC,
        CreateTopic(stream_id=Identifier(stream), partitions_count=partitions, compression=1, message_expiry=0,
                    max_topic_size=0, replication_factor=rf, name=topic).encode(),
    )


async def _send_loop(conn: Connection, frame: bytes, deadline: float) -> int:
    sent = 0
    while time.monotonic() < deadline:
        await conn.request_raw(frame)
        sent += 1
    return sent


def _frames(n: int, stream: str, topic: str, batch: int, size: int) -> list[bytes]:
    body = os.urandom(size)
    return [
        encode_request(
            codes.SEND_MESSAGES,
            build_send_messages(Identifier(stream), Identifier(topic), Partitioning.partition_id(i),
                                [(0, body, b"", 0)] * batch),
        )
        for i in range(n)
    ]


async def _window(conns: list[Connection], frames: list[bytes], batch: int, size: int, seconds: float) -> float:
    """Producer i sends ``frames[i]`` over ``conns[i]`` for ``seconds``; returns MB/s."""
    t0 = time.perf_counter()
    counts = await asyncio.gather(*(_send_loop(c, f, time.monotonic() + seconds) for c, f in zip(conns, frames)))
    dt = time.perf_counter() - t0
    return sum(counts) * batch * (size + 64) / 1e6 / dt


async def throughput(opts: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="whippet-bench-cluster-") as tmp:
        cluster = Cluster(Path(tmp), extra_env={"WHIPPET_STORAGE_FSYNC": opts.fsync, "WHIPPET_LOG_LEVEL": "WARNING"})
        cluster.start()
        try:
            conn = await _login(cluster[1].address)
            await conn.request(codes.CREATE_STREAM, CreateStream(name="bench").encode())
            n = opts.partitions
            await _create(conn, "bench", "rf1", 1, n)
            await _create(conn, "bench", "rf3", 3, n)
            await conn.close()
            await asyncio.sleep(1.0)  # let followers connect before timing
            # Partition i is led by its first replica, node (i mod 3) + 1: each producer talks to it.
            k = opts.producers
            conns = [await _login(cluster[i % 3 + 1].address) for i in range(n) for _ in range(k)]
            frames = {t: [f for f in _frames(n, "bench", t, opts.batch, opts.size) for _ in range(k)]
                      for t in ("rf1", "rf3")}
            await _window(conns, frames["rf3"], opts.batch, opts.size, 1.0)  # warm-up, not counted
            rates: dict[str, list[float]] = {"rf1": [], "rf3": []}
            for r in range(opts.rounds):
                for topic in (("rf1", "rf3") if r % 2 == 0 else ("rf3", "rf1")):
                    rates[topic].append(await _window(conns, frames[topic], opts.batch, opts.size, opts.seconds))
            for c in conns:
                await c.close()
        finally:
            cluster.stop()
    ratios = [a / b for a, b in zip(rates["rf3"], rates["rf1"])]
    return {
        "partitions": n, "producers_per_partition": opts.producers, "fsync": opts.fsync, "rounds": opts.rounds, "seconds_per_window": opts.seconds,
        "rf1": {"mb_per_s": statistics.median(rates["rf1"]), "windows": rates["rf1"]},
        "rf3": {"mb_per_s": statistics.median(rates["rf3"]), "windows": rates["rf3"]},
        "rf3_over_rf1": statistics.median(ratios), "ratios": ratios,
    }


async def _failover_round(tmp: Path, max_seconds: float) -> float:
    cluster = Cluster(tmp, extra_env={"WHIPPET_LOG_LEVEL": os.environ.get("WHIPPET_FAILOVER_LOG_LEVEL", "WARNING")})
    cluster.start()
    try:
        conn = await _login(cluster[2].address)
        await conn.request(codes.CREATE_STREAM, CreateStream(name="f").encode())
        await _create(conn, "f", "t", 3)
        frame = encode_request(
            codes.SEND_MESSAGES,
            build_send_messages(Identifier("f"), Identifier("t"), Partitioning.partition_id(0),
                                [(0, b"x" * 100, b"", 0)] * 10),
        )
        for _ in range(20):
            await conn.request_raw(frame)
        await conn.close()
        # A node never heard from since start counts as starting, not dead: measure a
        # crash in a running cluster, not that start-up grace.
        await asyncio.to_thread(cluster.wait_connected)
        # Partition 0's first replica, node 1, leads it: kill it and write through node 2.
        conn = await _login(cluster[2].address)
        killed = time.monotonic()
        cluster[1].kill()
        deadline = killed + max_seconds
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(conn.request_raw(frame), max_seconds)
                return time.monotonic() - killed
            except (IggyError, OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.01)
                try:
                    await conn.close()
                except Exception:
                    pass
                conn = await _login(cluster[2].address)
        raise TimeoutError("writes were not accepted again within the bound")
    finally:
        cluster.stop()


async def failover(opts: argparse.Namespace) -> dict:
    times = []
    for r in range(opts.rounds):
        with tempfile.TemporaryDirectory(prefix="whippet-failover-") as tmp:
            t = await _failover_round(Path(tmp), opts.max_seconds)
            times.append(t)
            print(f"round {r + 1}/{opts.rounds}: writes accepted again after {t:.2f} s", flush=True)
    times.sort()
    return {
        "rounds": len(times), "seconds": times, "median": statistics.median(times),
        "min": times[0], "max": times[-1],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="whippet-bench-cluster", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput", help="RF3 quorum vs RF1 send throughput on one 3-node cluster")
    t.add_argument("--rounds", type=int, default=4, help="RF1/RF3 window pairs")
    t.add_argument("--seconds", type=float, default=3.0, help="length of one window")
    t.add_argument("--partitions", type=int, default=1)
    t.add_argument("--producers", type=int, default=1,
                   help="producers per partition, each on its own connection with one request in flight")
    t.add_argument("--batch", type=int, default=1000)
    t.add_argument("--size", type=int, default=1024)
    t.add_argument("--fsync", default="never", choices=["always", "interval", "never"])
    f = sub.add_parser("failover", help="time from kill -9 of a leader to the next acknowledged write")
    f.add_argument("--rounds", type=int, default=5)
    f.add_argument("--max-seconds", type=float, default=30.0)
    for sp in (t, f):
        sp.add_argument("--out", default="bench-results")
    opts = p.parse_args(argv)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(throughput(opts) if opts.cmd == "throughput" else failover(opts))
    print(json.dumps(result, indent=2))
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"cluster-{opts.cmd}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
