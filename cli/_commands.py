"""What each ``whippet`` command does: one coroutine per leaf of the command tree.

Each takes the connected :class:`~whippet.sdk.Client`, the parsed arguments and
the :class:`~whippet.cli._output.Printer`, calls the SDK, and prints. Failures
are the SDK's typed errors; ``cli.__main__`` turns them into messages and exit codes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from whippet.cli import _values
from whippet.cli._output import Printer, Progress, message_rows, timestamp
from whippet.sdk import Client
from whippet.sdk.messages import Message, PolledMessages
from whippet.wire._codec import U64_MAX
from whippet.wire.errors import ResourceNotFound
from whippet.wire.headers import encode_user_headers
from whippet.wire.primitives import Consumer, Partitioning, PollingStrategy

__all__ = ["COMMANDS"]

Handler = Callable[[Client, argparse.Namespace, Printer], Awaitable[None]]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return register


def _missing(what: str) -> ResourceNotFound:
    return ResourceNotFound(f"{what} not found")


def _expiry(us: int) -> str:
    if us == U64_MAX:
        return "never_expire"
    return "server_default" if us == 0 else f"{us / 1e6:g}s"


def _size(n: int) -> str:
    return "unlimited" if n == U64_MAX else f"{n} B"


# --- streams ---
@command("stream.create")
async def stream_create(c: Client, a: argparse.Namespace, out: Printer) -> None:
    s = await c.create_stream(a.name)
    out.info(f"Stream with name: {s.name} and ID: {s.id} created")
    if out.json:
        out.data(s)


@command("stream.delete")
async def stream_delete(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.delete_stream(a.stream_id)
    out.info(f"Stream with ID: {a.stream_id} deleted")


@command("stream.update")
async def stream_update(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.update_stream(a.stream_id, a.name)
    out.info(f"Stream with ID: {a.stream_id} updated name: {a.name}")


@command("stream.purge")
async def stream_purge(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.purge_stream(a.stream_id)
    out.info(f"Stream with ID: {a.stream_id} purged")


@command("stream.get")
async def stream_get(c: Client, a: argparse.Namespace, out: Printer) -> None:
    d = await c.get_stream(a.stream_id)
    if d is None:
        raise _missing(f"stream {a.stream_id}")
    s = d.stream
    out.fields(
        [("Stream ID", s.id), ("Created", timestamp(s.created_at)), ("Stream name", s.name),
         ("Stream size", f"{s.size_bytes} B"), ("Stream message count", s.messages_count),
         ("Stream topics count", s.topics_count)],
        raw=d,
    )


@command("stream.list")
async def stream_list(c: Client, a: argparse.Namespace, out: Printer) -> None:
    streams = await c.get_streams()
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    out.table(
        ["ID", "Created", "Name", "Size (B)", "Messages Count", "Topics Count"],
        [(s.id, timestamp(s.created_at), s.name, s.size_bytes, s.messages_count, s.topics_count) for s in streams],
        raw=streams,
    )


# --- topics ---
@command("topic.create")
async def topic_create(c: Client, a: argparse.Namespace, out: Printer) -> None:
    expiry = _values.expiry_us(a.message_expiry)
    d = await c.create_topic(
        a.stream_id, a.name, a.partitions_count, a.compression_algorithm, expiry, a.max_topic_size,
        a.replication_factor,
    )
    t = d.topic
    out.info(
        f"Topic with name: {t.name}, ID: {t.id}, partitions count: {t.partitions_count}, "
        f"compression: {a.compression_algorithm}, message expiry: {_expiry(t.message_expiry)}, "
        f"max topic size: {_size(t.max_topic_size)}, replication factor: {t.replication_factor} "
        f"created in stream with ID: {a.stream_id}"
    )
    if out.json:
        out.data(d)


@command("topic.update")
async def topic_update(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.update_topic(
        a.stream_id, a.topic_id, a.name, a.compression_algorithm, _values.expiry_us(a.message_expiry),
        a.max_topic_size, a.replication_factor,
    )
    out.info(f"Topic with ID: {a.topic_id} in stream with ID: {a.stream_id} updated")


@command("topic.delete")
async def topic_delete(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.delete_topic(a.stream_id, a.topic_id)
    out.info(f"Topic with ID: {a.topic_id} in stream with ID: {a.stream_id} deleted")


@command("topic.purge")
async def topic_purge(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.purge_topic(a.stream_id, a.topic_id)
    out.info(f"Topic with ID: {a.topic_id} in stream with ID: {a.stream_id} purged")


@command("topic.ack")
async def topic_ack(c: Client, a: argparse.Namespace, out: Printer) -> None:
    where = f"topic with ID: {a.topic_id} in stream with ID: {a.stream_id}"
    if a.level is not None:
        await c.set_topic_ack(a.stream_id, a.topic_id, a.level)
        out.info(f"Ack level of {where} set to {a.level}")
        return
    ack = await c.get_topic_ack(a.stream_id, a.topic_id)
    out.fields([("Topic ack", ack.ack or "default"), ("Effective ack", ack.effective)], raw=ack)


@command("topic.get")
async def topic_get(c: Client, a: argparse.Namespace, out: Printer) -> None:
    d = await c.get_topic(a.stream_id, a.topic_id)
    if d is None:
        raise _missing(f"topic {a.topic_id} in stream {a.stream_id}")
    t = d.topic
    out.fields(
        [("Topic id", t.id), ("Created", timestamp(t.created_at)), ("Topic name", t.name),
         ("Topic size", f"{t.size_bytes} B"), ("Compression", {1: "none", 2: "gzip"}.get(t.compression, t.compression)),
         ("Message expiry", _expiry(t.message_expiry)), ("Max topic size", _size(t.max_topic_size)),
         ("Replication factor", t.replication_factor), ("Topic message count", t.messages_count),
         ("Partitions count", t.partitions_count)],
        raw=d,
    )


@command("topic.list")
async def topic_list(c: Client, a: argparse.Namespace, out: Printer) -> None:
    if await c.get_stream(a.stream_id) is None:
        raise _missing(f"stream {a.stream_id}")
    topics = await c.get_topics(a.stream_id)
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    out.table(
        ["ID", "Created", "Name", "Size (B)", "Max Topic Size", "Expiry", "Messages Count", "Partitions Count"],
        [(t.id, timestamp(t.created_at), t.name, t.size_bytes, _size(t.max_topic_size), _expiry(t.message_expiry),
          t.messages_count, t.partitions_count) for t in topics],
        raw=topics,
    )


# --- partitions, segments ---
@command("partition.create")
async def partition_create(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.create_partitions(a.stream_id, a.topic_id, a.partitions_count)
    out.info(f"Created {a.partitions_count} partitions for topic with ID: {a.topic_id} and stream with ID: {a.stream_id}")


@command("partition.delete")
async def partition_delete(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.delete_partitions(a.stream_id, a.topic_id, a.partitions_count)
    out.info(f"Deleted {a.partitions_count} partitions for topic with ID: {a.topic_id} and stream with ID: {a.stream_id}")


@command("segment.delete")
async def segment_delete(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.delete_segments(a.stream_id, a.topic_id, a.partition_id, a.segments_count)
    out.info(f"Deleted {a.segments_count} segments of partition {a.partition_id}")


# --- system ---
@command("ping")
async def ping(c: Client, a: argparse.Namespace, out: Printer) -> None:
    times = []
    for i in range(a.count):
        t0 = time.perf_counter()
        await c.ping()
        times.append((time.perf_counter() - t0) * 1000)
        out.info(f"Ping sequence id: {i + 1:>4} time: {times[-1]:.2f} ms")
    if out.json:
        out.data({"count": a.count, "ms": times})


@command("me")
async def me(c: Client, a: argparse.Namespace, out: Printer) -> None:
    d = await c.get_me()
    cl = d.client
    out.fields(
        [("Client ID", cl.client_id), ("User ID", cl.user_id), ("Address", cl.address),
         ("Transport", {1: "TCP", 2: "QUIC", 3: "HTTP", 4: "WebSocket"}.get(cl.transport, cl.transport)),
         ("Consumer groups", cl.consumer_groups_count)],
        raw=d,
    )


@command("stats")
async def stats(c: Client, a: argparse.Namespace, out: Printer) -> None:
    s = await c.get_stats()
    skip = {"cache_metrics"}
    out.fields([(k, v) for k, v in vars_of(s).items() if k not in skip], raw=s)


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


@command("snapshot")
async def snapshot(c: Client, a: argparse.Namespace, out: Printer) -> None:
    data = await c.get_snapshot(a.compression)
    path = Path(a.out_dir) / f"snapshot_{time.strftime('%Y%m%d_%H%M%S')}.zip"
    path.write_bytes(data)
    out.info(f"Snapshot written to {path} ({len(data)} B)")
    if out.json:
        out.data({"path": str(path), "bytes": len(data)})


@command("cluster.metadata")
async def cluster_metadata(c: Client, a: argparse.Namespace, out: Printer) -> None:
    m = await c.get_cluster_metadata()
    out.info(f"Cluster name: {m.name}")
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    roles = {0: "leader", 1: "follower"}
    statuses = {0: "healthy", 1: "starting", 2: "stopping", 3: "unreachable", 4: "maintenance"}
    out.table(
        ["Name", "IP", "TCP", "QUIC", "HTTP", "WebSocket", "Role", "Status"],
        [(n.name, n.ip, n.tcp_port, n.quic_port, n.http_port, n.websocket_port, roles.get(n.role, n.role),
          statuses.get(n.status, n.status)) for n in m.nodes],
        raw=m,
    )


# --- clients ---
@command("client.get")
async def client_get(c: Client, a: argparse.Namespace, out: Printer) -> None:
    d = await c.get_client(a.client_id)
    if d is None:
        raise _missing(f"client {a.client_id}")
    cl = d.client
    out.fields([("Client ID", cl.client_id), ("User ID", cl.user_id), ("Address", cl.address),
                ("Transport", cl.transport), ("Consumer groups", cl.consumer_groups_count)], raw=d)


@command("client.list")
async def client_list(c: Client, a: argparse.Namespace, out: Printer) -> None:
    clients = await c.get_clients()
    out.mode = "list" if a.list_mode == "list" and not out.json else out.mode
    out.table(["Client ID", "User ID", "Address", "Transport", "Consumer Groups"],
              [(x.client_id, x.user_id, x.address, x.transport, x.consumer_groups_count) for x in clients], raw=clients)


# --- consumer offsets ---
def _consumer(a: argparse.Namespace) -> Consumer:
    return Consumer.group(a.consumer_id) if a.kind == "consumer-group" else Consumer.consumer(a.consumer_id)


@command("offset.get")
async def offset_get(c: Client, a: argparse.Namespace, out: Printer) -> None:
    o = await c.get_consumer_offset(_consumer(a), a.stream_id, a.topic_id, a.partition_id)
    if o is None:
        raise _missing(f"offset of {a.kind} {a.consumer_id} on partition {a.partition_id}")
    out.fields([("Consumer ID", a.consumer_id), ("Stream ID", a.stream_id), ("Topic ID", a.topic_id),
                ("Partition ID", o.partition_id), ("Current offset", o.current_offset),
                ("Stored offset", o.stored_offset)], raw=o)


@command("offset.set")
async def offset_set(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.store_consumer_offset(_consumer(a), a.stream_id, a.topic_id, a.partition_id, a.offset)
    out.info(f"Consumer offset for {a.kind} {a.consumer_id} on partition {a.partition_id} set to {a.offset}")


# --- messages ---
_SEND_BATCH = 1000


@command("message.send")
async def message_send(c: Client, a: argparse.Namespace, out: Printer) -> None:
    """Arguments, or stdin lines sent 1000 at a time (progress on stderr), each with a random id."""
    texts: list[str] = a.messages or [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        raise ValueError("no messages given (as arguments or on stdin)")
    headers = encode_user_headers(a.headers) if a.headers else b""
    if a.partition_id is not None:
        partitioning = Partitioning.partition_id(a.partition_id)
    elif a.message_key is not None:
        partitioning = Partitioning.messages_key(a.message_key)
    else:
        partitioning = Partitioning.balanced()
    progress = Progress("sent", len(texts), force=a.progress)
    results = []
    for i in range(0, len(texts), _SEND_BATCH):
        messages = [Message(t.encode(), user_headers=headers) for t in texts[i : i + _SEND_BATCH]]
        results.append(await c.send_messages(a.stream_id, a.topic_id, messages, partitioning))
        progress.advance(len(messages))
    progress.finish()
    first = results[0]
    where = f" to partition {first.partition_id}" if first.partition_id is not None else ""
    at = f" at offset {first.first_offset}" if first.first_offset is not None and len(results) == 1 else ""
    out.info(f"Sent {len(texts)} message(s){where}{at} of topic with ID: {a.topic_id} and stream with ID: {a.stream_id}")
    if out.json:
        out.data(results)


def _strategy(a: argparse.Namespace) -> PollingStrategy:
    if a.offset is not None:
        return PollingStrategy.offset(a.offset)
    if a.first:
        return PollingStrategy.first()
    if a.last:
        return PollingStrategy.last()
    if a.next:
        return PollingStrategy.next()
    return PollingStrategy.offset(0)


_POLL_PAGE = 1000


@command("message.poll")
async def message_poll(c: Client, a: argparse.Namespace, out: Printer) -> None:
    """Read up to ``--message-count`` messages, in pages of 1000 (progress on stderr)."""
    strategy = _strategy(a)
    progress = Progress("polled", a.message_count, force=a.progress)
    messages: list[Any] = []
    polled = None
    while len(messages) < a.message_count:
        polled = await c.poll_messages(
            a.stream_id, a.topic_id, a.partition_id, Consumer.consumer(a.consumer), strategy,
            min(_POLL_PAGE, a.message_count - len(messages)), a.auto_commit,
        )
        messages += polled.messages
        progress.advance(len(polled.messages))
        if not polled.messages or len(messages) >= a.message_count:
            break
        strategy = PollingStrategy.offset(polled.messages[-1].offset + 1)
    progress.finish()
    assert polled is not None
    result = PolledMessages(polled.partition_id, polled.current_offset, messages)
    out.info(f"Polled {result.count} message(s) from partition {result.partition_id}, "
             f"current offset: {result.current_offset}")
    headers = ["Offset", "Timestamp", "ID", "Size", "Payload"] + (["Headers"] if a.show_headers else [])
    rows = [row[1:] for row in message_rows(messages, result.partition_id, a.full, a.show_headers)]
    if a.output_file:
        with open(a.output_file, "ab") as f:
            for m in messages:
                f.write(m.payload + b"\n")
    out.table(headers, rows, raw=result)


@command("message.flush")
async def message_flush(c: Client, a: argparse.Namespace, out: Printer) -> None:
    await c.flush_unsaved_buffer(a.stream_id, a.topic_id, a.partition_id, a.fsync)
    out.info(f"Flushed partition {a.partition_id} (fsync: {a.fsync})")
