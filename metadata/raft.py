"""The metadata machine replicated with pysyncobj, behind an asyncio facade.

This is the only module that imports pysyncobj (STYLE.md section 3 lists its
pitfalls; this is how each is handled):

- **Pickled commands.** One replicated method, ``_apply_command`` (``ver=1``),
  carries our versioned command bytes (:mod:`.commands`); domain objects are never
  pickled. pysyncobj resolves a replicated name through the cluster's enabled
  *code version*, which starts at 0 and is reset to 0 on every snapshot load, so
  a ``ver=1`` method could never be called: ``_getFuncName`` pins it. New commands
  are new ops inside the bytes, never new replicated methods.
- **Journal.** :class:`~.journal.DurableJournal` replaces pysyncobj's unsynced
  mmap journal. The journal is synced before any Raft message leaves the node
  (``_SyncedTransport``) and after every tick, so an entry is durable before it
  can count towards a commit, hence before any proposal is acknowledged: an
  acknowledged change survives kill -9 (and power loss) and a restart.
- **Snapshots.** pysyncobj's custom serializer hooks write our own bytes
  (:func:`.snapshot.pack_dump`), never a pickled ``__dict__``, and never fork.
  Loading one emits :class:`~.events.StateRestored`.
- **Threads.** pysyncobj runs on one thread we own (no ``autoTick``), which
  constructs it, ticks it and destroys it. Commands are applied there under
  :attr:`MetadataStore.lock`; results and events go back to the event loop with
  ``call_soon_threadsafe``, one batch per tick, in apply order. Nothing blocks the
  loop (no ``sync=True``).
- **Latency.** A proposal wakes the tick thread through a pipe; while a proposal
  is queued or an entry is not yet committed/applied the thread ticks without
  sleeping, so a one-member group commits in about three ticks plus an fdatasync.
- **Security.** No pickle: frames and commands are :mod:`.raft_wire` bytes, and
  pysyncobj encrypts and authenticates every frame with the cluster secret
  (``password``). A one-member group binds no port at all. What else is changed in
  pysyncobj, and why, is in :mod:`.raft_patches`.
- **Check quorum.** A leader that has not heard from a majority for
  ``_LEADER_FALLBACK`` steps down (pysyncobj's default is 30 s, during which an
  isolated leader still proposed and answered reads).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pysyncobj.syncobj as _pso
from pysyncobj import SyncObj, SyncObjConf, replicated
from pysyncobj.config import FAIL_REASON
from pysyncobj.node import TCPNode
from pysyncobj.poller import POLL_EVENT_TYPE

from whippet.metadata import raft_wire
from whippet.metadata._outbox import MetadataUnavailable, Outbox
from whippet.metadata.commands import Command, decode_command
from whippet.metadata.events import Event, StateRestored
from whippet.metadata.journal import DurableJournal, Entry, fsync_dir
from whippet.metadata.machine import MetadataMachine
from whippet.metadata.raft_patches import (
    MAX_FRAME,
    LocalTransport,
    MemberTransport,
    install,
    trim_append_entries,
)
from whippet.metadata.snapshot import decode_state, pack_raft_dump, unpack_raft_dump
from whippet.wire.errors import IggyError, StateFileCorrupted

__all__ = ["MetadataStore", "MetadataUnavailable"]

log = logging.getLogger(__name__)

_TICK = 0.05  # idle poll timeout; sockets and proposals wake the thread earlier
_JOURNAL = "metadata.journal"
_DUMP = "metadata.dump"
_CONSTRUCT_LOCK = threading.Lock()  # guards the createJournal swap below
_ROLES = {0: "follower", 1: "candidate", 2: "leader"}
#: a leader that has not heard from a majority for this long steps down (check quorum)
_LEADER_FALLBACK = 1.0
_NO_OP = 1  # pysyncobj's _COMMAND_TYPE.NO_OP
MAX_ENTRY_BATCH = MAX_FRAME // 4

install()


_FAILURES: dict[int, tuple[str, bool]] = {
    FAIL_REASON.QUEUE_FULL: ("metadata command queue is full", False),
    FAIL_REASON.MISSING_LEADER: ("no metadata leader", False),
    FAIL_REASON.DISCARDED: ("metadata command discarded by a new leader", False),
    FAIL_REASON.NOT_LEADER: ("metadata leader lost leadership before accepting the command", False),
    FAIL_REASON.LEADER_CHANGED: ("metadata leader changed; the command may or may not apply", True),
    FAIL_REASON.REQUEST_DENIED: ("metadata request denied", False),
    FAIL_REASON.UNKNOWN_OUTCOME: ("metadata command outcome unknown", True),
}


def _unavailable(err: int) -> MetadataUnavailable:
    reason, unknown = _FAILURES.get(err, (f"metadata command failed (reason {err})", True))
    return MetadataUnavailable(reason, outcome_unknown=unknown)


class _SyncedTransport(MemberTransport):
    """No Raft message (vote, append ack, append request) leaves before the journal
    is durable: that is Raft's persist-before-respond rule."""

    def send(self, node: Any, message: Any) -> bool:
        self._syncObj._journal.sync()
        return bool(super().send(node, message))


