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

__all__ = ["DevCerts", "main", "make_certs"]


@dataclass(frozen=True, slots=True)
class DevCerts:
    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if not (cert_path.exists() and key_path.exists()):
        return None
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit(f"{key_path}: not an EC key made by this tool")
    return cert, key


def make_certs(
    directory: Path, *, name: str = "node", names: tuple[str, ...] = ("localhost", "127.0.0.1"), days: int = 825
) -> DevCerts:
    """Create (or reuse) the CA in ``directory`` and issue ``<name>.pem``/``.key`` for ``names``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _load_ca(directory)
    if ca is None:
        ca_key = new_key()
        ca_cert = issue_certificate(ca_key, "whippet development CA", ca=True, days=3650)
        write_key(ca_key, directory / "ca.key")
        write_certs([ca_cert], directory / "ca.pem")
        ca = (ca_cert, ca_key)
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
    args = p.parse_args(argv)
    names = tuple(n.strip() for n in args.names.split(",") if n.strip())
    if not names:
        p.error("--names must list at least one name")
    out = make_certs(Path(args.out), name=args.name, names=names, days=args.days)
    print(f"CA:   {out.ca_cert}\ncert: {out.cert}\nkey:  {out.key}", file=sys.stdout)


if __name__ == "__main__":
    main()
