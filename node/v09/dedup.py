"""Metadata writes of a 0.9 request go through Raft wrapped as ``ClientRequest``.

The 0.9 request loop opens :func:`client_request` around the shared handler;
the first command that handler proposes is wrapped with the client's id,
request number and body checksum, so the replicated client table
(``metadata._client_requests``) applies it once however often it is retried.
Later proposals of the same handler, and everything outside the block, go
through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from whippet.metadata import commands as mc
from whippet.metadata.raft import MetadataStore

__all__ = ["DedupingStore", "client_request"]

_CURRENT: ContextVar[list[Any] | None] = ContextVar("whippet_v09_client_request", default=None)
_U64 = (1 << 64) - 1


@contextmanager
def client_request(client: int, request: int, checksum: int) -> Iterator[None]:
    token = _CURRENT.set([f"{client:032x}", request, checksum & _U64])
    try:
        yield
    finally:
        _CURRENT.reset(token)


def wrap(cmd: mc.Command) -> mc.Command:
    """The command to propose: wrapped once per open :func:`client_request` block."""
    pending = _CURRENT.get()
    if not pending:
        return cmd
    client, request, checksum = pending
    pending.clear()
    return mc.ClientRequest(client=client, request=request, checksum=checksum, command=cmd)


class DedupingStore(MetadataStore):
    """The metadata store, proposing through :func:`wrap`."""

    async def propose(self, cmd: mc.Command, *, timeout: float | None = None) -> Any:
        return await super().propose(wrap(cmd), timeout=timeout)
