"""Access tokens on a real node: claims, forgery, expiry, logout and refresh revocation,
and HTTPS with a real handshake. The node runs with a known JWT secret so the tests
can mint tokens the way a 0.8 server does (and ways it must refuse)."""

from __future__ import annotations

import datetime
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import jwt
import pytest

from tests.integration.test_http_basics import Http
from tests.support.nodeproc import NodeProcess

pytestmark = pytest.mark.asyncio
SECRET = "test-secret-of-a-reasonable-length-0123456789-abcdefghijklmnopqrstuvw"


@pytest.fixture(scope="module")
def jwt_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    proc = NodeProcess(data_dir=tmp_path_factory.mktemp("jwt") / "node",
                       extra_env={"WHIPPET_HTTP_JWT_SECRET": SECRET, "WHIPPET_HTTP_JWT_EXPIRY_S": "600"})
    proc.start()
    yield proc
    proc.stop()


def mint(secret: str = SECRET, **overrides: object) -> str:
    now = int(time.time())
    claims = {"jti": str(uuid.uuid4()), "sub": "0", "aud": "iggy.apache.org", "iss": "iggy.apache.org",
              "iat": now, "exp": now + 60, "nbf": now, **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


async def test_login_token_claims(jwt_node: NodeProcess) -> None:
    async with aiohttp.ClientSession() as s:
        before = int(time.time())
        h = await Http.login(s, jwt_node)
        claims = jwt.decode(h.token, SECRET, algorithms=["HS256"], audience="iggy.apache.org", issuer="iggy.apache.org")
        assert claims["sub"] == "0" and uuid.UUID(claims["jti"]).version == 7
        assert before <= claims["iat"] == claims["nbf"] and claims["exp"] == claims["iat"] + 600
        _status, ident = await h.call("POST", "/users/login", json={"username": "iggy", "password": "iggy"})
        assert ident["access_token"]["expiry"] == jwt.decode(
            ident["access_token"]["token"], options={"verify_signature": False})["exp"]
        await h.error("POST", "/users/login", 400, 42, json={"username": "iggy", "password": "wrong"})
        await h.error("POST", "/users/login", 400, 42, json={"username": "nobody", "password": "iggy"})
        await h.error("POST", "/users/login", 400, 4, json={"username": "iggy"})
        assert (await h.call("POST", "/users/login", data=b"{not json", headers={"Content-Type": "application/json"}))[0] == 400


async def test_minted_tokens_are_checked_like_0_8(jwt_node: NodeProcess) -> None:
    async with aiohttp.ClientSession() as s:
        h = Http(s, f"http://127.0.0.1:{jwt_node.http_port}")
        assert (await h.call("GET", "/streams", token=mint()))[0] == 200
        now = int(time.time())
        for bad in (
            mint(secret="another-secret-another-secret-123456"),
            mint(aud="someone.else"),
            mint(iss="evil.example"),
            mint(exp=now - 60, iat=now - 120, nbf=now - 120),  # expired (beyond the 5 s leeway)
            mint(nbf=now + 3600),  # not valid yet
            mint(sub="not-a-number"),
            mint(jti=None),
            jwt.encode({"sub": "0"}, SECRET, algorithm="HS512"),
        ):
            assert await h.call("GET", "/streams", token=bad) == (401, b"")


async def test_logout_revokes_only_that_token(jwt_node: NodeProcess) -> None:
    async with aiohttp.ClientSession() as s:
        a, b = await Http.login(s, jwt_node), await Http.login(s, jwt_node)
        await a.ok("DELETE", "/users/logout", 204)
        assert await a.call("GET", "/streams") == (401, b"")
        assert (await b.call("GET", "/streams"))[0] == 200
        assert await a.call("DELETE", "/users/logout") == (401, b"")


async def test_refresh_issues_a_new_token_and_revokes_the_old(jwt_node: NodeProcess) -> None:
    async with aiohttp.ClientSession() as s:
        h = await Http.login(s, jwt_node)
        old = h.token
        ident = await h.ok("POST", "/users/refresh-token", json={"token": old}, token="")
        new = ident["access_token"]["token"]
        assert ident["user_id"] == 0 and new != old
        assert await h.call("GET", "/streams", token=old) == (401, b"")
        assert (await h.call("GET", "/streams", token=new))[0] == 200
        await h.error("POST", "/users/refresh-token", 401, 78, json={"token": old})  # refreshes once
        await h.error("POST", "/users/refresh-token", 401, 78, json={"token": "garbage"})
        await h.error("POST", "/users/refresh-token", 401, 78, json={"token": mint(exp=int(time.time()) - 60)})


async def test_permission_errors_and_status_mapping(jwt_node: NodeProcess) -> None:
    async with aiohttp.ClientSession() as s:
        root = await Http.login(s, jwt_node)
        await root.ok("POST", "/users", json={"username": "nobody", "password": "nobody", "status": "active",
                                              "permissions": None})
        nobody = await Http.login(s, jwt_node, "nobody", "nobody")
        body = await nobody.error("POST", "/streams", 403, 41, json={"name": "x"})
        assert body["code"] == "unauthorized" and body["field"] is None
        body = await root.error("DELETE", "/streams/404404", 404, 1009)
        assert (body["code"], body["field"]) == ("stream_id_not_found", "stream_id")
        await root.ok("POST", "/streams", json={"name": "dup"})
        body = await root.error("POST", "/streams", 400, 1012, json={"name": "dup"})
        assert (body["code"], body["field"]) == ("stream_name_already_exists", "name")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "http.crt", tmp / "http.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_https_handshake_and_plaintext_refused(node_factory, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    node = node_factory(extra_env={"WHIPPET_HTTP_TLS_ENABLED": "true", "WHIPPET_HTTP_TLS_CERT_FILE": str(cert),
                                   "WHIPPET_HTTP_TLS_KEY_FILE": str(key)})
    trust = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as s:
        async with s.get(f"https://localhost:{node.http_port}/ping") as r:
            assert (r.status, await r.text()) == (200, "pong")
        async with s.post(f"https://localhost:{node.http_port}/users/login",
                          json={"username": "iggy", "password": "iggy"}) as r:
            assert r.status == 200
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):  # plain HTTP to the TLS port: no HTTP answer
            async with s.get(f"http://127.0.0.1:{node.http_port}/ping", timeout=aiohttp.ClientTimeout(total=5)) as r:
                await r.read()
        with pytest.raises(aiohttp.ClientConnectorCertificateError):  # a client that does not trust the cert
            await s.get(f"https://localhost:{node.http_port}/ping")
