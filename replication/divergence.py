"""Where a replica must cut its log before it follows a new leader (pure; KIP-101/279).

Records carry no epoch, so each replica keeps its epoch starts (:mod:`.epochs`). The
follower asks the leader "where does my last epoch ``e`` end on your log?"; the leader
answers with the largest epoch ``e' <= e`` it knows and where that ends there. If
``e' == e`` both logs agree up to the smaller end. If ``e' < e`` the follower's epochs
after ``e'`` never reached the leader: it cuts to where its own ``e'`` ends (and to
the leader's end of ``e'`` if that is earlier), then asks again about its new last
epoch, until the answer names its own last epoch. Each round removes at least one
epoch, so the exchange ends. A single round, as the first version did, missed a
divergence inside an epoch the leader knew under a different end (KIP-279).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EpochEndAnswer", "next_cut"]


@dataclass(frozen=True)
class EpochEndAnswer:
    found: bool  # the leader knows an epoch <= the asked one
    epoch: int  # that epoch
    end_offset: int  # where it ends on the leader (its log end for its latest epoch);
    # when not found: where the leader's first epoch starts


def _own_end(entries: Sequence[tuple[int, int]], epoch: int, log_end: int) -> int:
    """Where the largest own epoch <= ``epoch`` ends (0 if none)."""
    end = 0
    for i, (e, _start) in enumerate(entries):
        if e > epoch:
            break
        end = entries[i + 1][1] if i + 1 < len(entries) else log_end
    return end


def next_cut(entries: Sequence[tuple[int, int]], log_end: int, answer: EpochEndAnswer) -> tuple[int, bool]:
    """``(cut, done)``: truncate the log to ``cut`` (``log_end`` means keep all);
    ``done`` when no further question is needed.

    ``entries`` are the follower's ``(epoch, start)`` pairs, ascending; the question
    was about its last epoch.
    """
    if not entries or log_end == 0:
        return log_end, True
    mine = entries[-1][0]
    if not answer.found:
        return min(log_end, answer.end_offset), True
    if answer.epoch >= mine:
        return min(log_end, answer.end_offset), True
    own = _own_end(entries, answer.epoch, log_end)
    return min(log_end, own, answer.end_offset), False
