"""Stored consumer offsets: durable files in Iggy's layout, cached in memory."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from whippet.storage import layout
from whippet.storage.offsets import ConsumerOffsets


def test_store_get_delete_lowest(tmp_path: Path) -> None:
    root = layout.offsets_dir(tmp_path)
    offsets = ConsumerOffsets(root)
    assert offsets.get(1, 7) is None and offsets.lowest() is None
    offsets.store(1, 7, 100)
    offsets.store(2, 7, 40)
    offsets.store(1, 8, 55)
    offsets.store(1, 7, 120)
    assert offsets.get(1, 7) == 120 and offsets.get(2, 7) == 40
    assert offsets.lowest() == 40
    assert offsets.items(1) == {7: 120, 8: 55}
    assert offsets.delete(2, 7) is True and offsets.delete(2, 7) is False
    assert offsets.lowest() == 55
    assert (tmp_path / "offsets" / "consumers" / "7").read_bytes() == struct.pack("<Q", 120)
    assert not (tmp_path / "offsets" / "groups" / "7").exists()


def test_offsets_survive_reopen_and_ignore_interrupted_stores(tmp_path: Path) -> None:
    root = layout.offsets_dir(tmp_path)
    ConsumerOffsets(root).store(2, 3, 9)
    (root / "groups" / "3.tmp").write_bytes(struct.pack("<Q", 999))  # crash before rename
    (root / "groups" / "4").write_bytes(b"\x01\x02")  # not ours: torn files never exist
    again = ConsumerOffsets(root)
    assert again.get(2, 3) == 9 and again.get(2, 4) is None
    assert not (root / "groups" / "3.tmp").exists()


def test_clear(tmp_path: Path) -> None:
    root = layout.offsets_dir(tmp_path)
    offsets = ConsumerOffsets(root, fsync=False)
    offsets.store(1, 1, 1)
    offsets.store(2, 2, 2)
    offsets.clear()
    assert offsets.lowest() is None
    assert ConsumerOffsets(root).lowest() is None


def test_unknown_kind_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ConsumerOffsets(tmp_path).store(3, 1, 1)
