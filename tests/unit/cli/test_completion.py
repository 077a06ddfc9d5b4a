"""Completion scripts for bash, zsh and fish, generated from the parser and run in the real shells.

Each script is sourced in its shell and asked what completes after a few command lines,
including global options with values before the command (their values are not commands).
`make test` installs the shells (Debian's bash, zsh, fish)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from whippet.cli._parser import build_parser
from whippet.cli.completion import SCRIPTS, command_paths

CASES = [
    ([], {"stream", "topic", "message", "partition", "cluster", "consumer-group", "completion", "--nodes"}),
    (["stream"], {"create", "delete", "list", "purge", "get", "update", "c", "l"}),
    (["-u", "iggy", "--nodes", "h:1", "message"], {"send", "poll", "tail", "flush"}),
    (["cluster"], {"status", "metadata"}),
    (["consumer-group"], {"lag", "list", "create"}),
    (["message", "tail"], {"--from-beginning", "--last", "--full", "--partition-id"}),
]

_ASK = {
    "bash": 'source "$1"; shift; COMP_WORDS=(whippet "$@" ""); COMP_CWORD=${#COMP_WORDS[@]}; '
            'COMP_CWORD=$((COMP_CWORD - 1)); _whippet; printf "%s\\n" "${COMPREPLY[@]}"',
    "zsh": 'compdef() { :; }; source "$1"; shift; for w in ${=$(_whippet_words "$(_whippet_path "$@")")}; do print -r -- $w; done',
    "fish": "source $argv[1]; set -e argv[1]; __whippet_words (__whippet_path $argv) | string split ' '",
}
_RUN = {"bash": ["bash", "-c"], "zsh": ["zsh", "-f", "-c"], "fish": ["fish", "--no-config", "-c"]}


def _complete(shell: str, script: str, words: list[str]) -> set[str]:
    assert shutil.which(shell), f"{shell} is not installed (make test installs it)"
    argv0 = [] if shell == "fish" else ["whippet-completion-test"]
    proc = subprocess.run([*_RUN[shell], _ASK[shell], *argv0, script, *words], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    return {w for w in proc.stdout.split() if w}


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_each_shell_completes_from_the_parser(shell: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / f"whippet.{shell}"
    script.write_text(SCRIPTS[shell](build_parser()))
    for words, expected in CASES:
        got = _complete(shell, str(script), words)
        assert expected <= got, f"{shell} after {words}: missing {expected - got}"
    # nothing is offered after a leaf's positional words that is not one of its options
    assert _complete(shell, str(script), ["stream", "create"]) <= {"--help", "--output", "--quiet", "--stream-id", "-q"}


def test_the_table_is_the_parser() -> None:
    paths = command_paths(build_parser())
    assert "message tail" in paths and "cluster status" in paths and "partition list" in paths
    assert "--full" in paths["message poll"]
