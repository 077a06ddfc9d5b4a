from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nodeproc import NodeProcess


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[callable]:
    """Start real node processes; every one is stopped by PID at teardown."""
    started: list[NodeProcess] = []

    def make(name: str = "node", **kwargs: object) -> NodeProcess:
        proc = NodeProcess(data_dir=tmp_path / name, **kwargs)  # type: ignore[arg-type]
        started.append(proc)
        return proc.start()

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def node(node_factory) -> NodeProcess:  # type: ignore[no-untyped-def]
    return node_factory()
