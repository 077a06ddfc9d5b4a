"""A request cancelled while the client connects leaves no connection behind.

Users wrap sends in ``asyncio.wait_for``; during a failover that cancellation often lands
while the client is opening a connection. On Python 3.11 ``asyncio.wait_for`` hands back
an open that completed in the same tick as a cancellation, and an outer ``wait_for`` then
drops it: a socket nobody closes and a reader task garbage-collected while pending (the
"Task was destroyed but it is pending" lines the chaos suite printed). The opener below
behaves the way that nested ``wait_for`` did: it finishes its open although cancelled.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from whippet.sdk import Client
from whippet.sdk.options import Backoff, NodeAddress
from whippet.wire import codes
from whippet.wire.errors import IggyError
from whippet.wire.responses import IdentityInfo

pytestmark = pytest.mark.asyncio


class _Transport:
    def __init__(self, address: NodeAddress) -> None:
        self.address, self.closed = str(address), False

    async def request(self, code: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
        return IdentityInfo(user_id=0).encode() if code == codes.LOGIN_USER else b""

    async def request_raw(self, frame: bytes | bytearray | memoryview) -> bytes:
        return b""

    async def close(self) -> None:
        self.closed = True


def _connecting(monkeypatch: pytest.MonkeyPatch, opener: Any) -> tuple[Client, asyncio.Future[None]]:
    """A client over ``opener`` (one node, one attempt) and its connect() under way."""
    monkeypatch.setattr("whippet.sdk._core.open_transport", opener)
    client = Client(["127.0.0.1:1"], username="iggy", password="iggy", discover=False,
                    backoff=Backoff(initial=0.0, retries=1))
    return client, asyncio.ensure_future(client.connect())


async def test_an_open_finishing_as_the_caller_is_cancelled_is_kept_or_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[_Transport] = []
    started = asyncio.Event()

    async def opener(address: NodeAddress, *args: Any) -> _Transport:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # the connection was up already: it comes back although the caller was cancelled
        opened.append(_Transport(address))
        return opened[-1]

    client, connecting = _connecting(monkeypatch, opener)
    await started.wait()
    connecting.cancel()
    try:
        await connecting
    except asyncio.CancelledError:
        pass
    await client.close()
    assert len(opened) == 1
    assert all(t.closed for t in opened), "a transport opened during the cancellation was left open"


async def test_a_connection_that_opens_after_close_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """close() while a connect is under way: the connection that opens afterwards is not one
    close() knew of, so the client itself must close it (the fault suite's log showed such
    connections' reader tasks destroyed pending at exit)."""
    opened: list[_Transport] = []
    release = asyncio.Event()

    async def opener(address: NodeAddress, *args: Any) -> _Transport:
        await release.wait()
        opened.append(_Transport(address))
        return opened[-1]

    client, connecting = _connecting(monkeypatch, opener)
    await asyncio.sleep(0.01)
    await client.close()
    release.set()
    with pytest.raises(IggyError):
        await connecting
    assert len(opened) == 1
    assert all(t.closed for t in opened), "a connection opened after close() was left open"
