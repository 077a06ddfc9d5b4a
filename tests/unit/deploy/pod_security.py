"""The Pod Security Standards' "restricted" profile, as the admission controller checks it.

kubernetes-validate checks the schema only; whether a namespace labelled
``pod-security.kubernetes.io/enforce: restricted`` admits a pod is the admission
controller's logic, written down in the Pod Security Standards (baseline plus
restricted, policy version "latest"). This module implements those checks for a
pod template so the manifests and the Helm chart are tested against them offline.
:func:`violations` returns one line per failed check (empty = admitted).
"""

from __future__ import annotations

from typing import Any

__all__ = ["pod_template", "violations"]

_ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                    "projected", "secret"}
_BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                  "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
_SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                 "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                 "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                 "net.ipv4.tcp_keepalive_probes"}


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a workload (StatefulSet, Deployment, ...) or of a Pod."""
    return obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]


def violations(pod: dict[str, Any]) -> list[str]:
    out: list[str] = []
    psc = pod.get("securityContext", {})
    containers = [*pod.get("initContainers", []), *pod.get("containers", []), *pod.get("ephemeralContainers", [])]
    # --- baseline ---
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            out.append(f"{field} must not be true")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if "hostPath" in kinds:
            out.append(f"volume {volume['name']}: hostPath is not allowed")
        if not kinds <= _ALLOWED_VOLUMES:
            out.append(f"volume {volume['name']}: type {sorted(kinds - _ALLOWED_VOLUMES)} is not allowed")
    for sysctl in psc.get("sysctls", []):
        if sysctl["name"] not in _SAFE_SYSCTLS:
            out.append(f"sysctl {sysctl['name']} is not allowed")
    if psc.get("seLinuxOptions", {}).get("type") not in (None, "", "container_t", "container_init_t", "container_kvm_t"):
        out.append("pod seLinuxOptions.type is not allowed")
    pod_seccomp = psc.get("seccompProfile", {}).get("type")
    for c in containers:
        name = c["name"]
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                out.append(f"{name}: hostPort {port['hostPort']}")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{name}: procMount must be Default")
        if sc.get("windowsOptions", {}).get("hostProcess"):
            out.append(f"{name}: hostProcess")
        # --- restricted ---
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation must be false")
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            out.append(f"{name}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            out.append(f"{name}: runAsUser must not be 0")
        seccomp = sc.get("seccompProfile", {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccompProfile.type must be RuntimeDefault or Localhost (pod or container)")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            out.append(f"{name}: capabilities must drop ALL")
        added = set(caps.get("add", []))
        if added - {"NET_BIND_SERVICE"}:
            out.append(f"{name}: capabilities may add only NET_BIND_SERVICE, not {sorted(added)}")
        if added - _BASELINE_CAPS:
            out.append(f"{name}: capabilities beyond the baseline set")
    return out
