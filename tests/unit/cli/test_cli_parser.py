"""The command tree accepts the Iggy CLI's argument order, and bad values are usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from whippet.cli.__main__ import (
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    exit_code,
    main,
)
from whippet.cli._parser import build_parser
from whippet.cli.completion import bash_script, command_paths
from whippet.wire.errors import (
    CannotEstablishConnection,
    InvalidCredentials,
    StreamIdNotFound,
    StreamNameAlreadyExists,
    Unauthorized,
)


def parse(line: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(line.split())


def test_the_issue_session_parses_in_iggy_order() -> None:
    a = parse("-u iggy -p iggy stream create dev")
    assert (a.cmd, a.name, a.username, a.password) == ("stream.create", "dev", "iggy", "iggy")
    a = parse("topic create dev sample 2 none")
    assert (a.cmd, a.stream_id, a.name, a.partitions_count, a.compression_algorithm) == (
        "topic.create", "dev", "sample", 2, "none")
    a = build_parser().parse_args(["message", "send", "--partition-id", "1", "dev", "sample", "hello world"])
    assert (a.cmd, a.partition_id, a.messages) == ("message.send", 1, ["hello world"])
    a = parse("message poll --consumer 1 --offset 0 --message-count 2 --auto-commit dev sample 1")
    assert (a.cmd, a.consumer, a.offset, a.message_count, a.auto_commit, a.partition_id) == (
        "message.poll", "1", 0, 2, True, 1)


@pytest.mark.parametrize(
    ("line", "cmd"),
    [("s l", "stream.list"), ("t g dev t", "topic.get"), ("p c dev t 2", "partition.create"),
     ("seg d dev t 0 1", "segment.delete"), ("g c dev t grp", "group.create"), ("o s 1 dev t 0 5", "offset.set"),
     ("u c bob pw -g m_str", "user.create"), ("pat l", "pat.list"), ("c l", "client.list"),
     ("cl m", "cluster.metadata"), ("m f dev t 0 --fsync", "message.flush"), ("stats -o json", "stats"),
     ("t a dev t", "topic.ack"), ("topic ack dev t all", "topic.ack")],
)
def test_aliases_and_commands(line: str, cmd: str) -> None:
    assert parse(line).cmd == cmd


def test_user_create_positionals_do_not_clobber_the_login() -> None:
    a = parse("-u iggy -p secret user create bob pw")
    assert (a.username, a.password, a.new_username, a.new_user_password) == ("iggy", "secret", "bob", "pw")


@pytest.mark.parametrize(
    "line",
    ["topic create dev t two none", "topic create dev t 1 zstd", "message poll dev t 0 -m 0", "nonsense",
     "topic create dev t 1 none -m 12parsecs", "message send dev t -p 1 -m k x", "user create a b -g fly",
     "topic ack dev t sometimes", "topic ack dev t all quorum"],
)
def test_bad_usage_exits_2_with_a_message(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(line.split())
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_exit_codes_by_error_kind() -> None:
    assert exit_code(StreamIdNotFound()) == EXIT_NOT_FOUND
    assert exit_code(InvalidCredentials()) == EXIT_AUTH
    assert exit_code(Unauthorized()) == EXIT_AUTH
    assert exit_code(CannotEstablishConnection()) == EXIT_CONNECTION
    assert exit_code(StreamNameAlreadyExists()) == EXIT_REFUSED


def test_unreachable_node_is_exit_3_without_a_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "whippet.cli", "--tcp-server-address", "127.0.0.1:1", "--timeout", "1",
         "-u", "a", "-p", "b", "stream", "list"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error:")


def test_completion_knows_every_command_path() -> None:
    paths = command_paths(build_parser())
    assert "create" in paths["stream"] and "--partition-id" in paths["message send"]
    assert "consumer-group" in paths[""]
    script = bash_script(build_parser())
    assert "complete -F _whippet whippet" in script and '"message poll")' in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)  # valid bash
