"""The node's life: write its configuration, start its components in order (each waited
for), tell whether it is Ready, stop it. Every process goes through
:mod:`pytest_irp_lab.proc` (spawned detached with a pid record under ``run/``, stopped by
that record only), every wait through :func:`pytest_irp_lab.proc.wait_for`.

"Ready" means the Node's Ready condition is True with a heartbeat newer than the running
kubelet's start (a Node object kept in etcd from an earlier run stays Ready for ~40 s).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import shutil
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_irp.fileio import write_atomic
from pytest_irp_lab import net, node_config, proc
from pytest_irp_lab.images import pause_image_archive
from pytest_irp_lab.node_registry import dump_registries_yaml, lab_registries, write_certs_d
from pytest_irp_lab.pki import ensure_pki
from pytest_irp_lab.proc import LabError, write_json_atomic
from pytest_irp_lab.topology import (
    APISERVER_PORT,
    COMPONENTS,
    CONTROL_PLANE,
    ETCD_CLIENT_PORT,
    LAB_BRIDGE,
    ClusterSpec,
)

log = logging.getLogger(__name__)
API_ERRORS = (OSError, ssl.SSLError, http.client.HTTPException)
STOP_TIMEOUT = 20.0  # SIGTERM, then SIGKILL after this
SHIM_STOP_TIMEOUT = 5.0


class ClusterError(LabError):
    """The lab cluster could not be started or stopped."""


# --------------------------------------------------------------------------- pure


def node_ready_since(node: Mapping[str, Any], since: float) -> bool:
    """Ready=True with a heartbeat at or after ``since`` (epoch seconds; 1 s granularity)."""
    for cond in node.get("status", {}).get("conditions", []):
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            beat = dt.datetime.fromisoformat(cond["lastHeartbeatTime"].replace("Z", "+00:00"))
            return beat.timestamp() >= int(since)
    return False


def binary(spec: ClusterSpec, component: str) -> Path:
    return spec.binary(component, shutil.which("containerd"))


def missing_binaries(spec: ClusterSpec) -> list[Path]:
    wanted = [binary(spec, c) for c in COMPONENTS]
    wanted += [spec.kubectl, spec.crictl, spec.etcd_bin / "etcdctl"]
    return [p for p in wanted if not os.access(p, os.X_OK)]


# --------------------------------------------------------------------------- files


def write_configs(spec: ClusterSpec) -> None:
    """PKI (once), kubeconfigs, the node registry's files, every component's config."""
    lay = spec.layout
    ensure_pki(lay.pki, spec.node_name, spec.node_ip)
    ca = (lay.pki / "ca.crt").read_bytes()
    for name, user in node_config.kubeconfig_users(spec.node_name).items():
        cert = node_config.kubeconfig_cert(name)
        doc = node_config.kubeconfig(
            cluster=spec.node_name,
            server=spec.server,
            ca=ca,
            user=user,
            cert=(lay.pki / f"{cert}.crt").read_bytes(),
            key=(lay.pki / f"{cert}.key").read_bytes(),
        )
        write_json_atomic(lay.component_kubeconfig(name), doc, 0o600)
    registries = lab_registries(spec.registry)
    write_atomic(lay.registries_yaml, dump_registries_yaml(registries))
    if lay.certs_d.exists():
        shutil.rmtree(lay.certs_d)
    write_certs_d(registries, lay.certs_d)
    write_atomic(lay.containerd_config, node_config.containerd_config(spec))
    write_json_atomic(lay.crictl_config, node_config.crictl_config(spec))
    write_json_atomic(lay.cni_conflist, node_config.cni_config(spec))
    write_json_atomic(lay.kubelet_config, node_config.kubelet_config(spec))
    write_json_atomic(lay.kube_proxy_config, node_config.kube_proxy_config(spec))
    write_json_atomic(lay.rbac, node_config.rbac())


# --------------------------------------------------------------------------- readiness


def live_pid(spec: ClusterSpec, component: str) -> int | None:
    found = proc.live(spec.layout.pid_file(component))
    return None if found is None else found.pid


def node_ip_local(spec: ClusterSpec) -> bool:
    """The node IP is an address of the lab bridge (else nothing may contact it)."""
    return net.bridge_has_address(spec.node_ip)


def _ssl_context(spec: ClusterSpec) -> ssl.SSLContext:
    pki = spec.layout.pki
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return ctx


def api_get(spec: ClusterSpec, path: str, timeout: float = 5) -> tuple[int, bytes]:
    """``GET`` on the API server as admin; refused unless the node IP is on the bridge."""
    if not node_ip_local(spec):
        raise OSError(f"{spec.node_ip} is not on {LAB_BRIDGE}; refusing to contact it")
    return net.http_get(
        f"https://{spec.node_ip}:{APISERVER_PORT}{path}",
        timeout=timeout,
        context=_ssl_context(spec),
    )


def api_ok(spec: ClusterSpec, path: str) -> bool:
    try:
        return api_get(spec, path)[0] == 200
    except API_ERRORS:
        return False


def kubelet_started(spec: ClusterSpec) -> float:
    """When the running kubelet was started (its pid record's mtime; 0 if none)."""
    try:
        return spec.layout.pid_file("kubelet").stat().st_mtime
    except OSError:
        return 0.0


def node_ready(spec: ClusterSpec) -> bool:
    """The node's Ready condition is True and was reported by the running kubelet."""
    try:
        code, body = api_get(spec, f"/api/v1/nodes/{spec.node_name}")
    except API_ERRORS:
        return False
    return code == 200 and node_ready_since(json.loads(body), kubelet_started(spec))


def is_ready(spec: ClusterSpec) -> bool:
    """All components run and the node reports Ready."""
    if any(live_pid(spec, c) is None for c in COMPONENTS):
        return False
    return node_ip_local(spec) and node_ready(spec)


def wait_ready(spec: ClusterSpec, timeout: float) -> None:
    proc.wait_for(
        f"node {spec.node_name} Ready", lambda: node_ready(spec), timeout=timeout, every=1
    )


def etcd_healthy() -> bool:
    try:
        status, body = net.http_get(f"http://127.0.0.1:{ETCD_CLIENT_PORT}/health", timeout=2)
    except OSError:
        return False
    return status == 200 and b'"true"' in body


def containerd_up(spec: ClusterSpec) -> bool:
    if not spec.layout.containerd_socket.exists():
        return False
    return proc.run(spec.ctr_args("version"), check=False, timeout=10).ok


def image_present(spec: ClusterSpec, ref: str) -> bool:
    return ref in proc.run(spec.ctr_args("images", "ls", "-q"), check=False).stdout.split()


def import_image(spec: ClusterSpec, archive: Path) -> None:
    """Import a docker-archive into the node's containerd (namespace k8s.io)."""
    proc.run(spec.ctr_args("images", "import", str(archive)), timeout=300)


# --------------------------------------------------------------------------- start / stop


def start_component(
    spec: ClusterSpec, component: str, ready: Callable[[], bool], timeout: float
) -> None:
    """Spawn ``component`` unless it runs, then wait until ``ready()``; a component that
    exits meanwhile ends the wait at once (its log is named)."""
    lay = spec.layout
    if live_pid(spec, component) is None:
        started = proc.spawn(
            node_config.component_argv(spec, component, binary(spec, component)),
            lay.log_file(component),
            pid_file=lay.pid_file(component),
            environ=proc.daemon_env(os.environ),
        )
        log.info("started %s (pid %d)", component, started.pid)

    def up() -> bool:
        if live_pid(spec, component) is None:
            raise ClusterError(f"{component} exited; see {lay.log_file(component)}")
        return ready()

    proc.wait_for(component, up, timeout=timeout, every=0.5)


def start_control_plane(spec: ClusterSpec) -> None:
    start_component(spec, "etcd", etcd_healthy, 30)
    start_component(spec, "kube-apiserver", lambda: api_ok(spec, "/readyz"), 90)
    proc.run(spec.kubectl_args("apply", "-f", str(spec.layout.rbac)))
    # the node comes back without the pods of its last session: the kubelet would restart
    # their containers (restartCount 1, though the app did nothing); their controllers
    # make fresh ones once the node is Ready
    proc.run(
        spec.kubectl_args(
            "delete",
            "pods",
            "--all-namespaces",
            "--field-selector",
            f"spec.nodeName={spec.node_name}",
            "--force",
            "--grace-period=0",
            "--wait=false",
        )
    )
    start_component(spec, "kube-controller-manager", lambda: True, 5)
    start_component(spec, "kube-scheduler", lambda: True, 5)


def start_node(spec: ClusterSpec) -> None:
    start_component(spec, "containerd", lambda: containerd_up(spec), 30)
    if not image_present(spec, spec.pause_image):
        archive = spec.layout.images_dir / "pause.tar"
        source = spec.source_dir / "pause" / "pause.c"
        pause_image_archive(spec.cache_dir, archive, spec.pause_image, source)
        import_image(spec, archive)
    start_component(spec, "kubelet", lambda: True, 5)
    start_component(spec, "kube-proxy", lambda: True, 5)


def stop_component(spec: ClusterSpec, component: str) -> None:
    stopped = proc.stop_recorded(spec.layout.pid_file(component), STOP_TIMEOUT)
    if stopped is not None:
        log.info("stopped %s (pid %d)", component, stopped.pid)


def stop_node(spec: ClusterSpec) -> None:
    stop_component(spec, "kube-proxy")
    stop_component(spec, "kubelet")
    if live_pid(spec, "containerd") is not None:
        # Remove the pods while containerd runs, so CNI DEL releases IPs and rules.
        proc.run(spec.crictl_args("rmp", "--all", "--force"), check=False, timeout=120)
    stop_component(spec, "containerd")
    for pid in proc.pids_with_arg(str(spec.layout.containerd_socket)):  # leftover shims
        shim = proc.proc_of(pid)
        if shim is not None:
            proc.terminate(shim, SHIM_STOP_TIMEOUT)


def stop_control_plane(spec: ClusterSpec) -> None:
    for component in reversed(CONTROL_PLANE):
        stop_component(spec, component)
