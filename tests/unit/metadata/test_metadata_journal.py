"""The Raft journal: persistence, torn tails, truncation, compaction, meta."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from whippet.metadata.journal import DurableJournal
from whippet.wire.errors import StateFileCorrupted


def _fill(j: DurableJournal, n: int, start: int = 1, term: int = 1) -> None:
    for i in range(start, start + n):
        j.add(b"cmd-%d" % i, i, term)


def test_entries_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = DurableJournal(path)
    _fill(j, 5)
    j.sync()
    assert len(j) == 5 and j[0] == (b"cmd-1", 1, 1) and j[-1] == (b"cmd-5", 5, 1)
    assert j[1:3] == [(b"cmd-2", 2, 1), (b"cmd-3", 3, 1)]
    # no _destroy: the process "dies" here, only what is on disk counts
    again = DurableJournal(path)
    assert [again[i] for i in range(len(again))] == [j[i] for i in range(5)]
    again.add(b"more", 6, 2)
    again._destroy()
    assert DurableJournal(path)[-1] == (b"more", 6, 2)


def test_torn_or_damaged_tail_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = DurableJournal(path)
    _fill(j, 3)
    j._destroy()
    size = path.stat().st_size
    for cut in range(1, 30):  # every partial last record
        with open(path, "r+b") as f:
            f.truncate(size - cut)
        assert [e[1] for e in DurableJournal(path)[:]] == [1, 2]
        j = DurableJournal(path)
        j.add(b"cmd-3", 3, 1)  # appends after the cut point, not after garbage
        j._destroy()
        assert path.stat().st_size == size
    with open(path, "r+b") as f:  # a flipped byte in the last record
        f.seek(size - 2)
        f.write(b"X")
    assert len(DurableJournal(path)) == 2


def test_delete_entries_from_and_to(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = DurableJournal(path)
    _fill(j, 6)
    j.deleteEntriesFrom(4)  # keeps positions 0..3
    assert [e[1] for e in j[:]] == [1, 2, 3, 4]
    j.add(b"x", 5, 2)
    j.deleteEntriesTo(2)  # compaction: drops positions 0..1
    assert [e[1] for e in j[:]] == [3, 4, 5]
    j.add(b"y", 6, 2)
    j.sync()
    assert [e[1:] for e in DurableJournal(path)[:]] == [(3, 1), (4, 1), (5, 2), (6, 2)]
    j.clear()
    assert len(j) == 0 and len(DurableJournal(path)) == 0


def test_trim_before_finishes_an_interrupted_compaction(tmp_path: Path) -> None:
    j = DurableJournal(tmp_path / "j")
    _fill(j, 6)
    assert j.trim_before(j[2], j[3])
    assert [e[1] for e in j[:]] == [3, 4, 5, 6]
    assert j.trim_before(j[0], j[1])  # already trimmed: nothing to do
    assert len(j) == 4
    assert not j.trim_before((b"cmd-4", 4, 1), (b"other", 5, 1))
    assert len(j) == 4


def test_term_vote_and_commit_index_persist(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = DurableJournal(path)
    assert (j.getCurrentTerm(), j.getVotedForNodeId(), j.getRaftCommitIndex()) == (0, None, 1)
    j.setCurrentTerm(3, "127.0.0.1:1")  # durable at once
    j.setRaftCommitIndex(7)  # lazily
    assert DurableJournal(path).getRaftCommitIndex() == 1
    j.onOneSecondTimer()
    again = DurableJournal(path)
    assert (again.getCurrentTerm(), again.getVotedForNodeId(), again.getRaftCommitIndex()) == (
        3, "127.0.0.1:1", 7,
    )  # fmt: skip


def test_damaged_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = DurableJournal(path)
    j.setCurrentTerm(2, None)
    j._destroy()
    meta = tmp_path / "j.meta"
    data = bytearray(meta.read_bytes())
    data[-2] ^= 1
    meta.write_bytes(bytes(data))
    with pytest.raises(StateFileCorrupted):
        DurableJournal(path)
    other = tmp_path / "other"
    other.write_bytes(b"PYSYNCOBJ" + bytes(40))
    with pytest.raises(StateFileCorrupted):
        DurableJournal(other)


def test_sync_is_needed_only_after_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    j = DurableJournal(tmp_path / "j")
    calls: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    j.sync()
    assert calls == []
    _fill(j, 3)
    j.sync()
    j.sync()
    assert len(calls) == 1