class _LocalTransport(LocalTransport):
    """A one-member group: no port, nothing to send."""


class _Replica(SyncObj):  # type: ignore[misc]
    def __init__(self, store: MetadataStore, self_address: str, partners: list[str], conf: SyncObjConf,
                 journal: DurableJournal, open_port: bool) -> None:  # fmt: skip
        self._store = store
        self._journal = journal
        # SyncObj.__init__ builds its journal with the module-level createJournal and
        # offers no hook for another class: swap it for the duration of the call.
        with _CONSTRUCT_LOCK:
            original = _pso.createJournal
            _pso.createJournal = lambda _path: journal
            try:
                transport = _SyncedTransport if open_port or partners else _LocalTransport
                super().__init__(self_address, partners, conf, transportClass=transport)
            finally:
                _pso.createJournal = original

    def _SyncObj__onMessageReceived(self, node: Any, message: Any) -> None:
        """pysyncobj's handler behind Raft's AppendEntries rule (see raft_patches)."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            log.warning("raft: dropped a malformed message from %s", node)
            return
        if message["type"] == "append_entries":
            if "transmission" in message:
                log.warning("raft: refused a pickled 'transmission' entry from %s", node)
                return
            message, verified_end = trim_append_entries(message, self._entry_term)
            if verified_end is not None:
                SyncObj._SyncObj__onMessageReceived(self, node, message)
                self._SyncObj__sendNextNodeIdx(node, nextNodeIdx=verified_end + 1, success=True)
                return
        try:
            SyncObj._SyncObj__onMessageReceived(self, node, message)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            log.warning("raft: dropped a message from %s that pysyncobj could not handle: %r", node, exc)

    def _entry_term(self, idx: Any) -> int | None:
        if not isinstance(idx, int):
            return None
        entries = self._SyncObj__getEntries(idx, 1)
        return int(entries[0][2]) if entries and entries[0][1] == idx else None

    def _getFuncName(self, funcName: Any) -> Any:
        if funcName == "_apply_command":
            return "_apply_command_v1"
        return super()._getFuncName(funcName)

    @replicated(ver=1)  # type: ignore[untyped-decorator]
    def _apply_command(self, data: bytes) -> Any:
        return self._store._apply_entry(data)


def _bind_address(self_address: str) -> str | None:
    """Bind to the node's own address when it is an IP literal (keeps a loopback
    test cluster private); pysyncobj's default is every interface."""
    host = self_address.rsplit(":", 1)[0].strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return self_address


