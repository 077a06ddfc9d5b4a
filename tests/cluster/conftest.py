from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Three real node processes forming one cluster, replication factor 3, deduplication on
    (the failure tests retry batches with the same message ids)."""
    c = Cluster(tmp_path, extra_env={"WHIPPET_DEDUP_ENABLED": "true"}).start()
    yield c
    c.stop()
