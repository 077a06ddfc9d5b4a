"""docs/CONFIG.md documents every setting truthfully, and bad values stop the node with a clear message."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from whippet.node.__main__ import _parser
from whippet.node.config import ConfigError, NodeConfig, load_config

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "CONFIG.md"
FIELDS = {f.name for f in fields(NodeConfig)}
_ROW = re.compile(r"^\| `(\w+)` \| `\[(\w+)\] (\w+)` \| `(WHIPPET_\w+)`[^|]*\| `([^`]*)`[^|]*\| (.+) \|$")


def _rows() -> dict[str, tuple[str, str, str, str, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        m = _ROW.match(line)
        if m:
            name, section, key, env, default, meaning = m.groups()
            assert name not in rows, f"{name} documented twice"
            rows[name] = (section, key, env, default, meaning)
    return rows


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return json.dumps(value)


def test_every_setting_is_documented_and_nothing_else() -> None:
    rows = _rows()
    assert set(rows) == FIELDS, f"missing: {FIELDS - set(rows)}, unknown: {set(rows) - FIELDS}"
    for name, (_, _, _, _, meaning) in rows.items():
        assert len(meaning) > 15, f"{name}: say what it means"


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_documented_default_env_and_toml_key_are_the_real_ones(name: str, tmp_path: Path) -> None:
    section, key, env, default, _ = _rows()[name]
    real = getattr(NodeConfig(), name)
    assert default == _toml_literal(real), f"{name}: documented default {default}, real {real!r}"
    assert env == "WHIPPET_" + name.upper()
    # The documented [section] key must reach this very setting.
    probe = _probe_value(name)
    tables: dict[str, list[str]] = {section: [f"{key} = {_toml_literal(probe)}"]}
    envs = {env: _env_text(probe)}
    for other, other_value in _partners(name).items():  # settings that must be set together
        p_section, p_key, p_env, _, _ = _rows()[other]
        tables.setdefault(p_section, []).append(f"{p_key} = {_toml_literal(other_value)}")
        envs[p_env] = _env_text(other_value)
    toml = "".join(f"[{table}]\n" + "".join(line + "\n" for line in lines) for table, lines in tables.items())
    config_file = tmp_path / "node.toml"
    config_file.write_text(toml)
    assert getattr(load_config(config_file, env={}), name) == probe
    assert getattr(load_config(None, env=envs), name) == probe


def _partners(name: str) -> dict[str, Any]:
    """The settings ``name`` needs alongside it when it is set, with valid values for them."""
    if name == "encryption_enabled":
        return {"encryption_key": base64.b64encode(bytes(32)).decode()}
    if name == "cluster_nodes":  # a member needs the secret, and TLS or the explicit opt-out
        return {"cluster_secret": "s", "cluster_insecure": True}
    groups = [("auth_root_username", "auth_root_password"),
              ("cluster_tls_ca_file", "cluster_tls_cert_file", "cluster_tls_key_file")]
    groups += [(f"{t}_tls_cert_file", f"{t}_tls_key_file") for t in ("tcp", "http", "ws", "quic")]
    for group in groups:
        if name in group:
            return {other: "x" for other in group if other != name}
    return {}


def _probe_value(name: str) -> Any:
    """A valid non-default value for ``name`` that passes validate() on its own."""
    special: dict[str, Any] = {
        "storage_fsync": "interval", "cluster_ack": "leader", "log_level": "DEBUG", "node_id": 2,
        "cluster_nodes": ("1@a:1",), "storage_segment_size": 8192, "http_console": "read-write",
    }
    if name in special:
        return special[name]
    default = getattr(NodeConfig(), name)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 7
    return default + "x"


def _env_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_documented_flags_exist() -> None:
    text = DOC.read_text()
    flags = {opt for action in _parser()._actions for opt in action.option_strings} - {"-h", "--help"}
    documented = set(re.findall(r"`(--[a-z-]+)", text.split("## Flags", 1)[1]))
    assert documented == flags


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        ({"tcp_port": 70000}, "tcp_port=70000"),
        ({"cluster_replication_port": -1}, "cluster_replication_port"),
        ({"node_id": 0}, "node_id=0"),
        ({"storage_fsync": "sometimes"}, "storage_fsync"),
        ({"storage_segment_size": 100}, "storage_segment_size"),
        ({"storage_fsync_interval_ms": 0}, "storage_fsync_interval_ms"),
        ({"dedup_ttl_ms": 0}, "dedup_ttl_ms"),
        ({"retention_interval_ms": -5}, "retention_interval_ms"),
        ({"http_max_request_size": 0}, "http_max_request_size"),
        ({"topic_max_size": -1}, "topic_max_size"),
        ({"topic_replication_factor": 0}, "topic_replication_factor"),
        ({"tcp_tls_cert_file": "cert.pem"}, "tcp_tls_key_file"),
        ({"quic_tls_key_file": "key.pem"}, "quic_tls_cert_file"),
        ({"auth_root_username": "admin"}, "auth_root_password"),
        ({"log_level": "LOUD"}, "log_level"),
        ({"encryption_enabled": True}, "encryption_key"),
        ({"encryption_enabled": True, "encryption_key": "c2hvcnQ="}, "32 bytes"),
        ({"cluster_ack": "some"}, "cluster_ack"),
        ({"cluster_nodes": ("whippet-0:18090",)}, "id@host:raft_port"),
        ({"cluster_nodes": ("2@a:1", "3@b:1")}, "node_id=1"),
        ({"cluster_nodes": ("1@a:1", "2@b:1")}, "cluster_secret is empty"),
        ({"cluster_nodes": ("1@a:1", "2@b:1"), "cluster_secret": ""}, "cluster_secret"),
        ({"cluster_nodes": ("1@a:1", "2@b:1"), "cluster_secret": "s"}, "cluster_insecure = true"),
        ({"cluster_tls_ca_file": "ca.pem"}, "cluster_tls_key_file"),
        ({"cluster_name": "my cluster"}, "cluster_name='my cluster'"),
        ({"tcp_max_frame_size": 8}, "tcp_max_frame_size"),
        ({"limits_idle_timeout_s": -1}, "limits_idle_timeout_s"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(overrides: dict[str, Any], mentions: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(mentions)):
        load_config(None, overrides, env={})


def test_a_bad_value_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"env WHIPPET_TCP_PORT: tcp_port='80a'"):
        load_config(None, env={"WHIPPET_TCP_PORT": "80a"})
    bad = tmp_path / "node.toml"
    bad.write_text("[storage]\nfsync_every = 3\n")
    with pytest.raises(ConfigError, match=r"unknown setting \[storage\] fsync_every"):
        load_config(bad, env={})


def test_a_member_without_a_secret_exits_2_naming_the_setting(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "whippet.node", "--data-dir", str(tmp_path)], check=False, capture_output=True,
        text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "WHIPPET_CLUSTER_NODES": "1@127.0.0.1:1,2@127.0.0.1:3"},
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("whippet-node: cluster_secret is empty") and "WHIPPET_CLUSTER_SECRET" in line
    assert not any(tmp_path.iterdir())  # stopped before it touched the data dir


def test_the_node_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "whippet.node", "--data-dir", str(tmp_path), "--log-level", "LOUD"],
        check=False, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "whippet-node: log_level='LOUD': must be DEBUG, INFO, WARNING, ERROR or CRITICAL"
    ]
