"""A real single-node Kubernetes ("railiance01") for the embedded lab.

Binaries come from the Go module proxy (``lab/build-cluster.sh`` builds them into the cache).
:class:`LabCluster` is the thin face of the modules that do the work: ``topology`` (names,
addresses, versions), ``node_config`` (the configuration, rendered by pure functions),
``pki`` (CA and certificates), ``images`` (docker-archives, the pause image, a skopeo
push), ``hostchanges`` (what the node changes on the host, and its undo), ``node``
(start/stop/readiness of etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a
private containerd, kubelet and kube-proxy, each detached with a pid record) and ``smoke``.

Everything listens on loopback or on the node IP (10.77.0.1); pods live in 10.78.0.0/24 and
services in 10.79.0.0/24. See ``docs/lab-cluster.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_irp_lab import hostchanges, node
from pytest_irp_lab.images import pause_image_archive, push_image_archive
from pytest_irp_lab.node import ClusterError as ClusterError
from pytest_irp_lab.proc import pids_with_arg, rss_kib
from pytest_irp_lab.smoke import smoke
from pytest_irp_lab.topology import (
    COMPONENTS,
    DEFAULT_REGISTRY,
    ClusterSpec,
    default_cache_dir,
    default_lab_dir,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabCluster(ClusterSpec):
    """A single-node Kubernetes built from cached binaries; see the module docstring. Its
    fields are :class:`ClusterSpec`'s (all with defaults) and ``ready_timeout``."""

    ready_timeout: float = 180

    @property
    def spec(self) -> ClusterSpec:
        return self

    # ---- paths and command lines
    @property
    def kubeconfig_path(self) -> Path:
        """Admin kubeconfig with context ``railiance01``."""
        return self.layout.kubeconfig

    @property
    def containerd_socket(self) -> Path:
        return self.layout.containerd_socket

    @property
    def certs_d(self) -> Path:
        return self.layout.certs_d

    @property
    def registries_yaml(self) -> Path:
        return self.layout.registries_yaml

    @property
    def pki(self) -> Path:
        return self.layout.pki

    def missing_binaries(self) -> list[Path]:
        return node.missing_binaries(self.spec)

    # ---- lifecycle
    def build(self) -> None:
        """Build missing binaries into the cache (``lab/build-cluster.sh``; slow when cold)."""
        env = {**os.environ, "IRP_CACHE_DIR": str(self.cache_dir)}
        subprocess.run([str(self.source_dir / "build-cluster.sh")], env=env, check=True)

    def start(self) -> None:
        """Bring the cluster up; a no-op when it is already up and Ready."""
        spec = self.spec
        if node.is_ready(spec):
            log.info("cluster %s already up", self.node_name)
            return
        missing = node.missing_binaries(spec)
        if missing:
            raise ClusterError(f"missing binaries (run `build` first): {[str(p) for p in missing]}")
        hostchanges.prepare_host(spec.layout, self.node_ip)
        node.write_configs(spec)
        node.start_control_plane(spec)
        node.start_node(spec)
        node.wait_ready(spec, self.ready_timeout)
        log.info("cluster %s Ready", self.node_name)

    def stop(self, purge: bool = False) -> None:
        """Stop everything start() started and undo its host changes; ``purge`` also
        deletes the state directory (PKI, etcd data, logs)."""
        spec = self.spec
        node.stop_node(spec)
        node.stop_control_plane(spec)
        hostchanges.cleanup_host(spec.layout)
        if purge and self.state_dir.exists():
            shutil.rmtree(self.state_dir)

    # ---- state
    def is_ready(self) -> bool:
        """All components run and the node reports Ready."""
        return node.is_ready(self.spec)

    def node_ip_local(self) -> bool:
        return node.node_ip_local(self.spec)

    def node_ready(self) -> bool:
        return node.node_ready(self.spec)

    def api_get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        return node.api_get(self.spec, path, timeout)

    def status(self) -> dict[str, Any]:
        spec = self.spec
        components = {c: node.live_pid(spec, c) for c in COMPONENTS}
        local = node.node_ip_local(spec)
        return {
            "components": components,
            "rss_kib": self.rss_kib(),
            "node_ip_local": local,
            "node_ready": local and bool(components["kube-apiserver"]) and node.node_ready(spec),
            "kubeconfig": str(self.kubeconfig_path),
            "context": self.node_name,
            "containerd_socket": str(self.containerd_socket),
        }

    def rss_kib(self) -> int:
        """Resident memory of the cluster's processes, shims and pods included."""
        spec = self.spec
        pids = {p for c in COMPONENTS if (p := node.live_pid(spec, c)) is not None}
        pids |= set(pids_with_arg(str(self.containerd_socket)))
        for root in hostchanges.cgroup_dirs("kubepods")[:1]:
            for procs in root.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids |= {int(p) for p in procs.read_text().split()}
        return sum(rss_kib(p) for p in pids)

    # ---- images
    def import_image(self, archive: Path) -> None:
        """Import a docker-archive into the node's containerd (namespace k8s.io)."""
        node.import_image(self.spec, archive)

    def image_present(self, ref: str) -> bool:
        return node.image_present(self.spec, ref)


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pytest_irp_lab.cluster", description=__doc__)
    p.add_argument("command", choices=["build", "start", "stop", "status", "smoke", "push-pause"])
    p.add_argument("--state-dir", type=Path, default=default_lab_dir() / "cluster")
    p.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    p.add_argument("--registry", default=DEFAULT_REGISTRY)
    p.add_argument("--sandbox-image", default="")
    p.add_argument("--purge", action="store_true", help="stop: also delete the state dir")
    p.add_argument("--keep", action="store_true", help="smoke: keep the test Deployment")
    p.add_argument("--registry-user", default=os.environ.get("IRP_REGISTRY_USER", ""))
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if opts.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    cluster = LabCluster(
        state_dir=opts.state_dir,
        cache_dir=opts.cache_dir,
        registry=opts.registry,
        sandbox_image=opts.sandbox_image,
    )
    if opts.command == "build":
        cluster.build()
    elif opts.command == "start":
        t0 = time.monotonic()
        cluster.start()
        print(f"Ready in {time.monotonic() - t0:.1f} s; kubeconfig {cluster.kubeconfig_path}")
    elif opts.command == "stop":
        cluster.stop(purge=opts.purge)
    elif opts.command == "status":
        status = cluster.status()
        print(json.dumps(status, indent=2))
        return 0 if status["node_ready"] else 1
    elif opts.command == "smoke":
        print(f"smoke ok in {smoke(cluster.spec, keep=opts.keep):.1f} s")
    elif opts.command == "push-pause":
        archive = cluster.layout.images_dir / "pause.tar"
        source = cluster.source_dir / "pause" / "pause.c"
        pause_image_archive(cluster.cache_dir, archive, cluster.sandbox_image, source)
        push_image_archive(
            archive,
            cluster.sandbox_image,
            username=opts.registry_user,
            secret=os.environ.get("IRP_REGISTRY_PASSWORD", ""),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
