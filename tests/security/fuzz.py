"""The frame fuzzer: mutated frames against a live node over TCP, WebSocket and QUIC.

    python -m tests.security.fuzz --transport tcp --frames 1000000   # what `make fuzz` runs

Clients that are not allowed to change anything send the frames of
:mod:`tests.security.fuzz_corpus`: one never logs in ("anon"), the others each log in as
their own ``fuzzer-<n>``, a user with no permission at all ("user"; after a
``LogoutUser`` in the stream one logs in again before its next window). Many frames per
connection, pipelined in windows (TCP, WebSocket) or as concurrent streams (QUIC, at
most one own-account write per window); a connection the node closes is reopened.

Counted, for a target of 0 each:

- **crashes**: the node process died, or stopped answering a ping within 1 s (checked
  after every round of frames and at the end);
- **hangs**: a frame the node owed an answer that did not come within 1 s of its turn
  (the previous answer, or its sending, whichever is later), or a refused frame after
  which the node did not close the connection within 1 s;
- **state changes**: the state digest (:mod:`tests.security.state`) differs between
  before and after, or the metadata Raft commit index grew by more than the own-account
  writes the rules allow any logged-in user (changing one's own password, creating or
  deleting one's own personal access tokens), counted from their OK answers.

The target node's root password is random: the corpus holds ``iggy``/``iggy`` (the
wire samples), which must not log anyone in as root here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed as WsClosed

from tests.security.fuzz_corpus import Case, Mutator, fuzz_user
from tests.security.state import diff, raft_delta, state_digest
from tests.support.client import TestClient
from whippet.procs import NodeProcess
from whippet.sdk.quic import QuicConnection
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.batch import build_send_messages
from whippet.wire.errors import ConnectionClosed, IggyError
from whippet.wire.framing import encode_request
from whippet.wire.permissions import GlobalPermissions, Permissions, StreamPermissions
from whippet.wire.primitives import Consumer, Identifier, Partitioning

__all__ = ["FuzzReport", "fuzz_node", "prepare_target", "target_env"]

HANG_S = 1.0
_HEAD = struct.Struct("<II")
#: commands a user without permissions may run and that write metadata (Iggy 0.8: own account)
OWN_ACCOUNT_WRITES = {codes.CHANGE_PASSWORD, codes.CREATE_PERSONAL_ACCESS_TOKEN, codes.DELETE_PERSONAL_ACCESS_TOKEN}
_WINDOW = 32
_FRAMES_PER_CONNECTION = 3000
_CLOSING_EVERY = 400  # about one frame the node must refuse from its header per this many
_TAIL_EVERY = 400  # about one stream-breaking tail per this many
WORKERS = 4  # one anonymous, three users


def _login(worker: int) -> bytes:
    username, password = fuzz_user(worker)
    return encode_request(codes.LOGIN_USER, rq.LoginUser(username=username, password=password, version="fuzz",
                                                         context=None).encode())


def target_env(root_password: str) -> dict[str, str]:
    """The fuzz target node's settings: a root password not in the corpus."""
    return {"WHIPPET_AUTH_ROOT_USERNAME": "iggy", "WHIPPET_AUTH_ROOT_PASSWORD": root_password}


async def prepare_target(address: str, root_password: str) -> None:
    """What the corpus aims at: stream fz (id 0) / topic t (2 partitions) / group g, messages,
    stored offsets, a second user with some permissions, root's token, and the fuzz users."""
    c = await TestClient.connect(address, login=("iggy", root_password))
    try:
        await c.create_stream("fz")
        await c.create_topic("fz", "t", partitions=2)
        s, t = Identifier("fz"), Identifier("t")
        for p in (0, 1):
            body = build_send_messages(s, t, Partitioning.partition_id(p), [(0, b"m%d" % i, b"", 0) for i in range(5)])
            await c.conn.request(codes.SEND_MESSAGES, body)
        await c.call(rq.CreateConsumerGroup(stream_id=s, topic_id=t, name="g"))
        await c.call(rq.StoreConsumerOffset(consumer=Consumer.consumer(1), stream_id=s, topic_id=t, partition_id=0,
                                            offset=2))
        for worker in range(1, WORKERS):
            username, password = fuzz_user(worker)
            await c.call(rq.CreateUser(username=username, password=password, status=1, permissions=None))
        reader = Permissions(global_=GlobalPermissions(), streams={0: StreamPermissions(read_stream=True)})
        await c.call(rq.CreateUser(username="reader", password="reader-pw", status=1, permissions=reader))
        await c.call(rq.CreatePersonalAccessToken(name="root-token", expiry=0))
    finally:
        await c.close()


