"""The permission matrix (issue 11): every command x TCP, WebSocket, QUIC and HTTP x root, a
user with each single permission (global, stream, topic), a user with none, no login, a
personal access token and an expired HTTP token, checked against Iggy 0.8's rules.

Target: 0 escapes, and no false denial except whippet's documented departures. With
``WHIPPET_SECURITY_TABLE=path`` the run also writes the table docs/SECURITY.md publishes;
test_security_doc.py checks the published one is this oracle's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.permission_matrix import JWT_SECRET, run_matrix
from tests.security.permission_rules import DEPARTURES
from tests.security.security_doc import matrix_table
from whippet.procs import NodeProcess

pytestmark = pytest.mark.asyncio


@pytest.fixture
def target(tmp_path: Path) -> Iterator[NodeProcess]:
    node = NodeProcess(data_dir=tmp_path / "matrix", extra_env={"WHIPPET_HTTP_JWT_SECRET": JWT_SECRET}).start()
    yield node
    node.stop()


@pytest.mark.timeout(600)
async def test_every_command_on_every_transport_for_every_principal(target: NodeProcess) -> None:
    result = await run_matrix(target)
    assert result.escapes == [], "\n".join(result.escapes)
    assert result.false_denials == [], "\n".join(result.false_denials)
    assert set(result.per_transport) == {"tcp", "ws", "quic", "http"} and all(result.per_transport.values())
    assert result.checks > 3000
    out = os.environ.get("WHIPPET_SECURITY_TABLE")
    if out:
        Path(out).write_text(matrix_table(result.expected) + f"\nchecks: {result.checks} {result.per_transport}\n")
    assert set(DEPARTURES) <= {name for name, _ in result.expected}
