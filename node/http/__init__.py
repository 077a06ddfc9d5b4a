"""The Iggy 0.8 HTTP REST API on aiohttp (protocol reference §7).

A thin layer: routes read JSON and path/query input, build the binary command
the route stands for, and run it through the same dispatch, handlers and
permission checks as TCP; replies are rendered in the JSON shapes the 0.8 SDK
reads. Modules: ``app`` (the application and the route table), ``routing``
(route and call types), ``routes_*`` (the routes by resource), ``bodies``
(input readers), ``json_shapes`` (output), ``errors`` (status mapping),
``auth`` (JWT), ``openapi`` (the description served at /openapi.json).

Concurrency: everything runs on the node's event loop; nothing here blocks.
"""

from whippet.node.http.app import build_app, routes_for

__all__ = ["build_app", "routes_for"]
