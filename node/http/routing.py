"""What a route is, and how it runs a command: the seam between HTTP and the handlers.

A :class:`Route` is data (method, path, handler, and what its input and output
look like), so the app and the OpenAPI description are both built from the same
table and cannot drift apart. A route's handler gets a :class:`Call`, builds the
wire request object of the binary command it stands for and runs it through
``node.dispatch.dispatch`` with an HTTP session: the same permission checks,
the same errors, the same code as over TCP. The session has client id 0 and is
never registered in the node's client list, as in Iggy 0.8, and it carries the
user id of the request's access token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from whippet.node.dispatch import dispatch
from whippet.node.session import TRANSPORT_HTTP, Session

if TYPE_CHECKING:
    from whippet.node.http.auth import Claims, TokenAuthority
    from whippet.node.server import Node
    from whippet.wire.requests import WireStruct

__all__ = ["Call", "Param", "Route", "http_session", "json", "no_content"]

Handler = Callable[["Call"], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter, for the OpenAPI description (routes read it with ``bodies.query_*``)."""

    name: str
    type: str  # "string" | "integer" | "boolean"
    required: bool = False
    enum: tuple[str, ...] = ()
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    public: bool = False  # no access token needed (login, refresh, ping, metrics, ...)
    body: str | None = None  # components.schemas name of the JSON request body
    query: tuple[Param, ...] = ()
    status: int = 200
    response: str | None = None  # components.schemas name of the JSON response; None = no body
    content_type: str = "application/json"


@dataclass(slots=True)
class Call:
    """One request on its way through a route."""

    request: web.Request
    node: Node
    tokens: TokenAuthority
    session: Session
    claims: Claims | None

    async def run(self, command: WireStruct) -> bytes:
        """Run a binary command as this session; the OK payload, or IggyError raised.

        The command goes through the binary codec (so HTTP input is validated as
        the wire's is); fields with no 0.8 wire form (``EXTRA``: a 0.9 topic's
        options) are carried over to the decoded request.
        """
        if not command.EXTRA:
            return await self.run_payload(command.CODE, command.encode())
        decoded = replace(type(command).decode(command.encode()),  # type: ignore[type-var]
                          **{name: getattr(command, name) for name in command.EXTRA})
        reply = await dispatch(self.node, self.session, command.CODE, memoryview(b""), request=decoded)
        return bytes(reply) if isinstance(reply, (bytes, bytearray, memoryview)) else b"".join(reply)

    async def run_payload(self, code: int, payload: bytes) -> bytes:
        reply = await dispatch(self.node, self.session, code, memoryview(payload))
        if isinstance(reply, (bytes, bytearray, memoryview)):
            return bytes(reply)
        return b"".join(bytes(part) for part in reply)


def http_session(request: web.Request, user_id: int | None) -> Session:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    address = f"{peer[0]}:{peer[1]}" if peer else "unknown:0"
    return Session(client_id=0, address=address, transport=TRANSPORT_HTTP, user_id=user_id)


def no_content() -> web.Response:
    return web.Response(status=204)


def json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status)
