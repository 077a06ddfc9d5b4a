from pathlib import Path

from whippet.replication.epochs import EpochCache


def test_assign_end_offset_truncate_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "epochs"
    cache = EpochCache(path)
    assert cache.end_offset(3, 10) is None
    cache.assign(0, 0)
    cache.assign(2, 5)
    cache.assign(2, 9)  # same epoch again: ignored
    cache.assign(1, 7)  # older epoch: ignored
    assert cache.entries == [(0, 0), (2, 5)]
    assert cache.end_offset(0, 12) == (0, 5)
    assert cache.end_offset(1, 12) == (0, 5)
    assert cache.end_offset(2, 12) == (2, 12)
    assert cache.end_offset(9, 12) == (2, 12)
    assert EpochCache(path).entries == [(0, 0), (2, 5)]
    cache.truncate_from(5)
    assert EpochCache(path).entries == [(0, 0)]
    cache.assign(4, 0)  # an epoch starting where the previous did replaces it
    assert cache.entries == [(4, 0)]
