"""``whippet-bench``: send and poll throughput against a fresh node, as ratios to a peer.

``whippet-bench suite`` (what ``make bench`` runs) starts, one after another on
loopback, the bare-uvloop peer (``bench_peer``) and a whippet node with fsync off
and with fsync before ack, and drives each from a second process with one request
in flight: ``--batches`` SendMessages of ``--batch`` messages of ``--size`` bytes,
then PollMessages of ``--batch`` messages until everything was read back. Batches
are encoded once up front so the client is not what is measured. Every load loop
is bounded in count and in time (``--max-seconds``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["main"]


@dataclass
class Result:
    target: str
    phase: str
    messages: int
    bytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0

    @property
    def msg_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


# --- the load generator (runs in its own process) ---


async def _load(port: int, login: bool, batches: int, batch: int, size: int, max_seconds: float) -> dict:
    from whippet.sdk.connection import Connection
    from whippet.wire import codes
    from whippet.wire.batch import build_send_messages
    from whippet.wire.primitives import Consumer, ConsumerKind, Identifier, Partitioning, PollingKind, PollingStrategy
    from whippet.wire.requests import CreateStream, CreateTopic, LoginUser, PollMessages
    from whippet.wire.framing import encode_request

    conn = await Connection.open("127.0.0.1", port)
    if login:
        await conn.request(codes.LOGIN_USER, LoginUser(username="iggy", password="iggy", version="bench", context="").encode())
        await conn.request(codes.CREATE_STREAM, CreateStream(name="bench").encode())
        await conn.request(
            codes.CREATE_TOPIC,
            CreateTopic(
                stream_id=Identifier("bench"), partitions_count=1, compression=1, message_expiry=0,
                max_topic_size=0, replication_factor=1, name="t",
            ).encode(),
        )
    payload = os.urandom(size)
    messages = [(0, payload, b"", 0) for _ in range(batch)]
    send_frame = encode_request(
        codes.SEND_MESSAGES,
        build_send_messages(Identifier("bench"), Identifier("t"), Partitioning.partition_id(0), messages),
    )
    out: dict = {}
    deadline = time.monotonic() + max_seconds
    sent = 0
    t0 = time.perf_counter()
    while sent < batches and time.monotonic() < deadline:
        await conn.request_raw(send_frame)
        sent += 1
    out["send"] = (sent * batch, sent * batch * (size + 64), time.perf_counter() - t0)

    consumer = Consumer(ConsumerKind.CONSUMER, Identifier(1))
    polled = 0
    offset = 0
    t0 = time.perf_counter()
    deadline = time.monotonic() + max_seconds
    nbytes = 0
    while polled < sent * batch and time.monotonic() < deadline:
        req = PollMessages(
            consumer=consumer, stream_id=Identifier("bench"), topic_id=Identifier("t"), partition_id=0,
            strategy=PollingStrategy(PollingKind.OFFSET, offset), count=batch, auto_commit=False,
        )
        body = await conn.request(codes.POLL_MESSAGES, req.encode())
        n = int.from_bytes(body[12:16], "little")
        if n == 0:
            break
        polled += n
        offset += n
        nbytes += len(body) - 16
    out["poll"] = (polled, nbytes, time.perf_counter() - t0)
    await conn.close()
    return out


def _load_process(args: tuple, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            queue.put(runner.run(_load(*args)))
    except BaseException as exc:  # report, do not hang the parent
        queue.put({"error": repr(exc)})


def _run_target(name: str, cmd: list[str], port: int, login: bool, opts: argparse.Namespace) -> list[Result]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        ctx = mp.get_context("spawn")
        queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        worker = ctx.Process(
            target=_load_process,
            args=((port, login, opts.batches, opts.batch, opts.size, opts.max_seconds), queue),
        )
        worker.start()
        out = queue.get(timeout=opts.max_seconds * 3 + 60)
        worker.join(10)
        if "error" in out:
            raise RuntimeError(f"{name}: {out['error']}")
        return [Result(name, phase, *out[phase]) for phase in ("send", "poll")]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def suite(opts: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    root = Path(tempfile.mkdtemp(prefix="whippet-bench-"))
    try:
        port = _free_port()
        (root / "peer").mkdir()
        results += _run_target(
            "peer (bare uvloop + file)", [sys.executable, "-m", "whippet.cli.bench_peer", str(port), str(root / "peer")],
            port, False, opts,
        )
        for fsync in ("never", "always"):
            port = _free_port()
            cmd = [
                sys.executable, "-m", "whippet.node", "--data-dir", str(root / f"node-{fsync}"),
                "--tcp-port", str(port), "--http-port", "0", "--quic-port", "0", "--ws-port", "0",
                "--fsync", fsync, "--with-default-root-credentials", "--log-level", "WARNING",
            ]
            results += _run_target(f"whippet fsync={fsync}", cmd, port, True, opts)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


def _report(results: list[Result]) -> str:
    peer = {r.phase: r for r in results if r.target.startswith("peer")}
    lines = [f"{'target':<28} {'phase':<5} {'MB/s':>9} {'msg/s':>11} {'vs peer':>8}"]
    for r in results:
        ratio = r.mb_per_s / peer[r.phase].mb_per_s if r.phase in peer and peer[r.phase].mb_per_s else 0
        lines.append(f"{r.target:<28} {r.phase:<5} {r.mb_per_s:>9.1f} {r.msg_per_s:>11.0f} {ratio:>8.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="whippet-bench", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("suite", help="send+poll vs the peer, fsync off and on")
    s.add_argument("--batches", type=int, default=2000)
    s.add_argument("--batch", type=int, default=1000)
    s.add_argument("--size", type=int, default=1024)
    s.add_argument("--max-seconds", type=float, default=20.0)
    s.add_argument("--out", default="bench-results")
    opts = p.parse_args(argv)
    results = suite(opts)
    table = _report(results)
    print(table)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.json").write_text(
        json.dumps([{**asdict(r), "mb_per_s": r.mb_per_s, "msg_per_s": r.msg_per_s} for r in results], indent=2)
    )
    (out / "suite.txt").write_text(table + "\n")


if __name__ == "__main__":
    main()
