"""The StatefulSet's container command, args and env, run as the kubelet would run them.

The script is taken verbatim from the rendered StatefulSet and run with ``/bin/sh``
(dash in python:3.11-slim) with the env the kubelet builds. Only what a laptop
cannot provide is remapped, and each remap is listed where it happens: the config
file path (the ConfigMap is written to tmp), listening host, ports and data dir
(env overrides, which the node ranks above the file), the cluster size (a
one-node group: peers' DNS names do not resolve here) and the Secret's placeholders.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.client import TestClient
from tests.support.nodeproc import free_port
from tests.unit.deploy.k8s_render import container_env, find, render
from whippet.node.__main__ import _parser
from whippet.node.config import load_config

NAMESPACE = "streaming"
SECRETS = {"WHIPPET_CLUSTER_SECRET": "s3cret-cluster-pass", "WHIPPET_AUTH_ROOT_PASSWORD": "s3cret-root-pass"}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render(extra=("secret.example.yaml",))


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = find(objects, "StatefulSet", "whippet")["spec"]["template"]["spec"]["containers"]
    return container


def _config_path(container: dict[str, Any]) -> str:
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "config")
    return f"{mount}/node.toml"


def _launch(
    objects: list[dict[str, Any]], tmp_path: Path, pod: str, overrides: dict[str, str], path: list[str]
) -> subprocess.Popen[str]:
    container = _container(objects)
    node_toml = tmp_path / "node.toml"
    node_toml.write_text(find(objects, "ConfigMap", "whippet-config")["data"]["node.toml"])
    (script,) = container["args"]
    assert script.count(_config_path(container)) == 1
    script = script.replace(_config_path(container), str(node_toml))  # remap: the ConfigMap volume
    env = container_env(objects, container, pod_name=pod, namespace=NAMESPACE)
    env.update(HOSTNAME=pod, PATH=os.pathsep.join([*path, "/usr/bin", "/bin"]), **overrides)
    with open(tmp_path / f"{pod}.log", "w") as log:  # a file, not a pipe: a running node never blocks on it
        return subprocess.Popen([*container["command"], script], env=env, stdout=log, stderr=log, text=True)


def _cluster_tls(tmp_path: Path) -> dict[str, str]:
    """The Secret whippet-cluster-tls as `make certs` makes it, for the 3 members."""
    from whippet.node.certs import make_cluster_certs

    made = make_cluster_certs(tmp_path / "certs", "whippet", [1, 2, 3])
    return {"CLUSTER_TLS_DIR": str(made.directory)}  # remap: the Secret's volume


def _stub(tmp_path: Path) -> tuple[Path, Path]:
    """A ``whippet-node`` that records its argv and WHIPPET_* env instead of running."""
    bin_dir, out = tmp_path / "bin", tmp_path / "stub.json"
    bin_dir.mkdir()
    stub = bin_dir / "whippet-node"
    stub.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': {{k: v for k, v in os.environ.items() "
        f"if k.startswith('WHIPPET_')}}}}, open({str(out)!r}, 'w'))\n"
    )
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return bin_dir, out


def test_each_pod_gets_its_ordinal_id_and_the_member_list(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    bin_dir, out = _stub(tmp_path)
    size = int(container_env(objects, _container(objects), "whippet-0", NAMESPACE)["CLUSTER_SIZE"])
    domain = f"whippet.{NAMESPACE}.svc.cluster.local"
    expected_members = {i + 1: f"whippet-{i}.{domain}:18090" for i in range(size)}
    tls = _cluster_tls(tmp_path)
    for ordinal in range(size):
        pod = f"whippet-{ordinal}"
        proc = _launch(objects, tmp_path, pod, {**SECRETS, **tls}, [str(bin_dir)])
        assert proc.wait(30) == 0, (tmp_path / f"{pod}.log").read_text()
        seen = json.loads(out.read_text())
        # What the real node makes of exactly these args and env:
        args = vars(_parser().parse_args(seen["argv"]))
        config = load_config(args.pop("config"), {k: v for k, v in args.items() if v is not None}, seen["env"])
        assert config.node_id == ordinal + 1
        assert config.cluster_members() == expected_members
        assert config.advertised_host == f"{pod}.{domain}"
        assert expected_members[config.node_id] == f"{config.advertised_host}:{config.cluster_raft_port}"
        assert config.topic_replication_factor == 3 and config.cluster_secret == SECRETS["WHIPPET_CLUSTER_SECRET"]
        assert (config.host, config.data_dir, config.auth_root_username) == ("0.0.0.0", "/var/lib/whippet", "root")
        assert config.cluster_bind_host == "10.244.0.7"  # the pod IP, not every interface
        assert config.cluster_tls_cert_file == f"{tls['CLUSTER_TLS_DIR']}/node-{ordinal + 1}.pem"
        assert config.cluster_tls and not config.cluster_insecure
        from whippet.replication.cluster_tls import ClusterSecurity

        ClusterSecurity(config)  # the files load, and name this very node


@pytest.mark.parametrize("secret", ["", "replace-me-cluster-secret"])
def test_an_empty_or_placeholder_secret_stops_the_pod(objects: list[dict[str, Any]], tmp_path: Path,
                                                      secret: str) -> None:
    bin_dir, out = _stub(tmp_path)
    overrides = {**SECRETS, **_cluster_tls(tmp_path), "WHIPPET_CLUSTER_SECRET": secret}
    proc = _launch(objects, tmp_path, "whippet-1", overrides, [str(bin_dir)])
    assert proc.wait(30) == 64
    assert "set the Secret whippet-secrets" in (tmp_path / "whippet-1.log").read_text()
    assert not out.exists()


def test_a_member_without_its_certificate_stops_with_a_message(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    bin_dir, out = _stub(tmp_path)
    tls = _cluster_tls(tmp_path)
    (Path(tls["CLUSTER_TLS_DIR"]) / "node-2.key").unlink()
    proc = _launch(objects, tmp_path, "whippet-1", {**SECRETS, **tls}, [str(bin_dir)])
    assert proc.wait(30) == 64
    assert "node-2.key is missing: create the Secret whippet-cluster-tls" in (tmp_path / "whippet-1.log").read_text()
    assert not out.exists()


def test_placeholder_secret_stops_the_pod_with_a_message(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    bin_dir, out = _stub(tmp_path)
    proc = _launch(objects, tmp_path, "whippet-0", {}, [str(bin_dir)])  # the Secret as shipped
    assert proc.wait(30) == 64
    assert "set the Secret whippet-secrets" in (tmp_path / "whippet-0.log").read_text()
    assert not out.exists()


async def test_the_rendered_pod_command_runs_a_serving_node(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("TCP", "HTTP", "QUIC", "WS", "CLUSTER_RAFT", "CLUSTER_REPLICATION")}
    overrides = {
        **SECRETS,
        **{f"WHIPPET_{name}_PORT": str(port) for name, port in ports.items()},  # remap: ports
        "WHIPPET_HOST": "127.0.0.1",  # remap: loopback
        "WHIPPET_CLUSTER_HOST": "127.0.0.1",  # remap: the pod IP
        "WHIPPET_DATA_DIR": str(tmp_path / "data"),  # remap: the PersistentVolume
        "CLUSTER_SIZE": "1",  # remap: a one-node group
        "WHIPPET_TOPIC_REPLICATION_FACTOR": "1",
    }
    proc = _launch(objects, tmp_path, "whippet-0", overrides, [str(Path(sys.executable).parent)])
    try:
        _wait_for_port(proc, ports["TCP"], tmp_path / "whippet-0.log")
        root = ("root", SECRETS["WHIPPET_AUTH_ROOT_PASSWORD"])  # TOML username + the Secret's password
        client = await TestClient.connect(f"127.0.0.1:{ports['TCP']}", login=root)
        await client.create_stream("from-k8s")
        await client.close()
        ping = f"http://127.0.0.1:{ports['HTTP']}/ping"  # the probes' endpoint
        async with aiohttp.ClientSession() as http, http.get(ping) as reply:
            assert reply.status == 200
        proc.send_signal(signal.SIGTERM)  # what the kubelet sends; `exec` makes the node receive it
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _wait_for_port(proc: subprocess.Popen[str], port: int, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"node exited with {proc.returncode}: {log.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the node did not open its TCP port")