class MetadataStore:
    """Asyncio facade over the replicated :class:`MetadataMachine`.

    Reads: ``with store.lock: store.machine.stream(...)``. Writes:
    ``await store.propose(cmd)``. Changes: :meth:`subscribe`.
    """

    def __init__(self, *, loop: asyncio.AbstractEventLoop, self_address: str, partners: list[str],
                 data_dir: Path, conf: SyncObjConf, propose_timeout: float) -> None:  # fmt: skip
        self.lock = threading.RLock()
        self._loop = loop
        self._self_address = self_address
        self._partners = list(partners)
        self._data_dir = Path(data_dir)
        self._conf = conf
        self._propose_timeout = propose_timeout
        self._machine = MetadataMachine()
        self._journal: DurableJournal | None = None
        self._replica: _Replica | None = None
        self._thread: threading.Thread | None = None
        self._seq = 0  # commands applied (and snapshots loaded) on this node
        self._outbox = Outbox(loop)
        self._pending: set[asyncio.Future[Any]] = set()
        self._submitted = 0
        self._open_port = True
        self._stopping = False
        self._closed = False
        self._status: dict[str, Any] = {"self": self_address, "role": "follower", "ready": False}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # --- lifecycle --------------------------------------------------------------------------
    @classmethod
    async def start(
        cls,
        *,
        self_address: str,
        partners: list[str],
        data_dir: Path,
        password: str | None,
        loop: asyncio.AbstractEventLoop | None = None,
        propose_timeout: float = 5.0,
        ready_timeout: float = 10.0,
        bind_address: str | None = None,
        compaction_entries: int = 5000,
        compaction_seconds: float = 300.0,
        open_port: bool = True,
    ) -> MetadataStore:
        """Open (or create) the replica in ``data_dir`` and join the group.

        A one-member group (``partners == []``) elects itself at once and this
        returns once it leads with every journaled command applied. With partners
        it returns as soon as the Raft port is bound; see :meth:`wait_ready`.
        ``open_port=False`` (only without partners) binds no port at all: the group
        can then never grow, and nothing outside the process can reach it.

        Raises:
            StateFileCorrupted: the journal, its meta file or the snapshot is damaged.
            MetadataUnavailable: a one-member group did not become ready in time.
            pysyncobj.SyncObjException: the Raft port could not be bound.
        """
        loop = loop or asyncio.get_running_loop()
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        conf = SyncObjConf(
            autoTick=False,
            journalFile=str(data_dir / _JOURNAL),
            fullDumpFile=str(data_dir / _DUMP),
            useFork=False,
            password=password,
            dynamicMembershipChange=True,
            leaderFallbackTimeout=_LEADER_FALLBACK,
            appendEntriesBatchSizeBytes=MAX_ENTRY_BATCH,  # never the pickled "transmission" path
            appendEntriesUseBatch=False,  # send each entry at once: latency over throughput
            commandsWaitLeader=True,
            bindAddress=bind_address or _bind_address(self_address),
            connectionRetryTime=1.0,  # only the higher address dials: a restarted peer waits for this
            bindRetryTime=0.1,
            maxBindRetries=20,
            logCompactionMinEntries=compaction_entries,
            logCompactionMinTime=compaction_seconds,
        )
        store = cls(loop=loop, self_address=self_address, partners=partners, data_dir=data_dir,
                    conf=conf, propose_timeout=propose_timeout)  # fmt: skip
        store._open_port = open_port
        conf.serializer = store._write_dump
        conf.deserializer = store._read_dump
        started: asyncio.Future[None] = loop.create_future()
        store._thread = threading.Thread(
            target=store._run, args=(started,), name=f"metadata-raft-{self_address}", daemon=True
        )
        store._thread.start()
        try:
            await started
            if not partners:
                await store.wait_ready(ready_timeout)
        except BaseException:
            await store.close()
            raise
        return store

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until a leader is known and this replica has applied everything
        it knows to be committed. Raises MetadataUnavailable on timeout."""
        deadline = self._loop.time() + timeout
        while not self._status.get("ready"):
            if self._closed:
                raise MetadataUnavailable("metadata store is closed")
            if self._loop.time() > deadline:
                raise MetadataUnavailable(f"metadata replica not ready after {timeout}s")
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        """Stop Raft, sync and close the journal; pending proposals fail."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake()
        if self._thread is not None and self._thread.is_alive():
            await self._loop.run_in_executor(None, self._thread.join)
        for fut in self._pending:
            if not fut.done():
                fut.set_exception(
                    MetadataUnavailable("metadata store closed", outcome_unknown=True)
                )
        self._pending.clear()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1  # never write to a recycled descriptor

    # --- reads ---------------------------------------------------------------------------------
    @property
    def machine(self) -> MetadataMachine:
        """The local replica of the state; read it under :attr:`lock`."""
        return self._machine

    @property
    def is_leader(self) -> bool:
        return bool(self._status.get("role") == "leader")

    @property
    def leader_address(self) -> str | None:
        leader: str | None = self._status.get("leader")
        return leader

    def status(self) -> dict[str, Any]:
        """role, term, commit_index, last_applied, leader, has_quorum, partners,
        log_len, last_log_index, ready (refreshed every tick)."""
        return dict(self._status)

    # --- writes --------------------------------------------------------------------------------
    async def propose(self, cmd: Command, *, timeout: float | None = None) -> Any:
        """Replicate ``cmd``; return its result once it is committed and applied here.

        Works on any member (a follower forwards to the leader).

        Raises:
            IggyError: the machine rejected the command (same on every node).
            MetadataUnavailable: not committed in time / no leader / queue full.
        """
        data = cmd.encode()
        replica = self._require_replica()
        return await self._submit(lambda cb: replica._apply_command(data, callback=cb), timeout)

    async def barrier(self, *, timeout: float | None = None) -> None:
        """Return once this replica has applied everything committed before the call.

        A no-op entry goes through the Raft leader; when it is applied here, so is
        every entry committed before it. Reads that must not go back in time (a
        consumer offset read after it was stored on another node) call this first;
        an isolated member cannot commit, so it fails instead of answering stale data.

        Raises:
            MetadataUnavailable: not committed in time / no leader.
        """
        replica = self._require_replica()
        await self._submit(lambda cb: replica._applyCommand(b"", cb, _NO_OP), timeout)

    async def add_member(self, address: str, *, timeout: float | None = None) -> None:
        """Add a Raft member (dynamic membership; one change at a time)."""
        replica = self._require_replica()
        await self._submit(lambda cb: replica.addNodeToCluster(address, callback=cb), timeout)

    async def remove_member(self, address: str, *, timeout: float | None = None) -> None:
        replica = self._require_replica()
        await self._submit(lambda cb: replica.removeNodeFromCluster(address, callback=cb), timeout)

    def request_compaction(self) -> None:
        """Snapshot the state and compact the journal at the next tick (normally
        after ``compaction_entries`` entries or ``compaction_seconds``)."""
        self._require_replica().forceLogCompaction()
        self._wake()

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on the event loop for every event applied from now on,
        in apply order. Events already reflected in the state at subscription time
        are not delivered, so read the initial state and subscribe inside one
        ``with store.lock:`` block to miss nothing and see nothing twice. Call on
        the loop thread. Returns an unsubscribe function."""
        with self.lock:
            since = self._seq
        return self._outbox.subscribe(callback, since)

    # --- loop side -----------------------------------------------------------------------------
    def _require_replica(self) -> _Replica:
        if self._closed or self._replica is None:
            raise MetadataUnavailable("metadata store is closed")
        return self._replica

    async def _submit(
        self, send: Callable[[Callable[[Any, int], None]], Any], timeout: float | None
    ) -> Any:
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._pending.add(fut)

        def on_done(res: Any, err: int) -> None:  # tick thread (or here, for QUEUE_FULL)
            if err != FAIL_REASON.SUCCESS:
                self._outbox.post_outcome(fut, None, _unavailable(err))
            elif isinstance(res, tuple) and len(res) == 3 and res[0] == "err":
                self._outbox.post_outcome(fut, None, IggyError.from_code(res[1], res[2]))
            else:
                self._outbox.post_outcome(fut, res, None)

        try:
            send(on_done)
        except BlockingIOError:
            pass  # pysyncobj's own wake-up pipe is full; the command is queued anyway
        self._submitted += 1  # after the enqueue: the tick thread relies on this order
        self._wake()
        try:
            return await asyncio.wait_for(
                fut, self._propose_timeout if timeout is None else timeout
            )
        except TimeoutError:
            raise MetadataUnavailable(
                "metadata command not committed in time; it may still apply", outcome_unknown=True
            ) from None
        finally:
            self._pending.discard(fut)

    def _wake(self) -> None:
        if self._wake_w < 0:
            return
        try:
            os.write(self._wake_w, b"!")
        except (BlockingIOError, OSError):
            pass  # already full of wake-ups, or closed

    # --- Raft thread side ---------------------------------------------------------------------
    def _apply_entry(self, data: bytes) -> Any:
        """The replicated method's body: decode, apply, queue the events."""
        with self.lock:
            self._seq += 1
            try:
                result = self._machine.apply(decode_command(data))
            except IggyError as exc:
                return ("err", exc.status, exc.reason)
            except Exception:
                log.exception("BUG: metadata command raised a non-Iggy error: %r", data[:200])
                return ("err", 1, "internal error applying a metadata command")
            if self._machine.events:
                self._outbox.post_events(self._seq, list(self._machine.events))
            return result

    def _write_dump(self, path: str, raft_data: tuple[Entry, Entry, Any]) -> None:
        last, prev, cluster = raft_data
        with self.lock:
            snap = self._machine.snapshot()
        with open(path, "wb") as f:  # pysyncobj renames it into place afterwards
            f.write(pack_raft_dump(last, prev, [str(n.id) for n in cluster], snap))
            f.flush()
            os.fsync(f.fileno())

    def _read_dump(self, path: str) -> tuple[Entry, Entry, list[TCPNode]]:
        with open(path, "rb") as f:
            blob = f.read()
            # A dump installed from the leader was written without fsync, and
            # pysyncobj clears the journal right after this returns.
            os.fsync(f.fileno())
        fsync_dir(Path(path).parent)
        last, prev, members, snap = unpack_raft_dump(blob)
        machine = MetadataMachine(decode_state(snap))
        with self.lock:
            self._machine = machine
            self._seq += 1
            self._outbox.post_events(self._seq, [StateRestored()])
        # pysyncobj clears the whole journal unless it starts with these two entries;
        # after a crash between writing the dump and compacting it would not.
        assert self._journal is not None
        self._journal.trim_before(prev, last)
        return (last, prev, [TCPNode(a) for a in members])

    def _open_journal(self) -> DurableJournal:
        journal = DurableJournal(self._data_dir / _JOURNAL)
        upgraded = [_upgrade_entry(e) for e in journal]
        if any(new is not old for new, old in zip(upgraded, journal, strict=True)):
            log.info("%s: rewriting pickled journal entries in the current format", self._data_dir)
            journal.rewrite(upgraded)
        dump = self._data_dir / _DUMP
        if dump.exists():
            *_, snap = unpack_raft_dump(dump.read_bytes())  # fail loudly now, not later in a log
            decode_state(snap)
        elif len(journal) and journal[0][1] > 1:
            journal._destroy()
            raise StateFileCorrupted(f"{dump} is missing but the journal was compacted")
        return journal

    def _run(self, started: asyncio.Future[None]) -> None:
        try:
            self._journal = self._open_journal()
            self._replica = _Replica(
                self, self._self_address, self._partners, self._conf, self._journal, self._open_port
            )
            self._replica._poller.subscribe(self._wake_r, self._drain_wake, POLL_EVENT_TYPE.READ)
            if not self._partners:
                # Alone, no one else can lead: skip the random election timeout.
                self._replica._SyncObj__raftElectionDeadline = 0.0
        except BaseException as exc:  # noqa: BLE001 (handed to start(), which re-raises)
            if self._journal is not None and self._replica is None:
                self._journal._destroy()
            self._loop.call_soon_threadsafe(_settle, started, exc)
            return
        self._loop.call_soon_threadsafe(_settle, started, None)
        self._loop_ticks()

    def _loop_ticks(self) -> None:
        replica, journal = self._replica, self._journal
        assert replica is not None and journal is not None
        seen = -1
        while not self._stopping:
            submitted = self._submitted
            busy = submitted != seen or self._behind()
            seen = submitted
            try:
                replica.doTick(0.0 if busy else _TICK)
            except Exception:
                log.exception("metadata raft tick failed")
                time.sleep(_TICK)
            try:
                journal.sync()
            except OSError:
                log.critical("metadata journal fsync failed: stopping this replica", exc_info=True)
                self._stopping = True
            self._refresh_status()
            self._outbox.flush()
        try:
            replica.destroy()
        except Exception:
            log.exception("metadata raft shutdown failed")
        self._status = {**self._status, "role": "stopped", "ready": False}
        self._outbox.flush()

    def _behind(self) -> bool:
        """Something can progress without waiting for the network."""
        r = self._replica
        assert r is not None and self._journal is not None
        if r.raftLastApplied < r.raftCommitIndex:
            return True
        return bool(r._isLeader() and not r.otherNodes and r.raftCommitIndex < self._journal[-1][1])

    def _refresh_status(self) -> None:
        r = self._replica
        assert r is not None and self._journal is not None
        s = r.getStatus()
        leader = s["leader"]
        last_index = self._journal[-1][1] if len(self._journal) else 0
        role = _ROLES.get(s["state"], str(s["state"]))
        leader_commit = s["leader_commit_idx"]
        ready = (
            leader is not None
            and leader_commit is not None
            and s["last_applied"] >= leader_commit
            and (role != "leader" or s["last_applied"] == last_index)
        )
        self._status = {
            "self": self._self_address,
            "role": role,
            "term": s["raft_term"],
            "commit_index": s["commit_idx"],
            "last_applied": s["last_applied"],
            "last_log_index": last_index,
            "leader": None if leader is None else str(leader.id),
            "has_quorum": s["has_quorum"],
            "partners": sorted(str(n.id) for n in r.otherNodes),
            "log_len": s["log_len"],
            "ready": ready,
        }

    def _drain_wake(self, _fd: int, _mask: int) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass


def _upgrade_entry(entry: Entry) -> Entry:
    """A journal entry written by a version that pickled commands, re-encoded with
    :mod:`.raft_wire` (only ever applied to this node's own journal)."""
    command, idx, term = entry
    if len(command) < 2 or command[1:2] != b"\x80":  # pickle protocol >= 2 starts with PROTO
        return entry
    return (command[:1] + raft_wire.dumps(raft_wire.legacy_command(command[1:])), idx, term)


def _settle(fut: asyncio.Future[None], exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)
