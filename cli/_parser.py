"""The ``whippet`` command tree: the Iggy CLI's commands, aliases and argument order.

Global options come before the command (``whippet -u iggy -p iggy stream create
dev``); each leaf records its handler name in ``cmd`` (``"stream.create"``), which
``cli._commands`` maps to a coroutine. Connection flags: ``--nodes`` (seed list),
``--connection-string``, ``--transport``, ``--tcp-server-address``,
``--quic-server-address``, ``--websocket-server-address``, TLS flags; all also
read from ``WHIPPET_*`` env vars.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from whippet import SERVER_VERSION, __version__
from whippet.cli import _values
from whippet.wire.ack import ACK_LEVELS

__all__ = ["ENV_PREFIX", "build_parser"]

ENV_PREFIX = "WHIPPET_"


def _value(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    """Make a value parser's ValueError an argparse usage error with its message."""

    def parse(text: str) -> Any:
        try:
            return fn(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = fn.__name__
    return parse


def _u32(text: str) -> int:
    if not text.isdigit() or int(text) > 0xFFFFFFFF:
        raise ValueError(f"{text!r} is not a number in 0..4294967295")
    return int(text)


def _positive(text: str) -> int:
    n = _u32(text)
    if n < 1:
        raise ValueError("must be at least 1")
    return n


U32 = _value(_u32)
POSITIVE = _value(_positive)
SIZE = _value(_values.size_bytes)
GLOBAL_PERMS = _value(_values.global_permissions)
STREAM_PERMS = _value(_values.stream_permissions)
HEADER = _value(_values.header)


class _Tree:
    def __init__(self, sub: Any) -> None:
        self.sub = sub

    def group(self, name: str, aliases: list[str], help: str) -> _Tree:
        parser = self.sub.add_parser(name, aliases=aliases, help=help, description=help, allow_abbrev=False)
        return _Tree(parser.add_subparsers(dest=f"{name}_action", metavar="ACTION", required=True))

    def leaf(self, cmd: str, name: str, aliases: list[str], help: str, short_output: bool = False) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self.sub.add_parser(
            name, aliases=aliases, help=help, description=help, allow_abbrev=False
        )
        parser.set_defaults(cmd=cmd)
        # --output/--quiet are accepted after the command too (SUPPRESS keeps the global value otherwise)
        flags = ["-o", "--output"] if short_output else ["--output"]
        parser.add_argument(*flags, choices=["table", "list", "json"], default=argparse.SUPPRESS, help="output style")
        parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS)
        return parser


def _list_mode(p: argparse.ArgumentParser) -> None:
    p.add_argument("-l", "--list-mode", choices=["table", "list"], default="table", help="output style")


def _stream_topic(p: argparse.ArgumentParser) -> None:
    p.add_argument("stream_id", help="stream id or name")
    p.add_argument("topic_id", help="topic id or name")


