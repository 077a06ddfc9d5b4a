"""Permission matrix on every binary transport (issue 3): a user whose only right is read (and
so poll) on ONE stream reads and polls it, and gets Unauthorized (41) for everything else.
One scenario, driven through our SDK over TCP, QUIC and WebSocket (HTTP: test_http_permissions).

Also pins what GET_PARTITION_LEADERS shows that user: the routes of the stream it may read only.
"""

from __future__ import annotations

import pytest

from whippet.sdk import Client, PollingStrategy
from whippet.wire.errors import Unauthorized
from whippet.wire.permissions import Permissions, StreamPermissions
from whippet.wire.primitives import Partitioning

pytestmark = pytest.mark.asyncio

PORTS = {"tcp": "tcp_port", "quic": "quic_port", "ws": "ws_port"}


def _client(node, kind: str, username: str, password: str) -> Client:  # type: ignore[no-untyped-def]
    return Client([f"127.0.0.1:{getattr(node, PORTS[kind])}"], username=username, password=password, transport=kind)


@pytest.mark.parametrize("kind", list(PORTS))
async def test_a_reader_of_one_stream_reads_it_and_nothing_else(node, kind: str) -> None:  # type: ignore[no-untyped-def]
    async with _client(node, kind, "iggy", "iggy") as root:
        for name in ("open", "closed"):
            await root.create_stream(name)
            await root.create_topic(name, "t")
            await root.send_messages(name, "t", [b"m"], Partitioning.partition_id(0))
        open_id = (await root.get_stream("open")).stream.id  # type: ignore[union-attr]
        perms = Permissions(streams={open_id: StreamPermissions(read_stream=True, poll_messages=True)})
        await root.create_user("reader", "reader-pw", permissions=perms)

    async with _client(node, kind, "reader", "reader-pw") as reader:
        assert (await reader.get_stream("open")).stream.name == "open"  # type: ignore[union-attr]
        polled = await reader.poll_messages("open", "t", 0, 1, PollingStrategy.offset(0), 10)
        assert [m.payload for m in polled] == [b"m"]
        assert {(s, t) for s, t, *_ in reader.routing.routes()} == {(open_id, 0)}

        denied = {
            "get other stream": lambda: reader.get_stream("closed"),
            "poll other stream": lambda: reader.poll_messages("closed", "t", 0, 1, PollingStrategy.offset(0), 10),
            "send": lambda: reader.send_messages("open", "t", [b"no"], Partitioning.partition_id(0)),
            "list streams": reader.get_streams,
            "create stream": lambda: reader.create_stream("new"),
            "delete stream": lambda: reader.delete_stream("open"),
            "list users": reader.get_users,
        }
        for what, attempt in denied.items():
            with pytest.raises(Unauthorized):
                await attempt()
                pytest.fail(f"{what} was allowed over {kind}")

    async with _client(node, "tcp", "iggy", "iggy") as root:  # nothing changed
        assert sorted(s.name for s in await root.get_streams()) == ["closed", "open"]
        polled = await root.poll_messages("open", "t", 0, 1, PollingStrategy.offset(0), 10)
        assert [m.payload for m in polled] == [b"m"]
