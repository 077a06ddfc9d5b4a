"""``python -m whippet.node.certs --out DIR``: a development CA and node certificates.

Writes, in ``DIR``:

- ``ca.pem`` / ``ca.key``: the CA. Reused when present, so running the tool again
  for another node name issues a certificate the same clients already trust.
- ``<name>.pem`` / ``<name>.key``: a server certificate for ``--names`` (default
  ``localhost,127.0.0.1``) signed by the CA; ``<name>.pem`` holds the leaf followed
  by the CA so servers send the whole chain.

Point a node at them with ``tcp_tls_cert_file = "DIR/node.pem"``,
``tcp_tls_key_file = "DIR/node.key"`` (likewise ``ws_tls_*``, ``http_tls_*``,
``quic_tls_*``) and a client at ``ca.pem`` (``tls_ca_file=DIR/ca.pem``). For
development only: the CA key sits unencrypted beside the certificates.

With ``--cluster NAME --nodes N`` it also makes the certificates cluster members
present to each other (mutual TLS on the replication port), from a separate
cluster CA, so a client certificate of the first CA never passes as a member:

- ``cluster-ca.pem`` / ``cluster-ca.key``: the cluster CA (reused when present);
- ``cluster/ca.pem``, ``cluster/node-<id>.pem``, ``cluster/node-<id>.key``: what
  the nodes need and nothing else (no CA key), so the directory can become the
  Kubernetes Secret ``whippet-cluster-tls`` as it is.

Each node certificate names the node and its cluster (:mod:`whippet.replication.cluster_tls`):
a member refuses a peer whose certificate is for another cluster, even one signed
by the same CA.

A node tool, not a CLI command: it shares ``node.transports.tls``'s certificate code
and needs the node's ``cryptography``, which the SDK/CLI install does not bring.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from whippet.node.transports.tls import issue_certificate, new_key, write_certs, write_key
from whippet.replication.peer_identity import node_identity_names

__all__ = ["ClusterCerts", "DevCerts", "main", "make_certs", "make_cluster_certs"]


@dataclass(frozen=True, slots=True)
class DevCerts:
    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class ClusterCerts:
    ca_cert: Path
    directory: Path

    def cert(self, node_id: int) -> Path:
        return self.directory / f"node-{node_id}.pem"

    def key(self, node_id: int) -> Path:
        return self.directory / f"node-{node_id}.key"

    def env(self, node_id: int) -> dict[str, str]:
        """The node settings (as WHIPPET_* variables) that use these files."""
        return {
            "WHIPPET_CLUSTER_TLS_CA_FILE": str(self.directory / "ca.pem"),
            "WHIPPET_CLUSTER_TLS_CERT_FILE": str(self.cert(node_id)),
            "WHIPPET_CLUSTER_TLS_KEY_FILE": str(self.key(node_id)),
        }


Issuer = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _load_ca(directory: Path, stem: str = "ca") -> Issuer | None:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    if not (cert_path.exists() and key_path.exists()):
        return None
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit(f"{key_path}: not an EC key made by this tool")
    return cert, key


def _ca(directory: Path, stem: str, title: str) -> Issuer:
    """The CA ``<stem>.pem``/``.key`` in ``directory``, made on first use."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _load_ca(directory, stem)
    if ca is None:
        ca_key = new_key()
        ca_cert = issue_certificate(ca_key, title, ca=True, days=3650)
        write_key(ca_key, directory / f"{stem}.key")
        write_certs([ca_cert], directory / f"{stem}.pem")
        ca = (ca_cert, ca_key)
    return ca


def make_cluster_certs(directory: Path, cluster: str, node_ids: list[int], *, days: int = 825) -> ClusterCerts:
    """Create (or reuse) the cluster CA in ``directory`` and one member certificate per id."""
    ca = _ca(directory, "cluster-ca", f"whippet cluster CA ({cluster})")
    out = directory / "cluster"
    out.mkdir(exist_ok=True)
    write_certs([ca[0]], out / "ca.pem")
    for node_id in node_ids:
        key = new_key()
        dns, uri = node_identity_names(cluster, node_id)
        cert = issue_certificate(key, f"whippet node {node_id} of {cluster}", names=(dns,), uris=(uri,),
                                 issuer=ca, days=days, client_auth=True)
        write_key(key, out / f"node-{node_id}.key")
        write_certs([cert, ca[0]], out / f"node-{node_id}.pem")
    return ClusterCerts(directory / "cluster-ca.pem", out)


def make_certs(
    directory: Path, *, name: str = "node", names: tuple[str, ...] = ("localhost", "127.0.0.1"), days: int = 825
) -> DevCerts:
    """Create (or reuse) the CA in ``directory`` and issue ``<name>.pem``/``.key`` for ``names``."""
    ca = _ca(directory, "ca", "whippet development CA")
    key = new_key()
    cert = issue_certificate(key, names[0], names=names, issuer=ca, days=days)
    write_key(key, directory / f"{name}.key")
    write_certs([cert, ca[0]], directory / f"{name}.pem")
    return DevCerts(directory / "ca.pem", directory / "ca.key", directory / f"{name}.pem", directory / f"{name}.key")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="whippet-certs", description="Make a development CA and a node certificate.")
    p.add_argument("--out", default="certs", help="output directory (default ./certs)")
    p.add_argument("--name", default="node", help="file name of the node certificate (default node)")
    p.add_argument(
        "--names", default="localhost,127.0.0.1", help="comma-separated DNS names / IPs the certificate is valid for"
    )
    p.add_argument("--days", type=int, default=825, help="validity of the node certificate in days")
    p.add_argument("--cluster", help="also make member certificates for this cluster_name (mutual TLS between nodes)")
    p.add_argument("--nodes", type=int, default=3, help="with --cluster: node ids 1..N get a certificate (default 3)")
    args = p.parse_args(argv)
    names = tuple(n.strip() for n in args.names.split(",") if n.strip())
    if not names:
        p.error("--names must list at least one name")
    out = make_certs(Path(args.out), name=args.name, names=names, days=args.days)
    print(f"CA:   {out.ca_cert}\ncert: {out.cert}\nkey:  {out.key}", file=sys.stdout)
    if args.cluster is not None:
        if args.nodes < 1:
            p.error("--nodes must be >= 1")
        members = make_cluster_certs(Path(args.out), args.cluster, list(range(1, args.nodes + 1)), days=args.days)
        print(f"cluster CA: {members.ca_cert}\nmembers:    {members.directory}/node-{{1..{args.nodes}}}.pem",
              file=sys.stdout)


if __name__ == "__main__":
    main()
