"""The member check of the replication port, in memory: certificate names and the secret's proof."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from whippet.node.certs import make_cluster_certs
from whippet.node.config import load_config
from whippet.replication.cluster_tls import ClusterSecurity, ClusterSecurityError
from whippet.replication.peer_identity import (
    AUTH_HEADER,
    PROOF_WINDOW_S,
    PeerIdentity,
    make_proof,
    node_identity_names,
    peer_from_auth_context,
    verify_proof,
)


def test_a_proof_verifies_only_with_the_secret_the_cluster_and_in_time() -> None:
    now = 1_700_000_000.0
    proof = make_proof("s3cret", "whippet", 2, now)
    assert "s3cret" not in proof  # the secret itself never travels
    assert verify_proof("s3cret", "whippet", proof, now + 1) == 2
    assert verify_proof("s3cret", "whippet", proof.encode(), now - PROOF_WINDOW_S) == 2
    assert "wrong cluster secret" in str(verify_proof("other", "whippet", proof, now))
    assert "wrong cluster secret" in str(verify_proof("s3cret", "elsewhere", proof, now))
    assert "off this node's clock" in str(verify_proof("s3cret", "whippet", proof, now + PROOF_WINDOW_S + 2))
    forged = proof.replace("2.", "3.", 1)  # claim another node with the same MAC
    assert "wrong cluster secret" in str(verify_proof("s3cret", "whippet", forged, now))
    for bad in (None, "", "x", "1.2", "a.b.c", "1.2.3.4"):
        assert isinstance(verify_proof("s3cret", "whippet", bad, now), str)


def test_certificate_names_round_trip_through_the_auth_context() -> None:
    dns, uri = node_identity_names("whippet", 3)
    assert dns == "whippet.cluster.whippet" and uri == "whippet://whippet/node/3"
    auth = {"peer_uri": [uri.encode(), b"spiffe://x/y", b"whippet://nodeless"], "x509_common_name": [b"n"]}
    assert peer_from_auth_context(auth) == [PeerIdentity("whippet", 3)]
    assert peer_from_auth_context({}) == []


class _Context:
    def __init__(self, uris: list[str], metadata: tuple[tuple[str, str], ...]) -> None:
        self._auth = {"peer_uri": [u.encode() for u in uris]}
        self._metadata = metadata

    def auth_context(self) -> dict[str, Any]:
        return self._auth

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"


def _security(tmp_path: Path, node_id: int = 1, **env: str) -> ClusterSecurity:
    made = make_cluster_certs(tmp_path, "whippet", [1, 2])
    config = load_config(None, env={**made.env(node_id), "WHIPPET_NODE_ID": str(node_id),
                                    "WHIPPET_CLUSTER_SECRET": "s3cret", **env})
    return ClusterSecurity(config)


def test_the_listener_accepts_a_member_of_its_cluster_with_its_own_proof(tmp_path: Path) -> None:
    me = _security(tmp_path)
    peer = _security(tmp_path, node_id=2)
    assert all("s3cret" not in value for _, value in peer.metadata)
    assert me.check(_Context(["whippet://whippet/node/2"], peer.metadata)) is None
    refusals = {
        "names no cluster member": _Context([], peer.metadata),
        "is for cluster elsewhere": _Context(["whippet://elsewhere/node/2"], peer.metadata),
        "no cluster proof header": _Context(["whippet://whippet/node/2"], ()),
        "proof made by node 2 over a certificate of node [1]": _Context(["whippet://whippet/node/1"], peer.metadata),
        "wrong cluster secret": _Context(["whippet://whippet/node/2"],
                                         ((AUTH_HEADER, make_proof("guess", "whippet", 2, time.time())),)),
    }
    for reason, context in refusals.items():
        got = me.check(context)
        assert got is not None and reason in got, (reason, got)


def test_a_certificate_for_another_node_stops_the_node_at_start(tmp_path: Path) -> None:
    made = make_cluster_certs(tmp_path, "whippet", [2])
    env = {**made.env(2), "WHIPPET_NODE_ID": "1"}
    with pytest.raises(ClusterSecurityError, match=r"names whippet://whippet/node/2; this node is whippet://whippet/node/1"):
        ClusterSecurity(load_config(None, env=env))
    env["WHIPPET_CLUSTER_TLS_CA_FILE"] = str(tmp_path / "missing.pem")
    with pytest.raises(ClusterSecurityError, match="cluster_tls_ca_file=.*missing.pem"):
        ClusterSecurity(load_config(None, env=env))


def test_a_one_node_cluster_needs_no_certificate_files(tmp_path: Path) -> None:
    config = load_config(None, env={"WHIPPET_CLUSTER_TLS_CA_FILE": "/nope/ca.pem",
                                    "WHIPPET_CLUSTER_TLS_CERT_FILE": "/nope/c.pem",
                                    "WHIPPET_CLUSTER_TLS_KEY_FILE": "/nope/k.pem"})
    assert not ClusterSecurity(config, members=False).tls
