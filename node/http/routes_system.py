"""System routes: /, /ping, /metrics, /stats, /cluster/metadata, /clients, /snapshot, /me."""

from __future__ import annotations

import time

from aiohttp import web

from whippet.node.http import json_shapes as js
from whippet.node.http.bodies import fail, get_str, json_object, path_u32
from whippet.node.http.errors import NotFound
from whippet.node.http.routing import Call, Route, json
from whippet.wire import requests as rq
from whippet.wire import responses as rs
from whippet.wire.errors import InvalidClientId

__all__ = ["ROUTES"]

_METRICS_TYPE = "text/plain; version=0.0.4"
# 0.8 spells these enums with serde's default (variant names); snake_case is accepted too.
_COMPRESSION = {"stored": 1, "deflated": 2, "bzip2": 3, "zstd": 4, "lzma": 5, "xz": 6}
_SNAPSHOT_TYPES = {
    "filesystemoverview": 1, "processlist": 2, "resourceusage": 3, "test": 4, "serverlogs": 5,
    "serverconfig": 6, "all": 100,
}


async def _root(call: Call) -> web.Response:
    return web.Response(text="Iggy API")


async def _ping(call: Call) -> web.Response:
    return web.Response(text="pong")


async def _ready(call: Call) -> web.Response:
    """200 once the node joined the metadata group and caught up on every partition it follows."""
    if call.node.replicas.ready():
        return web.Response(text="ready")
    return web.Response(text="not ready", status=503)


async def _metrics(call: Call) -> web.Response:
    return web.Response(body=call.node.metrics.render(), headers={"Content-Type": _METRICS_TYPE})


async def _stats(call: Call) -> web.Response:
    return json(js.stats(rs.Stats.decode(await call.run(rq.GetStats()))))


async def _cluster(call: Call) -> web.Response:
    return json(js.cluster_metadata(rs.ClusterMetadata.decode(await call.run(rq.GetClusterMetadata()))))


async def _clients(call: Call) -> web.Response:
    return json([js.client(c) for c in rs.decode_clients(await call.run(rq.GetClients()))])


async def _client(call: Call) -> web.Response:
    client_id = path_u32(call.request, "client_id")
    try:
        payload = await call.run(rq.GetClient(client_id=client_id))
    except InvalidClientId:  # id 0 is the HTTP pseudo-client: 0.8 finds no such client
        raise NotFound() from None
    if not payload:
        raise NotFound()
    return json(js.client_details(rs.ClientDetails.decode(payload)))


async def _me(call: Call) -> web.Response:
    return json(js.client_details(rs.ClientDetails.decode(await call.run(rq.GetMe()))))


def _enum(text: str, table: dict[str, int], what: str) -> int:
    code = table.get(text.replace("_", "").lower())
    if code is None:
        raise fail(f"unknown {what} {text!r}", 3)
    return code


async def _snapshot(call: Call) -> web.Response:
    body = await json_object(call.request)
    compression = _enum(get_str(body, "compression"), _COMPRESSION, "compression")
    raw_types = body.get("snapshot_types")
    if not isinstance(raw_types, list) or not all(isinstance(t, str) for t in raw_types):
        raise fail("`snapshot_types` must be a list of strings")
    types = tuple(_enum(t, _SNAPSHOT_TYPES, "snapshot type") for t in raw_types)
    if 100 in types and len(types) > 1:
        raise fail("'All' cannot be combined with other snapshot types", 3)
    if not 1 <= len(types) <= 255:
        raise fail("give 1..255 snapshot types", 3)
    data = await call.run(rq.GetSnapshotFile(compression=compression, snapshot_types=types))
    name = time.strftime("iggy_snapshot_%Y%m%d_%H%M%S.zip")
    return web.Response(
        body=data,
        headers={"Content-Type": "application/zip", "Content-Disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [
    Route("GET", "/", _root, "Service name", "system", public=True, response="text", content_type="text/plain"),
    Route("GET", "/ping", _ping, "Liveness check", "system", public=True, response="text", content_type="text/plain"),
    Route(
        "GET", "/ready", _ready, "Readiness: joined the cluster and caught up (whippet extension; 503 until then)",
        "system", public=True, response="text", content_type="text/plain",
    ),
    Route(
        "GET", "/metrics", _metrics, "Prometheus metrics", "system", public=True, response="text",
        content_type=_METRICS_TYPE,
    ),
    Route("GET", "/stats", _stats, "Server statistics", "system", response="Stats"),
    Route("GET", "/cluster/metadata", _cluster, "Cluster nodes and their endpoints", "system", response="ClusterMetadata"),
    Route("GET", "/clients", _clients, "Connected clients", "system", response="ClientList"),
    Route("GET", "/clients/{client_id}", _client, "One connected client", "system", response="ClientDetails"),
    Route("GET", "/me", _me, "This HTTP session as a client (whippet extension)", "system", response="ClientDetails"),
    Route(
        "POST", "/snapshot", _snapshot, "Diagnostics snapshot (ZIP)", "system", body="GetSnapshot", response="zip",
        content_type="application/zip",
    ),
]
