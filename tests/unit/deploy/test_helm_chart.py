"""deploy/helm/whippet/: rendered (tests/unit/deploy/helm_render.py, as `helm template` does),
schema-valid, Pod Security "restricted", and the same cluster as the kustomize manifests."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.unit.deploy.helm_render import CHART_DIR, ChartFailed, Unsupported, render_chart
from tests.unit.deploy.k8s_render import find, render
from tests.unit.deploy.pod_security import pod_template, violations
from tests.unit.deploy.test_k8s_manifests import K8S_VERSIONS, SERVICE_MONITOR_SCHEMA
from whippet.node.config import NodeConfig, load_config


def _sts(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "StatefulSet", "whippet")


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (c,) = _sts(objects)["spec"]["template"]["spec"]["containers"]
    return c


@pytest.mark.parametrize("values", [
    {},
    {"replicas": 5, "storage": {"storageClassName": "fast-ssd"}, "serviceMonitor": {"enabled": True},
     "console": "read-write", "image": {"tag": "1.2.3"}},
    {"replicas": 1, "replicationFactor": 1, "networkPolicy": {"enabled": False}, "maxUnavailable": 0},
])
def test_the_chart_renders_valid_restricted_objects(values: dict[str, Any], tmp_path: Path) -> None:
    objects = render_chart(values)
    kinds = {o["kind"] for o in objects}
    assert {"ConfigMap", "StatefulSet", "Service", "PodDisruptionBudget"} <= kinds
    assert "Secret" not in kinds  # referenced, never created: an upgrade cannot overwrite it
    for obj in objects:
        if obj["kind"] == "ServiceMonitor":
            jsonschema.validate(obj, SERVICE_MONITOR_SCHEMA)
            continue
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
    assert violations(pod_template(_sts(objects))) == []
    assert _sts(objects)["spec"]["replicas"] == values.get("replicas", 3)
    node_toml = tmp_path / "node.toml"
    node_toml.write_text(find(objects, "ConfigMap", "whippet-config")["data"]["node.toml"])
    config = load_config(node_toml, env={"WHIPPET_AUTH_ROOT_PASSWORD": "x"})
    assert config.dedup_enabled and config.http_console == values.get("console", "read-only")
    names = {f"WHIPPET_{n.upper()}" for n in NodeConfig.__dataclass_fields__}
    assert {e["name"] for e in _container(objects)["env"] if e["name"].startswith("WHIPPET_")} <= names


def test_the_chart_and_the_kustomization_describe_the_same_pods() -> None:
    chart, kust = render_chart(), render()
    hc, kc = _container(chart), _container(kust)
    for key in ("ports", "startupProbe", "livenessProbe", "readinessProbe", "securityContext", "volumeMounts",
                "resources", "command"):
        assert hc[key] == kc[key], key
    assert [e["name"] for e in hc["env"]] == [e["name"] for e in kc["env"]]
    script = hc["args"][0].replace("whippet-secrets first", "whippet-secrets first (deploy/k8s/secret.example.yaml)")
    assert script == kc["args"][0]
    hp, kp = _sts(chart)["spec"]["template"]["spec"], _sts(kust)["spec"]["template"]["spec"]
    assert hp["securityContext"] == kp["securityContext"]
    assert [c["topologyKey"] for c in hp["topologySpreadConstraints"]] == \
        [c["topologyKey"] for c in kp["topologySpreadConstraints"]]
    assert tomllib.loads(find(chart, "ConfigMap", "whippet-config")["data"]["node.toml"])["dedup"] == \
        tomllib.loads(find(kust, "ConfigMap", "whippet-config")["data"]["node.toml"])["dedup"]
    hn, kn = find(chart, "NetworkPolicy", "whippet")["spec"], find(kust, "NetworkPolicy", "whippet")["spec"]
    assert [r["ports"] for r in hn["ingress"]] == [r["ports"] for r in kn["ingress"]]


def test_the_chart_refuses_what_would_break_the_cluster() -> None:
    with pytest.raises(ChartFailed, match="existingSecret"):
        render_chart({"existingSecret": ""})
    with pytest.raises(ChartFailed, match="quorum"):
        render_chart({"maxUnavailable": 2})  # with replication factor 3, two down loses a partition's quorum


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(CHART_DIR, chart)
    (chart / "templates" / "extra.yaml").write_text("{{ range .Values.x }}{{ . }}{{ end }}\n")
    with pytest.raises(Unsupported):
        render_chart(chart_dir=chart)
    (chart / "templates" / "extra.yaml").write_text("a: {{ .Values.x | b64enc }}\n")
    with pytest.raises(Unsupported):
        render_chart(chart_dir=chart)
