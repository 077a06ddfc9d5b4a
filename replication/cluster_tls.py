"""Security between cluster members: mutual-TLS credentials and the check of every call.

Every gRPC channel a node opens to a peer (replication fetches, forwarded client
requests, pings, joins) and the node's replication listener are built here, so
there is one place that decides what a member presents and what it accepts:

- with ``cluster_tls_*`` files: TLS 1.2+ both ways; the listener asks for a client
  certificate and gRPC refuses (during the handshake, before any call) one that
  the cluster CA did not sign; the dialling side verifies the listener's
  certificate against the same CA and the cluster's DNS name
  (:mod:`.peer_identity`);
- with ``cluster_insecure``: plain gRPC, and a warning at every start.

On top of the handshake, :meth:`ClusterSecurity.check` runs at the start of every
call: the caller's certificate must name a member of *this* cluster, and the call
must carry a valid proof of the cluster secret made by that same member. A
refused call is logged (rate-limited) and counted in
``whippet_cluster_calls_refused_total{reason}``; a refused handshake is logged by
gRPC itself (``Handshake failed ...`` on the node's stderr), since gRPC gives
Python no hook there.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import grpc
from cryptography import x509
from prometheus_client import CollectorRegistry, Counter

from whippet.replication.peer_identity import (
    AUTH_HEADER,
    cluster_dns_name,
    make_proof,
    node_uri,
    peer_from_auth_context,
    verify_proof,
)

__all__ = ["ClusterSecurity", "ClusterSecurityError", "ClusterSettings"]

log = logging.getLogger(__name__)

_REASONS = ("no_member_identity", "wrong_cluster", "no_proof", "bad_proof", "node_mismatch")
_LOG_EVERY_S = 1.0
_LOG_BURST = 10


class ClusterSecurityError(ValueError):
    """The cluster TLS settings name files that cannot be used (the node reports it as a
    configuration error naming the setting)."""


class ClusterSettings(Protocol):
    """The node settings this module reads (``node.config.NodeConfig`` has them)."""

    @property
    def cluster_name(self) -> str: ...
    @property
    def node_id(self) -> int: ...
    @property
    def cluster_secret(self) -> str: ...
    @property
    def cluster_tls(self) -> bool: ...
    @property
    def cluster_tls_ca_file(self) -> str: ...
    @property
    def cluster_tls_cert_file(self) -> str: ...
    @property
    def cluster_tls_key_file(self) -> str: ...


class ClusterSecurity:
    """Credentials and call checks of one node (files are read once, at construction).

    Raises:
        ClusterSecurityError: a certificate file is unreadable, or names another node or cluster.
    """

    def __init__(self, config: ClusterSettings, registry: CollectorRegistry | None = None, *,
                 members: bool = True) -> None:
        self.cluster = config.cluster_name
        self.node_id = config.node_id
        self._secret = config.cluster_secret
        # A one-node cluster dials no one and listens on no replication port: its files are not needed.
        self.tls = config.cluster_tls and members
        self._ca = self._key = self._chain = b""
        if self.tls:
            self._ca = _read(config.cluster_tls_ca_file, "cluster_tls_ca_file")
            self._chain = _read(config.cluster_tls_cert_file, "cluster_tls_cert_file")
            self._key = _read(config.cluster_tls_key_file, "cluster_tls_key_file")
            self._check_own_certificate(config.cluster_tls_cert_file)
        self._refused = Counter(
            "whippet_cluster_calls_refused", "Replication-port calls refused by the member check, by reason",
            ["reason"], registry=registry,
        )
        for reason in _REASONS:
            self._refused.labels(reason)  # every series exists from the start (0)
        self._proof: tuple[int, tuple[tuple[str, str], ...]] = (-1, ())
        self._log_window = (0.0, 0)

    def _check_own_certificate(self, path: str) -> None:
        try:
            cert = x509.load_pem_x509_certificate(self._chain)
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        except (ValueError, x509.ExtensionNotFound) as exc:
            raise ClusterSecurityError(f"cluster_tls_cert_file={path!r}: not a member certificate ({exc})") from None
        expected = node_uri(self.cluster, self.node_id)
        if expected not in uris:
            raise ClusterSecurityError(f"cluster_tls_cert_file={path!r} names {', '.join(uris) or 'no member'}; this node "
                              f"is {expected} (make one with `make certs`)")

    # --- the dialling side --------------------------------------------------------------------
    def channel(self, address: str, options: list[tuple[str, Any]]) -> grpc.aio.Channel:
        if not self.tls:
            return grpc.aio.insecure_channel(address, options=options)
        credentials = grpc.ssl_channel_credentials(self._ca, self._key, self._chain)
        options = [*options, ("grpc.ssl_target_name_override", cluster_dns_name(self.cluster))]
        return grpc.aio.secure_channel(address, credentials, options=options)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata carrying this node's proof of the secret (made at most once a second)."""
        now = int(time.time())
        if self._proof[0] != now:
            self._proof = (now, ((AUTH_HEADER, make_proof(self._secret, self.cluster, self.node_id, now)),))
        return self._proof[1]

    # --- the listening side -------------------------------------------------------------------
    def add_port(self, server: grpc.aio.Server, address: str) -> int:
        """Bind ``address`` on ``server`` with this node's credentials; returns the port."""
        if not self.tls:
            return int(server.add_insecure_port(address))
        credentials = grpc.ssl_server_credentials(
            [(self._key, self._chain)], root_certificates=self._ca, require_client_auth=True
        )
        return int(server.add_secure_port(address, credentials))

    def check(self, context: Any) -> str | None:
        """None when the caller is a member of this cluster holding the secret, else why not
        (already logged and counted)."""
        reason, label = self._refusal(context)
        if reason is None:
            return None
        self._refused.labels(label).inc()
        self._log(context, reason)
        return reason

    def _refusal(self, context: Any) -> tuple[str | None, str]:
        claimed: set[int] | None = None
        if self.tls:
            peers = peer_from_auth_context(context.auth_context())
            if not peers:
                return "the peer certificate names no cluster member", "no_member_identity"
            claimed = {p.node_id for p in peers if p.cluster == self.cluster}
            if not claimed:
                others = ", ".join(sorted({p.cluster for p in peers}))
                return f"the peer certificate is for cluster {others}, not {self.cluster}", "wrong_cluster"
        proof = dict(context.invocation_metadata() or ()).get(AUTH_HEADER)
        verdict = verify_proof(self._secret, self.cluster, proof, time.time())
        if isinstance(verdict, str):
            return verdict, "no_proof" if proof is None else "bad_proof"
        if claimed is not None and verdict not in claimed:
            return f"proof made by node {verdict} over a certificate of node {sorted(claimed)}", "node_mismatch"
        return None, ""

    def _log(self, context: Any, reason: str) -> None:
        now = time.monotonic()
        start, count = self._log_window
        if now - start > _LOG_EVERY_S:
            start, count = now, 0
        self._log_window = (start, count + 1)
        if count < _LOG_BURST:
            log.warning("refused a replication-port call from %s: %s", context.peer(), reason)


def _read(path: str, setting: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ClusterSecurityError(f"{setting}={path!r}: {exc.strerror}") from None
