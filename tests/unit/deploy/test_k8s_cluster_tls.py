"""The k8s kit's member certificates: the cluster-tls volume, and the cert-manager option.

Whichever source fills the volume (the Secret whippet-cluster-tls made by `make certs`, or
cert-manager's per-node Secrets), each pod must find ``ca.pem``, ``node-<id>.pem`` and
``node-<id>.key`` where its entrypoint looks, and the certificate cert-manager is asked
for must carry exactly the names the node checks (replication.peer_identity).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.k8s_render import K8S_DIR, find, render
from whippet.node.config import load_config
from whippet.node.transports.tls import issue_certificate, new_key, write_certs, write_key
from whippet.replication.cluster_tls import ClusterSecurity
from whippet.replication.peer_identity import cluster_dns_name, node_uri

CERT_MANAGER = K8S_DIR / "cert-manager"


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


def _cert_manager() -> list[dict[str, Any]]:
    kust = yaml.safe_load((CERT_MANAGER / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for entry in kust["resources"]:
        docs += [d for d in yaml.safe_load_all((CERT_MANAGER / entry).read_text()) if d]
    return docs


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "StatefulSet", "whippet")["spec"]["template"]["spec"]


def _sources(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    volume = next(v for v in _pod(objects)["volumes"] if v["name"] == "cluster-tls")
    return [s["secret"] for s in volume["projected"]["sources"]]


def _size(objects: list[dict[str, Any]]) -> int:
    return int(find(objects, "StatefulSet", "whippet")["spec"]["replicas"])  # from cluster-size.yaml


def _cluster_name(objects: list[dict[str, Any]]) -> str:
    toml = tomllib.loads(find(objects, "ConfigMap", "whippet-config")["data"]["node.toml"])
    return str(toml["cluster"]["name"])


def test_the_volume_is_where_the_entrypoint_looks_and_every_source_is_optional(objects: list[dict[str, Any]]) -> None:
    (container,) = _pod(objects)["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "cluster-tls")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CLUSTER_TLS_DIR"] == mount["mountPath"] and mount["readOnly"]
    sources = _sources(objects)
    assert all(s["optional"] for s in sources)  # a one-node cluster needs none of them
    assert sources[0] == {"name": "whippet-cluster-tls", "optional": True}  # `make certs`: the directory as is


def test_cert_manager_secrets_project_every_members_files(objects: list[dict[str, Any]]) -> None:
    projected: dict[str, str] = {}
    for source in _sources(objects)[1:]:
        for item in source["items"]:
            assert item["path"] not in projected, f"{item['path']} projected twice"
            projected[item["path"]] = f"{source['name']}:{item['key']}"
    certificates = {d["metadata"]["name"]: d["spec"] for d in _cert_manager() if d["kind"] == "Certificate"}
    for node_id in range(1, _size(objects) + 1):
        spec = certificates[f"whippet-node-{node_id}"]
        assert projected[f"node-{node_id}.pem"] == f"{spec['secretName']}:tls.crt"
        assert projected[f"node-{node_id}.key"] == f"{spec['secretName']}:tls.key"
    assert projected["ca.pem"].endswith(":ca.crt")


def test_cert_manager_certificates_carry_the_names_the_nodes_check(objects: list[dict[str, Any]],
                                                                   tmp_path: Path) -> None:
    docs = _cert_manager()
    issuers = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Issuer"}
    certificates = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Certificate"}
    ca = certificates["whippet-cluster-ca"]
    assert ca["isCA"] and issuers[ca["issuerRef"]["name"]] == {"selfSigned": {}}
    cluster = _cluster_name(objects)
    root_key = new_key()
    root = issue_certificate(root_key, ca["commonName"], ca=True)
    write_certs([root], tmp_path / "ca.pem")
    for node_id in range(1, _size(objects) + 1):
        spec = certificates[f"whippet-node-{node_id}"]
        assert issuers[spec["issuerRef"]["name"]] == {"ca": {"secretName": ca["secretName"]}}
        assert spec["uris"] == [node_uri(cluster, node_id)]
        assert cluster_dns_name(cluster) in spec["dnsNames"]
        assert {"server auth", "client auth"} <= set(spec["usages"])
        # A certificate with exactly these names, as cert-manager would issue it, passes the node's own check.
        key = new_key()
        cert = issue_certificate(key, spec["commonName"], names=tuple(spec["dnsNames"]), uris=tuple(spec["uris"]),
                                 issuer=(root, root_key), client_auth=True)
        write_key(key, tmp_path / f"node-{node_id}.key")
        write_certs([cert], tmp_path / f"node-{node_id}.pem")
        env = {"WHIPPET_CLUSTER_TLS_CA_FILE": str(tmp_path / "ca.pem"),
               "WHIPPET_CLUSTER_TLS_CERT_FILE": str(tmp_path / f"node-{node_id}.pem"),
               "WHIPPET_CLUSTER_TLS_KEY_FILE": str(tmp_path / f"node-{node_id}.key"),
               "WHIPPET_NODE_ID": str(node_id), "WHIPPET_CLUSTER_NAME": cluster}
        ClusterSecurity(load_config(None, env=env))
    # ...and one made for another node is refused at start, naming both.
    env["WHIPPET_NODE_ID"] = "1"
    with pytest.raises(ValueError, match="names whippet://.*/node/3; this node is whippet://.*/node/1"):
        ClusterSecurity(load_config(None, env=env))
