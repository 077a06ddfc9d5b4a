"""Who a cluster peer is, and how it proves it: certificate names and the call proof.

Pure functions, no gRPC: the certificate tool, the channel set-up and the
server's check all use them, so a node certificate and the check that reads it
cannot drift apart.

**Certificate names.** A member's certificate (signed by the cluster CA) carries
two subject alternative names:

- the URI ``whippet://<cluster>/node/<id>``: the member's identity, read by the
  server side of every call (:func:`peer_from_auth_context`);
- the DNS name ``<cluster>.cluster.whippet``: what a dialling member verifies the
  server's certificate against (the channel overrides the expected host name with
  it), since gRPC lets a Python client check nothing else of the server's
  certificate. A member thus reaches "a member of my cluster" whatever address it
  dialled (pod IPs change; certificates need no per-address names).

Both carry the cluster name, so a certificate of another cluster is refused even
when the two clusters share a CA.

**Call proof.** The cluster secret never leaves the process. Each call carries
``x-whippet-auth: <node id>.<unix seconds>.<hex HMAC-SHA256>`` keyed with the
secret over the cluster name, the node id and the time; the server accepts it
within :data:`PROOF_WINDOW_S` of its own clock and, under TLS, only from the
node its certificate names. Inside TLS this is a second factor (a member needs
the CA's certificate and the secret); with ``cluster_insecure`` it still keeps
the secret off the wire, though a recorded proof can be replayed within the
window, which is why plain gRPC is behind an explicit setting.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "AUTH_HEADER",
    "PROOF_WINDOW_S",
    "PeerIdentity",
    "cluster_dns_name",
    "make_proof",
    "node_identity_names",
    "node_uri",
    "peer_from_auth_context",
    "verify_proof",
]

AUTH_HEADER = "x-whippet-auth"
#: accepted clock difference between two members, in seconds (each way)
PROOF_WINDOW_S = 300
_URI_PREFIX = "whippet://"


def cluster_dns_name(cluster: str) -> str:
    """The DNS subject name every member certificate of ``cluster`` carries."""
    return f"{cluster.lower()}.cluster.whippet"


def node_uri(cluster: str, node_id: int) -> str:
    return f"{_URI_PREFIX}{cluster}/node/{node_id}"


def node_identity_names(cluster: str, node_id: int) -> tuple[str, str]:
    """(DNS name, URI) to put in the certificate of member ``node_id`` of ``cluster``."""
    return cluster_dns_name(cluster), node_uri(cluster, node_id)


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    cluster: str
    node_id: int


def _parse_uri(uri: str) -> PeerIdentity | None:
    if not uri.startswith(_URI_PREFIX):
        return None
    cluster, _, rest = uri[len(_URI_PREFIX):].partition("/node/")
    if not cluster or not rest.isdigit():
        return None
    return PeerIdentity(cluster, int(rest))


def peer_from_auth_context(auth: Mapping[str, Iterable[bytes]]) -> list[PeerIdentity]:
    """The member identities named by a TLS peer's certificate (gRPC's auth context)."""
    found = []
    for raw in auth.get("peer_uri", ()):
        parsed = _parse_uri(raw.decode("utf-8", "replace"))
        if parsed is not None:
            found.append(parsed)
    return found


def _mac(secret: str, cluster: str, node_id: int, stamp: int) -> str:
    message = f"whippet-cluster-call|{cluster}|{node_id}|{stamp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def make_proof(secret: str, cluster: str, node_id: int, now: float) -> str:
    stamp = int(now)
    return f"{node_id}.{stamp}.{_mac(secret, cluster, node_id, stamp)}"


def verify_proof(secret: str, cluster: str, proof: str | bytes | None, now: float) -> int | str:
    """The node id a valid ``proof`` was made by, or the reason it is refused (a string)."""
    if proof is None:
        return "no cluster proof header"
    text = proof.decode("ascii", "replace") if isinstance(proof, bytes) else proof
    parts = text.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return "malformed cluster proof"
    node_id, stamp = int(parts[0]), int(parts[1])
    if abs(now - stamp) > PROOF_WINDOW_S:
        return f"cluster proof from node {node_id} is {int(now - stamp)} s off this node's clock"
    if not hmac.compare_digest(parts[2], _mac(secret, cluster, node_id, stamp)):
        return f"wrong cluster secret (proof claims node {node_id})"
    return node_id
