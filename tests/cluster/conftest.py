from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Three real node processes forming one cluster, replication factor 3, deduplication on
    (the failure tests retry batches with the same message ids). Members have heard from
    each other before a test starts, so a crash is detected at once, not after the grace a
    node gives peers it has not yet heard from."""
    c = Cluster(tmp_path, extra_env={"WHIPPET_DEDUP_ENABLED": "true"}).start().wait_connected()
    yield c
    c.stop()