@dataclass
class Tally:
    frames: int = 0
    answered: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_mutation: Counter[str] = field(default_factory=Counter)
    hangs: list[str] = field(default_factory=list)
    early_closes: int = 0
    connections: int = 0
    own_writes: int = 0
    max_service_s: float = 0.0

    def answer(self, case: Case, status: int, service_s: float) -> None:
        self.answered += 1
        self.statuses[status] += 1
        self.max_service_s = max(self.max_service_s, service_s)
        if status == 0 and case.code in OWN_ACCOUNT_WRITES:  # only ever OK for a logged-in session
            self.own_writes += 1

    def hang(self, transport: str, case: Case, what: str) -> None:
        self.hangs.append(f"{transport} {case.how} code={case.code} {what}: {case.frame[:64].hex()}")


@dataclass
class FuzzReport:
    transport: str
    frames: int
    answered: int
    seconds: float
    crashes: int
    hangs: int
    state_changes: int
    connections: int
    early_closes: int
    max_service_ms: float
    statuses: dict[str, int]
    mutations: dict[str, int]
    hang_samples: list[str]
    state_diff: list[str]
    raft_delta: int
    own_writes: int

    def ok(self) -> bool:
        return self.crashes == 0 and self.hangs == 0 and self.state_changes == 0

    def summary(self) -> str:
        return (f"{self.transport}: {self.frames} frames ({self.frames / max(self.seconds, 1e-9):.0f}/s, "
                f"{self.connections} connections), crashes {self.crashes}, hangs {self.hangs}, "
                f"state changes {self.state_changes}, max answer {self.max_service_ms:.1f} ms")


class _Plan:
    """The next cases for one connection: a window of aligned frames, maybe ending in a
    closing frame or a tail. For a logged-in client a ``LogoutUser`` only ever ends a window
    (the client logs in again before the next): mid-window it would leave the rest of the
    window to the unauthenticated path, which the anonymous client covers already."""

    def __init__(self, mutator: Mutator, logged_in: bool) -> None:
        self.m = mutator
        self.logged_in = logged_in

    def _aligned(self) -> Case:
        while True:
            case = self.m.aligned()
            if not self.logged_in or case.code != codes.LOGOUT_USER:
                return case

    def window(self, size: int) -> list[Case]:
        cases = [self._aligned() for _ in range(size - 1)] + [self.m.aligned()]
        roll = self.m.rng.randrange(_CLOSING_EVERY * _TAIL_EVERY)
        if roll < _TAIL_EVERY * size:
            cases[-1] = self.m.tail()
        elif roll < (_TAIL_EVERY + _CLOSING_EVERY) * size:
            cases[-1] = self.m.closing()
        return cases