def _globals(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    g = p.add_argument_group("credentials")
    g.add_argument("-u", "--username", default=env(ENV_PREFIX + "USERNAME"), help="user to log in as")
    g.add_argument("-p", "--password", default=env(ENV_PREFIX + "PASSWORD"), help="its password")
    g.add_argument("-t", "--token", default=env(ENV_PREFIX + "TOKEN"), help="a personal access token instead")
    c = p.add_argument_group("connection")
    c.add_argument("--nodes", default=env(ENV_PREFIX + "NODES"),
                   help="comma-separated seed nodes host:port (default 127.0.0.1:8090)")
    c.add_argument("--connection-string", default=env(ENV_PREFIX + "CONNECTION_STRING"),
                   help="whippet://user:pass@h1:8090,h2:8090 (iggy:// accepted)")
    c.add_argument("--transport", choices=["tcp", "quic", "ws", "websocket"],
                   default=env(ENV_PREFIX + "TRANSPORT") or "tcp", help="websocket = ws (Iggy CLI spelling)")
    c.add_argument("--tcp-server-address", default=None, help="one TCP node (Iggy CLI spelling)")
    c.add_argument("--quic-server-address", default=None, help="one QUIC node (Iggy CLI spelling)")
    c.add_argument("--websocket-server-address", default=None, help="one WebSocket node (Iggy CLI spelling)")
    c.add_argument("--tls", action="store_true", help="TLS over TCP or WebSocket (wss)")
    c.add_argument("--tls-domain", default="", help="name to verify the certificate against")
    c.add_argument("--tls-ca-file", default="", help="CA bundle for the node certificates")
    c.add_argument("--tls-insecure", action="store_true", help="do not verify the node certificate")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a node (default 10)")
    o = p.add_argument_group("output")
    o.add_argument("--output", choices=["table", "list", "json"], default="table", help="how results are printed")
    o.add_argument("-q", "--quiet", action="store_true", help="print results only")
    o.add_argument("--progress", action="store_true",
                   help="report progress of long operations on stderr even when it is not a terminal")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="whippet",
        allow_abbrev=False,
        description="Command line client for whippet (and any Iggy 0.8 server).",
        epilog="Exit codes: 0 ok, 1 the node refused the command, 2 bad usage, 3 cannot reach a node, "
        "4 not authenticated or not allowed, 5 resource not found, 130 interrupted.",
    )
    p.add_argument("--version", action="version", version=f"whippet {__version__} (Iggy protocol {SERVER_VERSION})")
    _globals(p)
    root = _Tree(p.add_subparsers(dest="command", metavar="COMMAND", required=True))

    s = root.group("stream", ["s"], "streams")
    x = s.leaf("stream.create", "create", ["c"], "create a stream")
    x.add_argument("name")
    x.add_argument("-s", "--stream-id", type=U32, help="ignored: 0.8 assigns ids")
    s.leaf("stream.delete", "delete", ["d"], "delete a stream").add_argument("stream_id")
    x = s.leaf("stream.update", "update", ["u"], "rename a stream")
    x.add_argument("stream_id")
    x.add_argument("name")
    s.leaf("stream.get", "get", ["g"], "show a stream").add_argument("stream_id")
    _list_mode(s.leaf("stream.list", "list", ["l"], "list streams"))
    s.leaf("stream.purge", "purge", ["p"], "delete every message of a stream").add_argument("stream_id")

    t = root.group("topic", ["t"], "topics")
    x = t.leaf("topic.create", "create", ["c"], "create a topic")
    x.add_argument("stream_id")
    x.add_argument("name")
    x.add_argument("partitions_count", type=U32)
    x.add_argument("compression_algorithm", choices=["none", "gzip"])
    x.add_argument("message_expiry", nargs="*", default=[], help="server_default, never_expire, or e.g. 1h 30min")
    x.add_argument("-t", "--topic-id", type=U32, help="ignored: 0.8 assigns ids")
    x.add_argument("-m", "--max-topic-size", type=SIZE, default=0, help="server_default, unlimited, 10GB, ...")
    x.add_argument("-r", "--replication-factor", type=U32, default=0)
    _stream_topic(t.leaf("topic.delete", "delete", ["d"], "delete a topic"))
    x = t.leaf("topic.update", "update", ["u"], "change a topic")
    _stream_topic(x)
    x.add_argument("name")
    x.add_argument("compression_algorithm", choices=["none", "gzip"])
    x.add_argument("message_expiry", nargs="*", default=[])
    x.add_argument("-m", "--max-topic-size", type=SIZE, default=0)
    x.add_argument("-r", "--replication-factor", type=U32, default=0)
    _stream_topic(t.leaf("topic.get", "get", ["g"], "show a topic"))
    x = t.leaf("topic.list", "list", ["l"], "list the topics of a stream")
    x.add_argument("stream_id")
    _list_mode(x)
    _stream_topic(t.leaf("topic.purge", "purge", ["p"], "delete every message of a topic"))
    x = t.leaf("topic.ack", "ack", ["a"], "show or set the ack level sends to a topic wait for (whippet only)")
    _stream_topic(x)
    x.add_argument("level", nargs="?", choices=[*ACK_LEVELS, "default"],
                   help="leader, quorum, all in-sync, or default (the node's cluster_ack); none: show it")

    pa = root.group("partition", ["p"], "partitions")
    x = pa.leaf("partition.list", "list", ["l"],
                "leader, replicas, in-sync set, watermarks and size of each partition (whippet only)")
    _stream_topic(x)
    _list_mode(x)
    for action, alias, help in (("create", "c", "add partitions"), ("delete", "d", "remove the highest partitions")):
        x = pa.leaf(f"partition.{action}", action, [alias], help)
        _stream_topic(x)
        x.add_argument("partitions_count", type=POSITIVE)

    sg = root.group("segment", ["seg"], "segments")
    x = sg.leaf("segment.delete", "delete", ["d"], "delete the oldest segments of a partition")
    _stream_topic(x)
    x.add_argument("partition_id", type=U32)
    x.add_argument("segments_count", type=POSITIVE)

    x = root.leaf("ping", "ping", [], "check that the node answers")
    x.add_argument("-c", "--count", type=POSITIVE, default=1)
    root.leaf("me", "me", [], "show this session")
    root.leaf("stats", "stats", [], "node statistics", short_output=True)
    x = root.leaf("snapshot", "snapshot", [], "download a diagnostics snapshot (zip)")
    x.add_argument("-c", "--compression", type=U32, default=2, help="1 stored .. 6 xz")
    x.add_argument("-o", "--out-dir", default=".")

    pat = root.group("pat", [], "personal access tokens")
    x = pat.leaf("pat.create", "create", ["c"], "create a token (printed once)")
    x.add_argument("name")
    x.add_argument("expiry", nargs="*", default=[], help="never_expire or e.g. 30days")
    pat.leaf("pat.delete", "delete", ["d"], "delete a token").add_argument("name")
    _list_mode(pat.leaf("pat.list", "list", ["l"], "list tokens"))

    u = root.group("user", ["u"], "users")
    x = u.leaf("user.create", "create", ["c"], "create a user")
    # dest differs from the global -u/-p, which a positional of the same name would overwrite
    x.add_argument("new_username", metavar="username")
    x.add_argument("new_user_password", metavar="password")
    x.add_argument("-u", "--user-status", choices=["active", "inactive"], default="active")
    x.add_argument("-g", "--global-permissions", type=GLOBAL_PERMS, help="e.g. m_str,r_str or manage_streams")
    x.add_argument("-s", "--stream-permissions", type=STREAM_PERMS, action="append", help="STREAM_ID#flags")
    u.leaf("user.delete", "delete", ["d"], "delete a user").add_argument("user_id")
    u.leaf("user.get", "get", ["g"], "show a user").add_argument("user_id")
    _list_mode(u.leaf("user.list", "list", ["l"], "list users"))
    x = u.leaf("user.name", "name", ["n"], "rename a user")
    x.add_argument("user_id")
    x.add_argument("new_username", metavar="username")
    x = u.leaf("user.status", "status", ["s"], "activate or deactivate a user")
    x.add_argument("user_id")
    x.add_argument("status", choices=["active", "inactive"])
    x = u.leaf("user.password", "password", ["pwd"], "change a password")
    x.add_argument("user_id")
    x.add_argument("current_password")
    x.add_argument("new_password")
    x = u.leaf("user.permissions", "permissions", ["p"], "replace a user's permissions")
    x.add_argument("user_id")
    x.add_argument("-g", "--global-permissions", type=GLOBAL_PERMS)
    x.add_argument("-s", "--stream-permissions", type=STREAM_PERMS, action="append")

    c = root.group("client", ["c"], "connected clients")
    c.leaf("client.get", "get", ["g"], "show a client").add_argument("client_id", type=U32)
    _list_mode(c.leaf("client.list", "list", ["l"], "list clients"))

    cl = root.group("cluster", ["cl"], "the cluster")
    _list_mode(cl.leaf("cluster.metadata", "metadata", ["m"], "nodes, roles and status"))
    cl.leaf("cluster.status", "status", ["s"],
            "health: nodes, Raft leader, partitions without a leader or under-replicated (whippet only)")

    g = root.group("consumer-group", ["g"], "consumer groups")
    x = g.leaf("group.create", "create", ["c"], "create a consumer group")
    _stream_topic(x)
    x.add_argument("name")
    x.add_argument("-g", "--group-id", type=U32, help="ignored: 0.8 assigns ids")
    for action, alias, help in (("delete", "d", "delete a consumer group"), ("get", "g", "show a consumer group")):
        x = g.leaf(f"group.{action}", action, [alias], help)
        _stream_topic(x)
        x.add_argument("group_id")
    x = g.leaf("group.list", "list", ["l"], "list consumer groups")
    _stream_topic(x)
    _list_mode(x)
    x = g.leaf("group.lag", "lag", [], "messages each group has not consumed yet, per partition (whippet only)")
    _stream_topic(x)
    x.add_argument("group_id", nargs="?", help="one group (default: every group of the topic)")
    _list_mode(x)

    o = root.group("consumer-offset", ["o"], "consumer offsets")
    for action, alias, help in (("get", "g", "show a stored offset"), ("set", "s", "store an offset")):
        x = o.leaf(f"offset.{action}", action, [alias], help)
        x.add_argument("consumer_id")
        _stream_topic(x)
        x.add_argument("partition_id", type=U32)
        if action == "set":
            x.add_argument("offset", type=U32)
        x.add_argument("-k", "--kind", choices=["consumer", "consumer-group"], default="consumer")

    m = root.group("message", ["m"], "messages")
    x = m.leaf("message.send", "send", ["s"], "send messages (arguments, or stdin lines when none)")
    _stream_topic(x)
    part = x.add_mutually_exclusive_group()
    part.add_argument("-p", "--partition-id", type=U32)
    part.add_argument("-m", "--message-key")
    x.add_argument("messages", nargs="*")
    x.add_argument("-H", "--headers", type=HEADER, action="append", default=[], help="key:kind:value")
    x = m.leaf("message.poll", "poll", ["p"], "read messages")
    _stream_topic(x)
    x.add_argument("partition_id", type=U32)
    x.add_argument("-m", "--message-count", type=POSITIVE, default=1)
    x.add_argument("-a", "--auto-commit", action="store_true")
    strat = x.add_mutually_exclusive_group()
    strat.add_argument("-o", "--offset", type=U32)
    strat.add_argument("-f", "--first", action="store_true")
    strat.add_argument("-l", "--last", action="store_true")
    strat.add_argument("-n", "--next", action="store_true")
    x.add_argument("-c", "--consumer", default="0", help="consumer id or name (default 0)")
    x.add_argument("-s", "--show-headers", action="store_true")
    x.add_argument("--full", action="store_true", help="print whole payloads (tables cut them at 80 characters)")
    x.add_argument("--output-file", help="append the payloads to this file, one per line")
    x = m.leaf("message.tail", "tail", ["t"], "follow a topic and print messages as they arrive, until Ctrl-C")
    _stream_topic(x)
    x.add_argument("-p", "--partition-id", type=U32, help="one partition (default: all)")
    start = x.add_mutually_exclusive_group()
    start.add_argument("-b", "--from-beginning", action="store_true", help="start at the oldest message")
    start.add_argument("-n", "--last", type=U32, default=0, help="start with the last N messages of each partition")
    x.add_argument("--batch", type=POSITIVE, default=100, help="messages per poll (default 100)")
    x.add_argument("-s", "--show-headers", action="store_true")
    x.add_argument("--full", action="store_true", help="print whole payloads")
    x = m.leaf("message.flush", "flush", ["f"], "flush a partition's unsaved messages")
    _stream_topic(x)
    x.add_argument("partition_id", type=U32)
    x.add_argument("-f", "--fsync", action="store_true")

    x = root.leaf("completion", "completion", [], "print a shell completion script")
    x.add_argument("shell", choices=["bash", "zsh", "fish"], nargs="?", default="bash")
    return p
