"""Render deploy/k8s/ as ``kubectl kustomize`` (kustomize >= 5) would, for the features it uses.

Supported: ``resources`` (local files), ``images`` (newName/newTag), ``replacements``
(source kind/name/fieldPath; targets select kind/name, dotted fieldPaths with
``[name=x]`` list selectors; the target keeps its scalar type, as kustomize 5
does) and dropping ``config.kubernetes.io/local-config`` resources. Any other
kustomization key is refused, so a new feature cannot be silently mis-rendered
here. Also: Kubernetes' own ``$(VAR)`` expansion of env values and args.
"""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path
from typing import Any

import yaml

__all__ = ["K8S_DIR", "container_env", "expand", "find", "render"]

K8S_DIR = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
_SUPPORTED = {"apiVersion", "kind", "resources", "images", "replacements"}
_LOCAL = "config.kubernetes.io/local-config"


def render(
    directory: Path = K8S_DIR, edits: dict[str, dict[str, Any]] | None = None, extra: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize directory`` prints. ``edits`` patches loaded
    resources first, by ``"Kind/name"`` -> {dotted path: value} (to test other sizes).
    ``extra`` adds files the kustomization does not list, as if the operator had applied
    them too (``secret.example.yaml``: the Secret the StatefulSet references)."""
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kust) - _SUPPORTED
    assert not unknown, f"k8s_render does not implement kustomization keys {unknown}"
    objects: list[dict[str, Any]] = []
    for entry in [*kust["resources"], *extra]:
        path = directory / entry
        assert path.is_file(), f"kustomization lists {entry}, which does not exist"
        objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for target, changes in (edits or {}).items():
        obj = find(objects, *target.split("/"))
        for dotted, value in changes.items():
            _set(obj, dotted, value)
    for image in kust.get("images", []):
        _retag(objects, image)
    for rep in kust.get("replacements", []):
        _replace(objects, rep)
    return [o for o in objects if o["metadata"].get("annotations", {}).get(_LOCAL) != "true"]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    hits = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"{len(hits)} objects {kind}/{name}"
    return hits[0]


def _retag(objects: list[dict[str, Any]], image: dict[str, str]) -> None:
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            name, _, tag = c["image"].partition(":")
            if name == image["name"]:
                c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"


def _replace(objects: list[dict[str, Any]], rep: dict[str, Any]) -> None:
    src = rep["source"]
    assert set(src) <= {"kind", "name", "fieldPath"}, f"unsupported replacement source {src}"
    value = _get(find(objects, src["kind"], src["name"]), src["fieldPath"])
    for target in rep["targets"]:
        assert set(target) <= {"select", "fieldPaths"}, f"unsupported replacement target {target}"
        sel = target["select"]
        for obj in objects:
            if obj["kind"] == sel.get("kind", obj["kind"]) and obj["metadata"]["name"] == sel.get("name", obj["metadata"]["name"]):
                for path in target["fieldPaths"]:
                    _set(obj, path, value, keep_type=True)


_SELECTOR = re.compile(r"^\[(\w+)=([^\]]+)\]$")


def _walk(obj: Any, dotted: str) -> tuple[Any, str | int]:
    parts = dotted.split(".")
    for part in parts[:-1]:
        obj = _step(obj, part)
    last: str | int = parts[-1]
    if isinstance(obj, list):
        last = next(i for i, item in enumerate(obj) if _matches(item, str(last)))
    return obj, last


def _step(obj: Any, part: str) -> Any:
    if isinstance(obj, list):
        hits = [item for item in obj if _matches(item, part)]
        assert len(hits) == 1, f"selector {part} matches {len(hits)} items"
        return hits[0]
    assert part in obj, f"no field {part}"
    return obj[part]


def _matches(item: Any, part: str) -> bool:
    m = _SELECTOR.match(part)
    assert m, f"a list needs a [key=value] selector, got {part}"
    return isinstance(item, dict) and str(item.get(m.group(1))) == m.group(2)


def _get(obj: Any, dotted: str) -> Any:
    parent, key = _walk(obj, dotted)
    return parent[key]


def _set(obj: Any, dotted: str, value: Any, keep_type: bool = False) -> None:
    parent, key = _walk(obj, dotted)
    if keep_type:
        old = parent[key]
        assert not isinstance(old, (dict, list)), f"{dotted} is not a scalar"
        value = type(old)(value)
    parent[key] = copy.deepcopy(value)


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names are replaced, ``$$`` is a literal ``$``,
    anything else (``$(undefined)``, ``$((i + 1))``, ``${x}``) is left as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1 and text[i + 2 : end] in env:
                    out.append(env[text[i + 2 : end]])
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def container_env(
    objects: list[dict[str, Any]], container: dict[str, Any], pod_name: str, namespace: str,
    pod_ip: str = "10.244.0.7",
) -> dict[str, str]:
    """The environment the kubelet gives ``container`` in pod ``pod_name``: literal values
    expanded in order, fieldRefs, and secret/configMap keys resolved from the rendered objects."""
    env: dict[str, str] = {}
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace, "status.podIP": pod_ip}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = expand(var["value"], env)
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            env[var["name"]] = fields[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = find(objects, "Secret", ref["name"])
            data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
            env[var["name"]] = {**data, **secret.get("stringData", {})}[ref["key"]]
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[var["name"]] = find(objects, "ConfigMap", ref["name"])["data"][ref["key"]]
        else:
            raise AssertionError(f"unsupported env source {source}")
    return env
