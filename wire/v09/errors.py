"""Status codes a 0.9 client knows that the 0.8 table has no name for (protocol 0.9 §1.4, §3.1).

They subclass :class:`~whippet.wire.errors.IggyError`, so ``IggyError.from_code``
and every transport's error mapping pick them up like the 0.8 ones.
"""

from __future__ import annotations

from whippet.wire.errors import IggyError

__all__ = [
    "ConsumerGroupPartitionNotOwned",
    "InvalidOptionValue",
    "OptionsBlockTooLarge",
    "RequestAlreadyApplied",
    "TransientNotAccepted",
    "TransientNotCommitted",
    "UnsupportedOptionKey",
]


class TransientNotCommitted(IggyError):
    """57: the outcome is unknown; the SDK re-sends the same request here."""

    code = 57
    retriable = True


class TransientNotAccepted(IggyError):
    """58: nothing was applied (e.g. a partition without a leader); the SDK may walk the roster."""

    code = 58
    retriable = True


class RequestAlreadyApplied(IggyError):
    """59: a retry of a request applied earlier whose reply is no longer held."""

    code = 59


class UnsupportedOptionKey(IggyError):
    """4041: an option key outside the resource's catalog (or not updatable)."""

    code = 4041


class InvalidOptionValue(IggyError):
    """4042: an option value of the wrong kind or out of bounds."""

    code = 4042


class OptionsBlockTooLarge(IggyError):
    """4043: more than 1024 option entries or 100 000 bytes."""

    code = 4043


class ConsumerGroupPartitionNotOwned(IggyError):
    """5009: a group poll or offset write on a partition the member does not own (fencing)."""

    code = 5009
