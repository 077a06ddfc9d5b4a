"""The frame fuzzer in its CI size (a few thousand frames per binary transport); `make fuzz`
runs the same code with 1,000,000 per transport (figures in docs/SECURITY.md)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.fuzz import fuzz_node, prepare_target, target_env
from whippet.procs import NodeProcess

pytestmark = pytest.mark.asyncio

FRAMES = int(os.environ.get("WHIPPET_FUZZ_FRAMES", "4000"))
PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[NodeProcess]:
    node = NodeProcess(data_dir=tmp_path / "target", extra_env=target_env(PASSWORD)).start()
    yield node
    node.stop()


@pytest.mark.parametrize("transport", ["tcp", "ws", "quic"])
async def test_fuzzed_frames_crash_hang_and_change_nothing(target: NodeProcess, transport: str) -> None:
    await prepare_target(target.address, PASSWORD)
    report = await fuzz_node(target, PASSWORD, transport, FRAMES, seed=7, rounds=2)
    assert report.frames >= FRAMES
    assert report.crashes == 0, target.read_log()
    assert report.hangs == 0, report.hang_samples
    assert report.state_changes == 0, report.state_diff
    # The run reached the handlers, not only the framing: both refusals and real answers came back.
    assert report.answered > FRAMES * 0.8
    assert {"0", "40", "41"} <= set(report.statuses), report.statuses
