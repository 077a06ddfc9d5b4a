"""The image definition: what it installs, runs and exposes matches the package and the manifests.

Docker cannot run here, so the build stage is reproduced: the committed files the
.dockerignore lets through are copied to a build context and ``pip wheel`` builds
the package there, as ``RUN pip wheel ... .`` does; the wheel must hold every
module of every package directory.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.unit.deploy.k8s_render import find, render
from whippet.node.config import NodeConfig

ROOT = Path(__file__).resolve().parents[3]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def _final_stage() -> list[tuple[str, str]]:
    ins = _instructions()
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


def _container() -> dict:
    (container,) = find(render(), "StatefulSet", "whippet")["spec"]["template"]["spec"]["containers"]
    return container


def test_base_image_user_and_command() -> None:
    froms = [args.split()[0] for word, args in _instructions() if word == "FROM"]
    assert froms and all(f == "python:3.11-slim" for f in froms)
    final = dict(_final_stage())
    assert final["CMD"] == '["whippet-node"]'
    assert final["USER"] == "10001:10001"
    pod = find(render(), "StatefulSet", "whippet")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsGroup"] == 10001
    build = "".join(args for word, args in _instructions() if word == "RUN")
    assert "--require-hashes" in build and "requirements/node.txt" in build, "the image installs from the lock"
    assert any(word == "COPY" and "/opt/whippet" in args for word, args in _final_stage())


def test_env_ports_and_data_dir_match_the_pod() -> None:
    final = _final_stage()
    env: dict[str, str] = {}
    for word, args in final:
        if word == "ENV":
            env.update(pair.split("=", 1) for pair in args.split())
    settings = {f"WHIPPET_{f.upper()}" for f in NodeConfig.__dataclass_fields__}
    assert {k for k in env if k.startswith("WHIPPET_")} <= settings
    mounts = {m["name"]: m["mountPath"] for m in _container()["volumeMounts"]}
    assert env["WHIPPET_DATA_DIR"] == mounts["data"] == dict(final)["WORKDIR"]
    exposed = {p for word, args in final if word == "EXPOSE" for p in args.split()}
    cluster_ports = {"raft", "replication"}
    wanted = {f"{p['containerPort']}{'/udp' if p.get('protocol') == 'UDP' else ''}" for p in _container()["ports"]
              if p["name"] not in cluster_ports}
    assert exposed == wanted  # the client ports; the cluster ports are not published by default
    # ...and bind loopback unless asked (the StatefulSet sets the pod IP).
    assert env["WHIPPET_CLUSTER_HOST"] == "127.0.0.1" and env["WHIPPET_HOST"] == "0.0.0.0"
    pod_env = {e["name"]: e for e in _container()["env"]}
    assert pod_env["WHIPPET_CLUSTER_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    healthcheck = dict(final)["HEALTHCHECK"]
    assert f"127.0.0.1:{NodeConfig().http_port}/ping" in healthcheck


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
            return True
    return False


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    context = tmp_path_factory.mktemp("context")
    for name in tracked:
        if _ignored(name, patterns):
            continue
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():  # whippet/<pkg> -> ../<pkg>: docker COPY keeps links
            (context / name).symlink_to(os.readlink(ROOT / name))
        elif (ROOT / name).is_file():
            shutil.copy2(ROOT / name, context / name)
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."],
        cwd=context, check=True, capture_output=True, timeout=120,
    )
    (built,) = out.glob("whippet-*.whl")
    return zipfile.ZipFile(built)


def test_the_image_build_installs_every_module(wheel: zipfile.ZipFile) -> None:
    package_dirs = {"whippet": "whippet"} | {
        f"whippet.{link.name}": link.name for link in (ROOT / "whippet").iterdir() if link.is_symlink()
    }
    in_wheel = set(wheel.namelist())
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    missing = []
    for package, directory in package_dirs.items():
        for name in tracked:
            inner = name.removeprefix(directory + "/")
            if inner == name or (package == "whippet" and "/" in inner):
                continue  # not in this package's dir (the top package holds only its own files)
            if f"{package.replace('.', '/')}/{inner}" not in in_wheel:
                missing.append(name)
    assert not missing, f"modules the image would lack (add their packages to pyproject.toml): {missing}"
    entry_points = next(n for n in in_wheel if n.endswith("entry_points.txt"))
    assert "whippet-node = whippet.node.__main__:main" in wheel.read(entry_points).decode()
