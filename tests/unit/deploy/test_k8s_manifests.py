"""deploy/k8s/: schema-valid, consistent with itself, and consistent with what the node accepts."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.unit.deploy.k8s_render import K8S_DIR, find, render
from whippet.node.config import NodeConfig, load_config

# kubectl 1.27 is the first with kustomize 5 (replacements keep the target's type).
K8S_VERSIONS = ("1.27.0", "1.33.0")
_ALIASES = {"WHIPPET_ROOT_USERNAME", "WHIPPET_ROOT_PASSWORD"}

_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
_LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array"},
    },
    "additionalProperties": False,
}
#: The part of monitoring.coreos.com/v1 ServiceMonitor (prometheus-operator CRD) these manifests use.
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": _LABEL_SELECTOR,
                "namespaceSelector": {"type": "object"},
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                            "honorLabels": {"type": "boolean"},
                            "relabelings": {"type": "array"},
                            "metricRelabelings": {"type": "array"},
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "StatefulSet", "whippet")["spec"]["template"]


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = _pod(objects)["spec"]["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in container["env"]}


def _node_toml(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return tomllib.loads(find(objects, "ConfigMap", "whippet-config")["data"]["node.toml"])


def test_renders_every_object_and_drops_the_local_config(objects: list[dict[str, Any]]) -> None:
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    assert kinds == [
        "ConfigMap/whippet-config",
        "NetworkPolicy/whippet",
        "PodDisruptionBudget/whippet",
        "Service/whippet",
        "Service/whippet-client",
        "ServiceMonitor/whippet",
        "StatefulSet/whippet",
    ]
    assert _container(objects)["image"] == "whippet:0.1.0"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_objects_validate_against_the_kubernetes_schemas(objects: list[dict[str, Any]], version: str) -> None:
    for obj in objects:
        if obj["kind"] == "ServiceMonitor":
            jsonschema.validate(obj, SERVICE_MONITOR_SCHEMA)
        else:
            kubernetes_validate.validate(obj, version, strict=True)


def test_schema_validation_catches_a_bad_field(objects: list[dict[str, Any]]) -> None:
    """The validators are not vacuous: a typo in a pod spec and a bad interval are refused."""
    sts = render(edits={"StatefulSet/whippet": {"spec.template.spec.terminationGracePeriodSecs": 5}})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(find(sts, "StatefulSet", "whippet"), K8S_VERSIONS[0], strict=True)
    bad = render(edits={"ServiceMonitor/whippet": {"spec.endpoints.[port=http].interval": "15 seconds"}})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(find(bad, "ServiceMonitor", "whippet"), SERVICE_MONITOR_SCHEMA)


@pytest.mark.parametrize(("replicas", "factor"), [("3", "3"), ("5", "3"), ("1", "1")])
def test_cluster_size_and_replication_factor_come_from_one_place(replicas: str, factor: str) -> None:
    objects = render(edits={"ConfigMap/whippet-cluster-size": {"data.replicas": replicas,
                                                               "data.replicationFactor": factor}})
    sts = find(objects, "StatefulSet", "whippet")
    env = _env(_container(objects))
    assert sts["spec"]["replicas"] == int(replicas)  # an int, not a string
    assert env["CLUSTER_SIZE"]["value"] == replicas
    assert env["WHIPPET_TOPIC_REPLICATION_FACTOR"]["value"] == factor
    for version in K8S_VERSIONS[:1]:
        kubernetes_validate.validate(sts, version, strict=True)


def test_shipped_size_is_a_quorum_the_budget_keeps(objects: list[dict[str, Any]]) -> None:
    replicas = find(objects, "StatefulSet", "whippet")["spec"]["replicas"]
    factor = int(_env(_container(objects))["WHIPPET_TOPIC_REPLICATION_FACTOR"]["value"])
    assert replicas % 2 == 1 and 1 <= factor <= replicas
    pdb = find(objects, "PodDisruptionBudget", "whippet")["spec"]
    assert replicas - pdb["maxUnavailable"] >= replicas // 2 + 1  # a Raft majority stays up
    assert factor - pdb["maxUnavailable"] >= factor // 2 + 1  # and a quorum of every partition


def test_selectors_match_the_pods(objects: list[dict[str, Any]]) -> None:
    labels = _pod(objects)["metadata"]["labels"]
    sts = find(objects, "StatefulSet", "whippet")["spec"]

    def selects(selector: dict[str, str], target: dict[str, str]) -> bool:
        return all(target.get(k) == v for k, v in selector.items())

    assert selects(sts["selector"]["matchLabels"], labels)
    assert selects(find(objects, "PodDisruptionBudget", "whippet")["spec"]["selector"]["matchLabels"], labels)
    for name in ("whippet", "whippet-client"):
        assert selects(find(objects, "Service", name)["spec"]["selector"], labels)
    (term,) = _pod(objects)["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert selects(term["labelSelector"]["matchLabels"], labels)
    # The ServiceMonitor picks exactly the headless Service, so each pod is scraped once.
    monitor = find(objects, "ServiceMonitor", "whippet")["spec"]
    services = [o for o in objects if o["kind"] == "Service"]
    picked = [s for s in services if selects(monitor["selector"]["matchLabels"], s["metadata"]["labels"])]
    assert [s["metadata"]["name"] for s in picked] == [sts["serviceName"]]


def test_headless_service_gives_stable_names_before_readiness(objects: list[dict[str, Any]]) -> None:
    sts = find(objects, "StatefulSet", "whippet")["spec"]
    headless = find(objects, "Service", sts["serviceName"])["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True  # peers must resolve before they are ready
    assert sts["podManagementPolicy"] == "Parallel"  # all members start together to form a quorum
    assert _env(_container(objects))["PEER_DOMAIN"]["value"].startswith(sts["serviceName"] + ".")


def test_ports_probes_and_services_agree_with_the_node_config(objects: list[dict[str, Any]]) -> None:
    container = _container(objects)
    ports = {p["name"]: p for p in container["ports"]}
    toml = _node_toml(objects)
    env = _env(container)
    assert ports["tcp"]["containerPort"] == toml["tcp"]["port"]
    assert ports["http"]["containerPort"] == toml["http"]["port"]
    assert ports["quic"]["containerPort"] == toml["quic"]["port"] and ports["quic"]["protocol"] == "UDP"
    assert ports["ws"]["containerPort"] == toml["ws"]["port"]
    assert ports["raft"]["containerPort"] == int(env["WHIPPET_CLUSTER_RAFT_PORT"]["value"])
    assert ports["replication"]["containerPort"] == toml["cluster"]["replication_port"]
    for probe, path in (("startupProbe", "/ping"), ("livenessProbe", "/ping"), ("readinessProbe", "/ready")):
        get = container[probe]["httpGet"]
        assert get["port"] == "http" and get["path"] == path
    assert toml["http"].get("enabled", True) and toml["metrics"]["enabled"]
    for name in ("whippet", "whippet-client"):
        for port in find(objects, "Service", name)["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{name} targets unknown port {port['targetPort']}"
            assert port.get("protocol", "TCP") == ports[port["targetPort"]].get("protocol", "TCP")
    headless = find(objects, "Service", "whippet")["spec"]["ports"]
    (endpoint,) = find(objects, "ServiceMonitor", "whippet")["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in headless} and endpoint["path"] == "/metrics"


def test_volumes_and_paths(objects: list[dict[str, Any]]) -> None:
    pod = _pod(objects)["spec"]
    container = _container(objects)
    claims = {c["metadata"]["name"] for c in find(objects, "StatefulSet", "whippet")["spec"]["volumeClaimTemplates"]}
    volumes = {v["name"] for v in pod["volumes"]} | claims
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert set(mounts) <= volumes
    assert mounts["data"] == _node_toml(objects)["node"]["data_dir"]
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert config_volume["configMap"]["name"] == "whippet-config"
    assert f"--config {mounts['config']}/node.toml" in container["args"][0]
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user


def test_env_and_config_file_are_settings_the_node_knows(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    settings = {f"WHIPPET_{name.upper()}" for name in NodeConfig.__dataclass_fields__}
    container = _container(objects)
    script = container["args"][0]
    named = set(_env(container)) | {word.split("=")[0] for word in script.split() if word.startswith("WHIPPET_")}
    for name in sorted(n for n in named if n.startswith("WHIPPET_")):
        assert name in settings | _ALIASES, f"{name} is not a node setting"
    node_toml = tmp_path / "node.toml"
    node_toml.write_text(find(objects, "ConfigMap", "whippet-config")["data"]["node.toml"])
    config = load_config(node_toml, env={"WHIPPET_AUTH_ROOT_PASSWORD": "from-the-secret"})
    assert config.host == "0.0.0.0" and config.auth_root_username
    # Secrets stay out of the ConfigMap: they come from the Secret through the environment.
    toml = _node_toml(objects)
    assert "secret" not in toml.get("cluster", {}) and "root_password" not in toml.get("auth", {})
    example = render(extra=("secret.example.yaml",))
    secret_keys = set(find(example, "Secret", "whippet-secrets")["stringData"])
    refs = {v["valueFrom"]["secretKeyRef"]["key"] for v in container["env"] if "secretKeyRef" in v.get("valueFrom", {})}
    assert refs == secret_keys


def test_every_manifest_file_is_listed() -> None:
    import yaml

    listed = set(yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk - {p.name for p in K8S_DIR.glob("*.example.yaml")} == listed


def test_pods_pass_pod_security_restricted(objects: list[dict[str, Any]]) -> None:
    """What a namespace enforcing Pod Security "restricted" admits (tests/unit/deploy/pod_security.py)."""
    from tests.unit.deploy.pod_security import pod_template, violations

    assert violations(pod_template(find(objects, "StatefulSet", "whippet"))) == []
    assert _pod(objects)["spec"]["automountServiceAccountToken"] is False
    # The checker is not vacuous: without the seccomp profiles, or with a capability, it refuses.
    bare = render(edits={"StatefulSet/whippet": {"spec.template.spec.securityContext": {"runAsNonRoot": True}}})
    container = _container(bare)
    container["securityContext"] = {**container["securityContext"], "seccompProfile": {"type": "Unconfined"},
                                     "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}
    found = violations(pod_template(find(bare, "StatefulSet", "whippet")))
    assert any("seccompProfile" in v for v in found) and any("NET_ADMIN" in v for v in found)


def test_network_policy_opens_client_ports_and_keeps_raft_and_replication_to_members(
    objects: list[dict[str, Any]],
) -> None:
    policy = find(objects, "NetworkPolicy", "whippet")["spec"]
    labels = _pod(objects)["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in policy["podSelector"]["matchLabels"].items())
    assert policy["policyTypes"] == ["Ingress"]  # anything not listed below is denied
    container_ports = {p["name"]: p for p in _container(objects)["ports"]}
    open_to_all, members_only = set(), set()
    for rule in policy["ingress"]:
        names = {p["port"] for p in rule["ports"]}
        for p in rule["ports"]:
            assert p["protocol"] == container_ports[p["port"]].get("protocol", "TCP")
        if "from" not in rule:
            open_to_all |= names
        else:
            (peer,) = rule["from"]
            assert set(peer) == {"podSelector"} and peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "whippet"}
            members_only |= names
    assert open_to_all == {"tcp", "http", "quic", "ws"}
    assert members_only == {"raft", "replication"}
    assert open_to_all | members_only == set(container_ports)  # every port the pod has is decided


def test_members_spread_over_zones_and_machines(objects: list[dict[str, Any]]) -> None:
    spread = {c["topologyKey"]: c for c in _pod(objects)["spec"]["topologySpreadConstraints"]}
    assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["topology.kubernetes.io/zone"]["maxSkew"] == 1
    labels = _pod(objects)["metadata"]["labels"]
    for c in spread.values():
        assert all(labels.get(k) == v for k, v in c["labelSelector"]["matchLabels"].items())


@pytest.mark.parametrize("replicas", [3, 5])
def test_the_disruption_budget_keeps_a_quorum(replicas: int) -> None:
    """A drain may take pods only while a Raft majority and a quorum of every RF-3 partition remain."""
    objects = render(edits={"ConfigMap/whippet-cluster-size": {"data.replicas": str(replicas)}})
    budget = find(objects, "PodDisruptionBudget", "whippet")["spec"]
    down = budget["maxUnavailable"]
    assert replicas - down >= replicas // 2 + 1 and 3 - down >= 3 // 2 + 1


def test_the_secret_is_referenced_never_created_by_the_kustomization(objects: list[dict[str, Any]]) -> None:
    assert [o for o in objects if o["kind"] == "Secret"] == []  # `apply -k` cannot overwrite a real one
    refs = {v["valueFrom"]["secretKeyRef"]["name"] for v in _container(objects)["env"]
            if "secretKeyRef" in v.get("valueFrom", {})}
    assert refs == {"whippet-secrets"}
    assert all(v["valueFrom"]["secretKeyRef"]["optional"] is False for v in _container(objects)["env"]
               if "secretKeyRef" in v.get("valueFrom", {}))
    example = find(render(extra=("secret.example.yaml",)), "Secret", "whippet-secrets")
    assert all(v.startswith("replace-me") for v in example["stringData"].values())  # placeholders the pod refuses


def test_the_shipped_config_turns_deduplication_on(objects: list[dict[str, Any]]) -> None:
    assert _node_toml(objects)["dedup"]["enabled"] is True
