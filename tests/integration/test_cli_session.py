"""The issue's CLI session, run verbatim as real ``whippet`` processes against a real node."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

WHIPPET = str(Path(sys.executable).with_name("whippet"))


def whippet(node, line: str, expect: int = 0) -> str:  # type: ignore[no-untyped-def]
    """Run ``whippet <line>`` (the iggy command line with the program name swapped) against ``node``."""
    env = {**os.environ, "WHIPPET_NODES": node.address}
    proc = subprocess.run([WHIPPET, *shlex.split(line)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == expect, f"{line!r} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_the_iggy_session_works_with_whippet(node) -> None:  # type: ignore[no-untyped-def]
    out = whippet(node, "-u iggy -p iggy stream create dev")
    assert "dev" in out
    assert "| dev " in whippet(node, "-u iggy -p iggy stream list")
    assert "dev" in whippet(node, "-u iggy -p iggy stream get dev")
    whippet(node, "-u iggy -p iggy topic create dev sample 2 none")
    assert "sample" in whippet(node, "-u iggy -p iggy topic list dev")
    out = whippet(node, "-u iggy -p iggy topic get dev sample")
    assert "| Partitions count    | 2 " in out
    whippet(node, '-u iggy -p iggy message send --partition-id 1 dev sample "hello world"')
    whippet(node, '-u iggy -p iggy message send --partition-id 1 dev sample "lorem ipsum"')
    out = whippet(node, "-u iggy -p iggy message poll --consumer 1 --offset 0 --message-count 2 --auto-commit dev sample 1")
    assert "hello world" in out and "lorem ipsum" in out

    node.stop()
    node.start()

    out = whippet(node, "-u iggy -p iggy message poll --consumer 1 --offset 0 --message-count 2 --auto-commit dev sample 1")
    assert "hello world" in out and "lorem ipsum" in out
    stored = json.loads(whippet(node, "-u iggy -p iggy --output json consumer-offset get 1 dev sample 1"))
    assert stored["stored_offset"] == 1  # auto-commit survived the restart
    polled = json.loads(whippet(node, "-u iggy -p iggy --output json message poll --next --consumer 1 dev sample 1"))
    assert polled["messages"] == []  # everything was committed


def test_errors_are_one_line_with_documented_exit_codes(node) -> None:  # type: ignore[no-untyped-def]
    whippet(node, "-u iggy -p iggy stream get missing", expect=5)
    whippet(node, "-u iggy -p wrong stream list", expect=4)
    whippet(node, "-u iggy -p iggy stream create dup")
    whippet(node, "-u iggy -p iggy stream create dup", expect=1)
    whippet(node, "-u iggy -p iggy topic create dup t many none", expect=2)
    assert json.loads(whippet(node, "-u iggy -p iggy stream list --output json"))[0]["name"] == "dup"
