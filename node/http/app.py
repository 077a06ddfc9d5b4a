"""The aiohttp application: the route table, authentication and error rendering.

Every route is registered through :func:`_endpoint`, which is the single place
where a request is authenticated (bearer JWT unless the route is public) and
where failures become responses: an :class:`IggyError` gets the status and
body of ``errors.py``, an empty lookup the 404 body, a missing or bad token a
bare 401 as 0.8's middleware answers. An unexpected exception is logged and
answered 500, which the property-based test treats as a bug.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from whippet import SERVER_VERSION
from whippet.node.http import routes_messages, routes_streams, routes_system, routes_users
from whippet.node.http.auth import Claims, TokenAuthority
from whippet.node.http.console import add_console
from whippet.node.http.errors import (
    NotFound,
    error_response,
    not_found_response,
    unexpected_response,
)
from whippet.node.http.openapi import build_openapi
from whippet.node.http.routing import Call, Route, http_session, json
from whippet.wire.errors import IggyError

if TYPE_CHECKING:
    from whippet.node.server import Node

__all__ = ["OPENAPI", "TOKENS", "build_app", "routes_for"]

TOKENS = web.AppKey("tokens", TokenAuthority)
OPENAPI = web.AppKey("openapi", dict)
_BEARER = "Bearer "


async def _openapi(call: Call) -> web.Response:
    return json(call.request.app[OPENAPI])


_OPENAPI_ROUTE = Route(
    "GET", "/openapi.json", _openapi, "This OpenAPI description (whippet extension)", "system", public=True,
    response="OpenApi",
)


def routes_for(metrics_enabled: bool) -> list[Route]:
    """Every route the app serves, in registration order (specific paths before ``{id}`` ones)."""
    routes = [*routes_system.ROUTES, _OPENAPI_ROUTE, *routes_users.ROUTES, *routes_streams.ROUTES,
              *routes_messages.ROUTES]
    return [r for r in routes if metrics_enabled or r.path != "/metrics"]


def _claims(request: web.Request, tokens: TokenAuthority) -> Claims | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith(_BEARER):
        return None
    try:
        return tokens.verify(header[len(_BEARER):])
    except IggyError:
        return None


def _endpoint(node: Node, tokens: TokenAuthority, route: Route):  # type: ignore[no-untyped-def]
    async def handle(request: web.Request) -> web.StreamResponse:
        claims = None
        if not route.public:
            claims = _claims(request, tokens)
            if claims is None:
                return web.Response(status=401)
        session = http_session(request, None if claims is None else claims.user_id)
        try:
            return await route.handler(Call(request, node, tokens, session, claims))
        except IggyError as exc:
            return error_response(exc)
        except NotFound:
            return not_found_response()
        except web.HTTPRequestEntityTooLarge:  # a body over http_max_request_size
            node.limits.count("frame_size", "http")
            raise
        except (web.HTTPException, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug: logged, and answered 500 so tests see it
            return unexpected_response(exc)

    return handle


def build_app(node: Node) -> web.Application:
    cfg = node.config
    tokens = TokenAuthority(cfg.http_jwt_secret, cfg.http_jwt_expiry_s)
    app = web.Application(client_max_size=cfg.http_max_request_size)
    routes = routes_for(cfg.metrics_enabled)
    app[TOKENS] = tokens
    app[OPENAPI] = build_openapi(routes, SERVER_VERSION)
    for route in routes:
        app.router.add_route(route.method, route.path, _endpoint(node, tokens, route))
    add_console(app, node, tokens)
    return app
