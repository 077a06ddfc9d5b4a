"""Node settings: one flat dataclass, filled from defaults, a TOML file, WHIPPET_* env, then flags.

Why flat: every setting has exactly one name that is the same in all three
sources. The TOML file groups them in sections: key ``port`` of section ``[tcp]``
is the setting ``tcp_port`` and the env variable ``WHIPPET_TCP_PORT``; keys of the
``[node]`` section drop the prefix (``[node] data_dir`` -> ``data_dir``). A bad
value is rejected at start with a message naming the setting and the source.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from whippet.wire.ack import ACK_LEVELS

__all__ = ["NodeConfig", "ConfigError", "load_config", "parse_size", "parse_duration_us"]

FSYNC_MODES = ("always", "interval", "never")
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
CONSOLE_MODES = ("off", "read-only", "read-write")


class ConfigError(ValueError):
    """A setting has a value the node cannot run with."""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    # [node]
    node_id: int = 1
    data_dir: str = "data"
    host: str = "127.0.0.1"
    advertised_host: str = ""
    # transports ([tcp] port, [http] enabled, ...); port 0 picks a free port
    tcp_port: int = 8090
    http_port: int = 3000
    quic_port: int = 8080
    ws_port: int = 8092
    http_enabled: bool = True
    quic_enabled: bool = True
    ws_enabled: bool = True
    # [tcp_tls] / [http_tls] / [ws_tls] / [quic_tls]: TLS from PEM files; QUIC is always TLS and
    # generates a self-signed localhost certificate when no files are given
    tcp_tls_enabled: bool = False
    tcp_tls_cert_file: str = ""
    tcp_tls_key_file: str = ""
    http_tls_enabled: bool = False
    http_tls_cert_file: str = ""
    http_tls_key_file: str = ""
    ws_tls_enabled: bool = False
    ws_tls_cert_file: str = ""
    ws_tls_key_file: str = ""
    quic_tls_cert_file: str = ""
    quic_tls_key_file: str = ""
    # largest binary-protocol frame (request length field) each transport accepts
    tcp_max_frame_size: int = 64 * 1024 * 1024
    ws_max_frame_size: int = 64 * 1024 * 1024
    quic_max_frame_size: int = 64 * 1024 * 1024
    # [http] JWT and limits
    http_jwt_secret: str = ""
    http_jwt_expiry_s: int = 3600
    http_max_request_size: int = 2 * 1024 * 1024
    # [http] console: the web console at /console/ ("off", "read-only" or "read-write")
    http_console: str = "read-only"
    # [encryption]: AES-256-GCM of message payloads and user headers at rest
    encryption_enabled: bool = False
    encryption_key: str = ""
    # [storage]
    storage_fsync: str = "always"
    storage_fsync_interval_ms: int = 1000
    storage_segment_size: int = 1 << 30
    storage_checksum: bool = True
    # [dedup]
    dedup_enabled: bool = True
    dedup_max_entries: int = 10_000
    dedup_ttl_ms: int = 60_000
    # [retention]
    retention_cleaner_enabled: bool = False
    retention_interval_ms: int = 60_000
    # [topic] defaults used when a create request sends 0
    topic_message_expiry_us: int = 0
    topic_max_size: int = 0
    topic_replication_factor: int = 1
    # [auth]
    auth_root_username: str = ""
    auth_root_password: str = ""
    auth_default_root_credentials: bool = False
    auth_max_tokens_per_user: int = 100
    # [heartbeat]
    heartbeat_enabled: bool = False
    heartbeat_interval_ms: int = 5000
    # [limits]: bounds against abusive or broken clients (node/transports/limits.py); 0 = off
    limits_max_connections: int = 10_000
    limits_idle_timeout_s: int = 600
    limits_request_timeout_s: int = 10
    limits_request_min_rate: int = 1024
    # [cluster]: ``nodes`` lists every member as "id@host:raft_port" (this node included);
    # empty = a one-node cluster. The replication gRPC port defaults to raft_port + 1.
    # ``name`` is also the cluster's identity: stamped in the data dir, bound into certificates.
    cluster_name: str = "whippet"
    cluster_nodes: tuple[str, ...] = field(default_factory=tuple)
    cluster_host: str = ""
    cluster_raft_port: int = 0
    cluster_replication_port: int = 0
    cluster_secret: str = ""
    cluster_ack: str = "quorum"
    cluster_leader_wait_ms: int = 5000
    # [cluster_tls]: mutual TLS between members (a cluster CA, one certificate per node)
    cluster_tls_ca_file: str = ""
    cluster_tls_cert_file: str = ""
    cluster_tls_key_file: str = ""
    cluster_insecure: bool = False
    # [metrics]: Prometheus text on the HTTP port at /metrics
    metrics_enabled: bool = True
    # [log]
    log_level: str = "INFO"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def cluster_bind_host(self) -> str:
        """The address the Raft and replication listeners bind: ``cluster_host``, else ``host``."""
        return self.cluster_host or self.host

    @property
    def cluster_tls(self) -> bool:
        """Members talk gRPC over mutual TLS (certificate files set)."""
        return bool(self.cluster_tls_ca_file)

    def cluster_members(self) -> dict[int, str]:
        """``cluster_nodes`` as {node id: "host:raft_port"} (empty for a one-node cluster)."""
        members: dict[int, str] = {}
        for entry in self.cluster_nodes:
            ident, sep, address = entry.partition("@")
            host, colon, port = address.rpartition(":")
            if not sep or not colon or not ident.isdigit() or not port.isdigit() or not host:
                raise ConfigError(f"cluster_nodes entry {entry!r}: expected id@host:raft_port")
            if int(ident) in members:
                raise ConfigError(f"cluster_nodes: node id {ident} is listed twice")
            members[int(ident)] = f"{host}:{port}"
        return members

    def replication_address(self, raft_address: str) -> str:
        """Where a member's replication gRPC listens: ``cluster_replication_port`` on its host
        when set (uniform, as in a StatefulSet), else its raft port + 1."""
        host, _, port = raft_address.rpartition(":")
        return f"{host}:{self.cluster_replication_port or int(port) + 1}"

    def validate(self) -> NodeConfig:
        """Raise :class:`ConfigError` for values the node cannot run with."""
        ports = ("tcp_port", "http_port", "quic_port", "ws_port", "cluster_raft_port", "cluster_replication_port")
        for name in ports:
            v = getattr(self, name)
            if not 0 <= v <= 65535:
                raise ConfigError(f"{name}={v}: a port must be in 0..65535")
        if self.node_id < 1:
            raise ConfigError(f"node_id={self.node_id}: node ids start at 1")
        for name in ("storage_fsync_interval_ms", "dedup_max_entries", "dedup_ttl_ms", "retention_interval_ms",
                     "cluster_leader_wait_ms",
                     "heartbeat_interval_ms", "http_jwt_expiry_s", "http_max_request_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}={getattr(self, name)}: must be > 0")
        for name in ("tcp_max_frame_size", "ws_max_frame_size", "quic_max_frame_size"):
            if getattr(self, name) < 16:
                raise ConfigError(f"{name}={getattr(self, name)}: must be >= 16 bytes")
        for name in ("limits_max_connections", "limits_idle_timeout_s", "limits_request_timeout_s",
                     "limits_request_min_rate"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)}: must be >= 0 (0 = no limit)")
        for name in ("topic_message_expiry_us", "topic_max_size", "auth_max_tokens_per_user"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)}: must be >= 0 (0 = unlimited)")
        for t in ("tcp", "http", "ws", "quic"):
            cert, key = getattr(self, f"{t}_tls_cert_file"), getattr(self, f"{t}_tls_key_file")
            if bool(cert) != bool(key):
                raise ConfigError(f"{t}_tls_cert_file and {t}_tls_key_file must be set together (or neither, "
                                  "for a self-signed certificate)")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"log_level={self.log_level!r}: must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        if self.storage_fsync not in FSYNC_MODES:
            raise ConfigError(f"storage_fsync={self.storage_fsync!r}: must be one of {', '.join(FSYNC_MODES)}")
        if self.storage_segment_size < 4096 or self.storage_segment_size > (1 << 30):
            raise ConfigError(f"storage_segment_size={self.storage_segment_size}: must be 4 KiB..1 GiB")
        if bool(self.auth_root_username) != bool(self.auth_root_password):
            raise ConfigError("auth_root_username and auth_root_password must be set together")
        if self.topic_replication_factor < 1:
            raise ConfigError("topic_replication_factor must be >= 1")
        if not _CLUSTER_NAME.fullmatch(self.cluster_name):
            raise ConfigError(f"cluster_name={self.cluster_name!r}: must be 1-63 letters, digits or '-' "
                              "(it is bound into the cluster's certificates)")
        tls_files = ("cluster_tls_ca_file", "cluster_tls_cert_file", "cluster_tls_key_file")
        if len({bool(getattr(self, name)) for name in tls_files}) != 1:
            raise ConfigError(f"{', '.join(tls_files)} must be set together (or none of them)")
        members = self.cluster_members()
        if members and self.node_id not in members:
            raise ConfigError(f"node_id={self.node_id} is not one of cluster_nodes ({sorted(members)})")
        if members and not self.cluster_secret:
            raise ConfigError("cluster_secret is empty: a node with cluster_nodes needs the cluster's shared "
                              "secret ([cluster] secret or WHIPPET_CLUSTER_SECRET)")
        if members and not self.cluster_tls and not self.cluster_insecure:
            raise ConfigError("cluster_tls_ca_file, cluster_tls_cert_file and cluster_tls_key_file are needed "
                              "between cluster members (`make certs` makes them), or set cluster_insecure = true "
                              "for plain gRPC")
        if self.http_console not in CONSOLE_MODES:
            raise ConfigError(f"http_console={self.http_console!r}: must be one of {', '.join(CONSOLE_MODES)}")
        if self.cluster_ack not in ACK_LEVELS:
            raise ConfigError(f"cluster_ack={self.cluster_ack!r}: must be one of {', '.join(ACK_LEVELS)}")
        from whippet.node import encryption

        encryption.check_config(self)
        return self


_FIELDS = {f.name: f for f in fields(NodeConfig)}
_SECTIONLESS = {"node"}


def _convert(name: str, raw: Any, source: str) -> Any:
    """Coerce ``raw`` to the type of setting ``name``; sizes and durations accept units."""
    default = getattr(NodeConfig(), name)
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            if name.endswith("_size") or name == "topic_max_size":
                return parse_size(raw)
            return int(raw)
        if isinstance(default, tuple):
            if isinstance(raw, str):
                return tuple(x.strip() for x in raw.split(",") if x.strip())
            return tuple(str(x) for x in raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name}={raw!r} is not a valid {type(default).__name__}") from None


_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


def parse_size(raw: Any) -> int:
    """Parse ``1048576``, ``"1 MiB"``, ``"512KB"`` into bytes."""
    if isinstance(raw, int):
        return raw
    text = str(raw).strip().lower().replace(" ", "")
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)]:
            return int(float(text[: -len(unit)]) * _UNITS[unit])
    return int(text)


def parse_duration_us(raw: Any) -> int:
    """Parse ``"1 m"``, ``"30s"``, ``"500ms"`` or a number of µs into µs."""
    if isinstance(raw, int):
        return raw
    text = str(raw).strip().lower().replace(" ", "")
    for unit, mult in (("ms", 1000), ("us", 1), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000)):
        if text.endswith(unit) and text[: -len(unit)]:
            return int(float(text[: -len(unit)]) * mult)
    return int(text)


def _from_toml(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, body in data.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: top-level key {section!r} must be a [section]")
        for key, raw in body.items():
            name = f"{section}_{key}"
            if section in _SECTIONLESS and name not in _FIELDS:
                name = key  # [node] data_dir -> data_dir, but [node] id -> node_id
            if name not in _FIELDS:
                raise ConfigError(f"{source}: unknown setting [{section}] {key}")
            out[name] = _convert(name, raw, source)
    return out


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELDS:
        key = "WHIPPET_" + name.upper()
        if key in env:
            out[name] = _convert(name, env[key], f"env {key}")
    # Iggy's spelling of the root credentials is accepted as well.
    for ours, theirs in (("auth_root_username", "ROOT_USERNAME"), ("auth_root_password", "ROOT_PASSWORD")):
        if "WHIPPET_" + theirs in env:
            out[ours] = env["WHIPPET_" + theirs]
    return out


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> NodeConfig:
    """Build the config: defaults < TOML file < WHIPPET_* env < explicit overrides (flags)."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: {exc}") from None
        values.update(_from_toml(data, str(p)))
    values.update(_from_env(os.environ if env is None else env))
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _convert(name, raw, f"flag --{name.replace('_', '-')}")
    return replace(NodeConfig(), **values).validate()
