"""TLS material for the node's listeners: server SSLContexts and certificates.

Every TLS listener (TCP, WebSocket, HTTPS) reads PEM cert/key files named in the
settings ``<transport>_tls_cert_file`` / ``_key_file``. When TLS is enabled and no
files are named, the node uses a self-signed ``localhost`` certificate that it
generates once and keeps in ``<data_dir>/tls/`` (Iggy 0.8's ``self_signed = true``
default); QUIC, which is always TLS, does the same. Keeping it in the data dir
means a restarted node presents the same certificate, so a client that pinned it
keeps working.

Certificates are built here with ``cryptography`` (ECDSA P-256: fast to generate,
accepted by rustls, OpenSSL and aioquic); ``whippet.node.certs`` uses the same
builder to make a development CA and node certificates signed by it.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from whippet.node.server import Node

__all__ = [
    "TlsFiles",
    "TlsSetupError",
    "context_for",
    "files_for",
    "issue_certificate",
    "new_key",
    "self_signed_files",
    "server_context",
    "write_certs",
    "write_key",
]

SELF_SIGNED_NAMES = ("localhost", "127.0.0.1")
_DAYS = 825  # the longest validity Apple/Chrome accept for a leaf


class TlsSetupError(RuntimeError):
    """The TLS settings name files that cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert_file: Path
    key_file: Path


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names: tuple[str, ...] | list[str], uris: tuple[str, ...] = ()) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri) for uri in uris]
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def issue_certificate(
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    names: tuple[str, ...] | list[str] = (),
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    ca: bool = False,
    days: int = _DAYS,
    uris: tuple[str, ...] = (),
    client_auth: bool = False,
) -> x509.Certificate:
    """A certificate for ``key``: a CA when ``ca``, else a server leaf for ``names``.

    Without ``issuer`` it is self-signed. Leaves carry the subject alternative names
    and serverAuth usage that rustls/webpki insist on; CAs carry the basic
    constraints and keyCertSign usage that make verifiers accept them as anchors.
    A cluster node's leaf also carries ``uris`` (its identity) and clientAuth usage,
    since the same certificate authenticates it when it dials its peers (mutual TLS).
    """
    now = _dt.datetime.now(_dt.UTC)
    subject = _name(common_name)
    issuer_name, signing_key = (subject, key) if issuer is None else (issuer[0].subject, issuer[1])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
        )
    if ca:
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
        )
        builder = builder.add_extension(usage, critical=True)
    else:
        purposes = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [])
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=True, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        )
        builder = (
            builder.add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
            .add_extension(_san(names or (common_name,), uris), critical=False)
        )
    return builder.sign(signing_key, hashes.SHA256())


def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    """Write a PEM private key readable by its owner only (created 0600, never world-readable)."""
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_certs(certs: list[x509.Certificate], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    os.replace(tmp, path)


def self_signed_files(data_dir: Path) -> TlsFiles:
    """The node's self-signed ``localhost`` certificate, made on first use and then reused."""
    directory = data_dir / "tls"
    files = TlsFiles(directory / "self-signed.pem", directory / "self-signed.key")
    if files.cert_file.exists() and files.key_file.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    key = new_key()
    cert = issue_certificate(key, "localhost", names=SELF_SIGNED_NAMES)
    write_key(key, files.key_file)  # key first: a cert file present means its key is too
    write_certs([cert], files.cert_file)
    return files


def files_for(cert_file: str, key_file: str, data_dir: Path, setting: str) -> TlsFiles:
    """The configured PEM files, or the self-signed pair when neither is set.

    Raises :class:`TlsSetupError` when only one is set or a file is missing.
    """
    if not cert_file and not key_file:
        return self_signed_files(data_dir)
    if not cert_file or not key_file:
        raise TlsSetupError(f"{setting}_cert_file and {setting}_key_file must be set together")
    files = TlsFiles(Path(cert_file), Path(key_file))
    for label, path in (("cert_file", files.cert_file), ("key_file", files.key_file)):
        if not path.is_file():
            raise TlsSetupError(f"{setting}_{label}={str(path)!r}: no such file")
    return files


def server_context(files: TlsFiles, setting: str = "tls") -> ssl.SSLContext:
    """A TLS 1.2+ server context presenting ``files``; clients are not asked for certificates."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(files.cert_file, files.key_file)
    except (ssl.SSLError, OSError) as exc:
        raise TlsSetupError(
            f"{setting}: cannot load certificate {files.cert_file} with key {files.key_file}: {exc}"
        ) from None
    return ctx


def context_for(node: Node, transport: str) -> ssl.SSLContext | None:
    """The server context for ``transport`` ("tcp", "ws", "http"), or None when its TLS is off."""
    cfg = node.config
    if not getattr(cfg, f"{transport}_tls_enabled"):
        return None
    setting = f"{transport}_tls"
    files = files_for(
        getattr(cfg, f"{setting}_cert_file"), getattr(cfg, f"{setting}_key_file"), node.data_dir, setting
    )
    return server_context(files, setting)
