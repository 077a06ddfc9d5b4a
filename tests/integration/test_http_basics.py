"""The HTTP API's front door on a real node: public paths, metrics, the 401 gate, the
route table against the OpenAPI description. Also the small client the other
``test_http_*`` modules use (``Http``) and their module-scoped node (``http_node``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.support.nodeproc import NodeProcess

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def http_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One node per test module: each test uses its own stream names."""
    proc = NodeProcess(data_dir=tmp_path_factory.mktemp("http") / "node")
    proc.start()
    yield proc
    proc.stop()


class Http:
    """A JSON client for one node; ``call`` returns (status, decoded body)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None = None) -> None:
        self.session, self.base, self.token = session, base, token

    @classmethod
    async def login(cls, session: aiohttp.ClientSession, node: NodeProcess, username: str = "iggy",
                    password: str = "iggy") -> Http:
        client = cls(session, f"http://127.0.0.1:{node.http_port}")
        status, body = await client.call("POST", "/users/login", json={"username": username, "password": password})
        assert status == 200, body
        client.token = body["access_token"]["token"]
        return client

    async def call(self, method: str, path: str, *, token: str | None = None, raw: bool = False, **kwargs: Any
                   ) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        bearer = token if token is not None else self.token
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        async with self.session.request(method, self.base + path, headers=headers, **kwargs) as r:
            data = await r.read()
            if raw or not data:
                return r.status, data
            if r.content_type == "application/json":
                return r.status, await r.json()
            return r.status, data.decode()

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        got, body = await self.call(method, path, **kwargs)
        assert got == status, (method, path, got, body)
        return body

    async def error(self, method: str, path: str, status: int, code: int, **kwargs: Any) -> dict[str, Any]:
        """Expect an Iggy error body with ``id`` = ``code``."""
        got, body = await self.call(method, path, **kwargs)
        assert (got, body["id"]) == (status, code), (method, path, got, body)
        assert set(body) == {"id", "code", "reason", "field"}
        return body


async def test_public_paths(http_node: NodeProcess) -> None:
    async with aiohttp.ClientSession() as s:
        base = f"http://127.0.0.1:{http_node.http_port}"
        for path, text in (("/", "Iggy API"), ("/ping", "pong")):
            async with s.get(base + path) as r:
                assert (r.status, await r.text()) == (200, text)
        async with s.get(base + "/metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/plain; version=0.0.4"
            assert "whippet_requests" in await r.text()
        async with s.get(base + "/openapi.json") as r:
            assert r.status == 200 and (await r.json())["openapi"].startswith("3.")
        async with s.get(base + "/no/such/route") as r:
            assert r.status == 404


async def test_every_private_route_needs_a_valid_bearer_token(http_node: NodeProcess) -> None:
    """A missing, malformed or unknown token gets a bare 401 on every non-public route."""
    async with aiohttp.ClientSession() as s:
        base = f"http://127.0.0.1:{http_node.http_port}"
        spec = await (await s.get(base + "/openapi.json")).json()
        private = [
            (method.upper(), re.sub(r"{\w+}", "1", path))
            for path, ops in spec["paths"].items()
            for method, op in ops.items()
            if op.get("security") != []
        ]
        assert len(private) > 35
        for headers in ({}, {"Authorization": "Basic aWdneTppZ2d5"}, {"Authorization": "Bearer not.a.jwt"}):
            for method, path in private:
                async with s.request(method, base + path, headers=headers, json={}) as r:
                    assert (r.status, await r.read()) == (401, b""), (method, path, headers)


async def test_app_routes_and_openapi_paths_are_the_same_set(http_node: NodeProcess) -> None:
    import whippet.node.handlers  # noqa: F401
    from whippet.node.config import NodeConfig
    from whippet.node.http.app import build_app

    class _FakeNode:
        config = NodeConfig()

    app = build_app(_FakeNode())  # type: ignore[arg-type]
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    # The web console's HTML pages are not part of the REST API (docs/CONSOLE.md).
    console = {r for r in served if r[1] == "/console" or r[1].startswith("/console/")}
    assert ("GET", "/console/") in console
    served -= console
    async with aiohttp.ClientSession() as s:
        spec = await (await s.get(f"http://127.0.0.1:{http_node.http_port}/openapi.json")).json()
    described = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert served == described
    # Every described operation says what it returns and how it fails.
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["responses"] and op["operationId"], (method, path)
            assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == set(re.findall(r"{(\w+)}", path))


async def test_metrics_route_off_when_metrics_disabled(node_factory) -> None:
    node = node_factory(extra_env={"WHIPPET_METRICS_ENABLED": "false"})
    async with aiohttp.ClientSession() as s:
        base = f"http://127.0.0.1:{node.http_port}"
        async with s.get(base + "/metrics") as r:
            assert r.status == 404
        spec = await (await s.get(base + "/openapi.json")).json()
        assert "/metrics" not in spec["paths"]