# --- TCP and WebSocket: pipelined windows ---------------------------------------------------------
class _StreamLink:
    """One pipelined connection: write frames, read answers in order."""

    async def send(self, frames: list[bytes]) -> None:
        raise NotImplementedError

    async def answer(self) -> int:
        """The next answer's status (EOFError: the node closed the connection)."""
        raise NotImplementedError

    async def drain_until_closed(self, within: float) -> bool:
        """True when the node closed the connection within ``within`` seconds."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class _TcpLink(_StreamLink):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _TcpLink:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        return cls(reader, writer)

    async def send(self, frames: list[bytes]) -> None:
        self.writer.writelines(frames)
        await self.writer.drain()

    async def answer(self) -> int:
        try:
            status, length = _HEAD.unpack(await self.reader.readexactly(8))
            if length:
                await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise EOFError from exc
        return int(status)

    async def drain_until_closed(self, within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(1 << 16):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class _WsLink(_StreamLink):
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, port: int) -> _WsLink:
        ws = await ws_connect(f"ws://127.0.0.1:{port}/", compression=None, max_size=None, ping_interval=None,
                              close_timeout=1)
        return cls(ws)

    async def send(self, frames: list[bytes]) -> None:
        for frame in frames:
            await self.ws.send(frame)

    async def answer(self) -> int:
        try:
            message = await self.ws.recv()
        except WsClosed as exc:
            raise EOFError from exc
        return int(_HEAD.unpack_from(message)[0])

    async def drain_until_closed(self, within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                while True:
                    await self.ws.recv()
        except TimeoutError:
            return False
        except WsClosed:
            return True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()


async def _login_on(link: _StreamLink, worker: int) -> None:
    await link.send([_login(worker)])
    if await link.answer() != 0:
        raise RuntimeError(f"fuzz user {worker} could not log in")


async def _stream_worker(name: str, open_link: Callable[[], Awaitable[_StreamLink]], worker: int, mutator: Mutator,
                         quota: int, tally: Tally) -> None:
    """``worker`` 0 stays anonymous; the others log in as fuzzer-<worker>. Each sends its own
    ``quota`` (refusals of the unauthenticated are fastest: a shared budget would go to them)."""
    plan = _Plan(mutator, logged_in=worker != 0)
    loop = asyncio.get_running_loop()
    sent = 0
    while sent < quota:
        link = await open_link()
        tally.connections += 1
        try:
            if worker:
                await _login_on(link, worker)
            sent_here = 0
            alive = True
            logged_out = False
            while alive and sent_here < _FRAMES_PER_CONNECTION and sent < quota:
                if logged_out and worker:
                    await _login_on(link, worker)
                    logged_out = False
                cases = plan.window(_WINDOW)
                tally.frames += len(cases)
                sent_here += len(cases)
                sent += len(cases)
                for case in cases:
                    tally.by_mutation[case.how] += 1
                sent_at = loop.time()
                await link.send([c.frame for c in cases])
                last = sent_at
                for case in cases:
                    if case.kind == "tail":
                        alive = False  # nothing after it is in step: drop the connection
                        break
                    try:
                        async with asyncio.timeout(HANG_S):
                            status = await link.answer()
                    except TimeoutError:
                        tally.hang(name, case, "no answer within 1 s")
                        alive = False
                        break
                    except EOFError:
                        tally.early_closes += 1  # closed before answering: counted, and looked at below
                        alive = False
                        break
                    now = loop.time()
                    tally.answer(case, status, now - max(last, sent_at))
                    last = now
                    logged_out = logged_out or (case.code == codes.LOGOUT_USER and status == 0)
                    if case.kind == "closing":
                        if status == 0:
                            tally.hang(name, case, "a frame refused from its header was answered OK")
                        if not await link.drain_until_closed(HANG_S):
                            tally.hang(name, case, "not closed within 1 s after a refused header")
                        alive = False
                        break
        except (ConnectionError, OSError, EOFError):
            tally.early_closes += 1
        finally:
            await link.close()


# --- QUIC: concurrent streams -------------------------------------------------------------------
def _quic_window(mutator: Mutator) -> list[Case]:
    """Concurrent streams: at most one own-account write (or logout) per window, so two of them
    never race (the second would fail in the state machine after its Raft commit, and look like
    a write), and a logout leaves most of a window logged in."""
    cases: list[Case] = []
    own = False
    while len(cases) < _WINDOW:
        case = mutator.aligned() if mutator.rng.randrange(100) else (
            mutator.tail() if mutator.rng.randrange(2) else mutator.closing())
        if case.code in OWN_ACCOUNT_WRITES or case.code == codes.LOGOUT_USER:
            if own:
                continue
            own = True
        cases.append(case)
    return cases


async def _quic_worker(name: str, port: int, worker: int, mutator: Mutator, quota: int, tally: Tally) -> None:
    loop = asyncio.get_running_loop()
    sent = 0
    while sent < quota:
        conn = await QuicConnection.open("127.0.0.1", port)
        tally.connections += 1
        try:
            sent_here = 0
            while sent_here < _FRAMES_PER_CONNECTION and sent < quota and not conn.closed:
                if worker:  # (again: a LogoutUser of the last window may have ended the session)
                    await conn.request_raw(_login(worker))
                cases = _quic_window(mutator)
                tally.frames += len(cases)
                sent_here += len(cases)
                sent += len(cases)

                async def one(case: Case) -> None:
                    tally.by_mutation[case.how] += 1
                    start = loop.time()
                    reader, writer = await conn._protocol.create_stream()
                    writer.write(case.frame)
                    writer.write_eof()
                    try:
                        async with asyncio.timeout(HANG_S):
                            data = await reader.read()
                    except TimeoutError:
                        tally.hang(name, case, "no answer on its stream within 1 s")
                        return
                    if len(data) < 8:
                        tally.early_closes += 1
                        return
                    tally.answer(case, _HEAD.unpack_from(data)[0], loop.time() - start)

                await asyncio.gather(*(one(c) for c in cases))
        except (ConnectionClosed, ConnectionError, IggyError):
            tally.early_closes += 1
        finally:
            await conn.close()


# --- the run -------------------------------------------------------------------------------------
async def _ping(node: NodeProcess) -> bool:
    if node.proc is None or node.proc.poll() is not None:
        return False
    try:
        async with asyncio.timeout(HANG_S):
            c = await TestClient.connect(node.address, login=None)
            await c.call(rq.Ping())
            await c.close()
    except (TimeoutError, OSError, IggyError):
        return False
    return True


async def fuzz_node(node: NodeProcess, root_password: str, transport: str, frames: int, *, seed: int = 1,
                    rounds: int = 10, log: Callable[[str], None] | None = None) -> FuzzReport:
    """Fuzz ``node`` (prepared with :func:`prepare_target`) with ``frames`` frames over ``transport``."""
    root = ("iggy", root_password)
    logins = (root, ("reader", "reader-pw"), *(fuzz_user(w) for w in range(1, WORKERS)))
    before = await state_digest(node.address, node.http_port, root=root, logins=logins)
    tally = Tally()
    crashes = 0
    started = time.monotonic()
    max_frame = 64 << 20
    for r in range(rounds):
        quota = -(-(frames * (r + 1) // rounds - tally.frames) // WORKERS)  # this round's, per client
        jobs = []
        for w in range(WORKERS):
            mutator = Mutator(seed * 1_000_003 + r * 101 + w, max_frame)
            name = f"{transport}/{'user' if w else 'anon'}{w}"
            if transport == "tcp":
                jobs.append(_stream_worker(name, lambda: _TcpLink.open(node.tcp_port), w, mutator, quota, tally))
            elif transport == "ws":
                jobs.append(_stream_worker(name, lambda: _WsLink.open(node.ws_port), w, mutator, quota, tally))
            else:
                jobs.append(_quic_worker(name, node.quic_port, w, mutator, quota, tally))
        await asyncio.gather(*jobs)
        if not await _ping(node):
            crashes += 1
            break
        if log is not None:
            log(f"{transport}: round {r + 1}/{rounds}: {tally.frames} frames, {len(tally.hangs)} hangs, "
                f"{tally.frames / (time.monotonic() - started):.0f}/s")
    seconds = time.monotonic() - started
    changes: list[str] = []
    committed = 0
    if crashes == 0:
        after = await state_digest(node.address, node.http_port, root=root, logins=logins)
        committed = raft_delta(before, after)
        changes = [line for line in diff(before, after) if not line.startswith("raft commit index")]
        if committed != tally.own_writes:
            changes.append(f"raft commit index grew by {committed}, own-account writes answered OK: "
                           f"{tally.own_writes}")
    return FuzzReport(
        transport=transport, frames=tally.frames, answered=tally.answered, seconds=round(seconds, 1),
        crashes=crashes, hangs=len(tally.hangs), state_changes=len(changes), connections=tally.connections,
        early_closes=tally.early_closes, max_service_ms=round(tally.max_service_s * 1000, 1),
        statuses={str(k): v for k, v in tally.statuses.most_common()}, mutations=dict(tally.by_mutation),
        hang_samples=tally.hangs[:20], state_diff=changes[:20], raft_delta=committed, own_writes=tally.own_writes,
    )


async def _main(args: argparse.Namespace) -> int:
    password = secrets.token_urlsafe(16)
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="whippet-fuzz-") as tmp:
        for transport in args.transport:
            node = NodeProcess(data_dir=Path(tmp) / f"node-{transport}", extra_env=target_env(password)).start()
            try:
                await prepare_target(node.address, password)
                report = await fuzz_node(node, password, transport, args.frames, seed=args.seed,
                                         rounds=args.rounds, log=lambda line: print(line, file=sys.stderr, flush=True))
            finally:
                node.stop()
            print(report.summary(), flush=True)
            out.append(asdict(report))
    if args.report:
        Path(args.report).write_text(json.dumps(out, indent=2) + "\n")
    return 0 if all(FuzzReport(**r).ok() for r in out) else 1


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="fuzz", description="Fuzz a live whippet node's binary transports.")
    p.add_argument("--transport", action="append", choices=["tcp", "ws", "quic"],
                   help="repeat for several (default all three, one after another)")
    p.add_argument("--frames", type=int, default=1_000_000, help="frames per transport")
    p.add_argument("--rounds", type=int, default=20, help="liveness checks during a transport's run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--report", help="write the reports as JSON here")
    args = p.parse_args(argv)
    args.transport = args.transport or ["tcp", "ws", "quic"]
    sys.exit(asyncio.run(_main(args)))


if __name__ == "__main__":
    main()
