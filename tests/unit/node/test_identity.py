"""The data dir's identity stamp: written on first start, checked on every later one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whippet.node.config import ConfigError
from whippet.node.identity import IDENTITY_FILE, DataIdentity, claim


def test_first_start_stamps_and_later_starts_check(tmp_path: Path) -> None:
    assert claim(tmp_path, "whippet", 3) == DataIdentity("whippet", 3)
    stamp = json.loads((tmp_path / IDENTITY_FILE).read_text())
    assert stamp == {"format": 1, "cluster": "whippet", "node_id": 3}
    assert claim(tmp_path, "whippet", 3) == DataIdentity("whippet", 3)
    with pytest.raises(ConfigError, match=r"belongs to node 3 of cluster whippet; this node is node 1 of cluster "
                                          r"whippet"):
        claim(tmp_path, "whippet", 1)
    with pytest.raises(ConfigError, match=r"belongs to node 3 of cluster whippet; this node is node 3 of cluster x"):
        claim(tmp_path, "x", 3)
    assert json.loads((tmp_path / IDENTITY_FILE).read_text()) == stamp  # a refused start rewrites nothing


@pytest.mark.parametrize("content", ["", "{", '{"format": 9, "cluster": "c", "node_id": 1}', '{"format": 1}'])
def test_an_unreadable_stamp_stops_the_node_instead_of_guessing(tmp_path: Path, content: str) -> None:
    (tmp_path / IDENTITY_FILE).write_text(content)
    with pytest.raises(ConfigError, match="identity .* is unreadable"):
        claim(tmp_path, "whippet", 1)
