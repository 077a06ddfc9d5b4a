"""Exactly-once metadata writes for 0.9 clients: the replicated client table.

A 0.9 client numbers its writes per session and re-sends the same request when
it cannot tell whether it was applied (TransientNotCommitted, a failover). The
table lives in the replicated state, so whichever node a retry reaches, and
after any failover, the write is applied once. For each client it keeps the
last applied request: its number, its body checksum and what the command
returned. A repeat of that request gets the same result without applying
anything; an older number, or the same number with another body, is refused
with RequestAlreadyApplied (59) and changes nothing.

Clients mint a new id at every login, so the table is bounded: past
:data:`MAX_CLIENTS` entries the least recently written client is forgotten (dict
order, the same on every replica). A rejected command leaves no entry, so its
retry is checked again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whippet.metadata.commands import ClientRequest, Command
from whippet.metadata.model import AppliedRequest, MetadataState
from whippet.wire.errors import IggyError

__all__ = ["MAX_CLIENTS", "apply_client_request"]

MAX_CLIENTS = 10_000


def apply_client_request(st: MetadataState, cmd: ClientRequest, apply: Callable[[Command], Any]) -> Any:
    table = st.client_requests
    last = table.get(cmd.client)
    if last is not None and cmd.request <= last.request:
        if cmd.request == last.request and cmd.checksum == last.checksum:
            return last.result
        raise IggyError(f"request {cmd.request} of this client was already applied", code=59)
    result = apply(cmd.command)
    table.pop(cmd.client, None)
    table[cmd.client] = AppliedRequest(cmd.request, cmd.checksum, result if isinstance(result, int) else None)
    while len(table) > MAX_CLIENTS:
        del table[next(iter(table))]
    return result
