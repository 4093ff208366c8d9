"""The node's ingress controller: Traefik, as k3s ships it (built by ``lab/build-traefik.sh``).

k3s runs Traefik with the Kubernetes Ingress and Traefik CRD providers, its ``web`` entry
point answering on the node's port 80 (through k3s's service load balancer). The lab runs
the same binary as a process of the node (like its kubelet), on the node IP's port 80
(``http://10.77.0.1:80``: a lab address), with both providers reading the cluster through
the lab's kubeconfig (``KUBECONFIG``: Traefik's providers build an out-of-cluster client
from it, ``pkg/provider/kubernetes/{ingress,crd}/kubernetes.go``; no token on argv). Before
it starts, the lab applies Traefik's CRDs (from the same module, cached beside the binary)
and the IngressClass ``traefik`` with Traefik's controller name, as k3s's chart does.

Optional: when the binary is not in the cache (``scripts/dev.sh`` builds it), the lab runs
without an ingress controller and says so in its notes and status.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from pytest_irp_lab import net
from pytest_irp_lab.proc import (
    LabError,
    Proc,
    cmdline,
    daemon_env,
    live,
    run,
    terminate,
    write_atomic,
)
from pytest_irp_lab.topology import ClusterSpec

TRAEFIK_VERSION: Final = "v3.6.12"
WEB_PORT: Final = 80
CONTROLLER: Final = "traefik.io/ingress-controller"  # Traefik's IngressClass controller
CLASS_NAME: Final = "traefik"
START_TIMEOUT: Final = 30.0


# ------------------------------------------------------------------------ pure


def traefik_argv(binary: Path, address: str, port: int = WEB_PORT) -> list[str]:
    """Traefik's command line: one entry point ``web`` and both Kubernetes providers; no
    version check or usage report (the lab talks to no one outside)."""
    return [
        str(binary),
        f"--entryPoints.web.address={address}:{port}",
        "--providers.kubernetesIngress=true",
        "--providers.kubernetesCRD=true",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=INFO",
        "--log.noColor=true",
        "--accessLog=true",
    ]


def ingress_class() -> dict[str, Any]:
    """The IngressClass ``traefik`` (the default class, as k3s's Traefik chart makes it)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": CLASS_NAME,
            "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
        },
        "spec": {"controller": CONTROLLER},
    }


# ------------------------------------------------------------------------ thin layer


class LabIngress:
    """Traefik for the lab's node: files under ``<cluster state dir>/traefik``."""

    def __init__(self, spec: ClusterSpec, version: str = TRAEFIK_VERSION) -> None:
        self.spec = spec
        self.version = version
        self.address = spec.node_ip

    @property
    def home(self) -> Path:
        return self.spec.cache_dir / "traefik" / self.version

    @property
    def binary(self) -> Path:
        return self.home / "bin" / "traefik"

    @property
    def crds(self) -> Path:
        return self.home / "crds.yml"

    @property
    def dir(self) -> Path:
        return self.spec.state_dir / "traefik"

    @property
    def pid_file(self) -> Path:
        return self.dir / "traefik.pid"

    @property
    def log(self) -> Path:
        return self.dir / "traefik.log"

    @property
    def url(self) -> str:
        return f"http://{self.address}:{WEB_PORT}"

    def available(self) -> bool:
        return os.access(self.binary, os.X_OK) and self.crds.is_file()

    def running(self) -> Proc | None:
        proc = live(self.pid_file)
        if proc is None or str(self.binary) not in cmdline(proc.pid):
            return None
        return proc

    def _apply(self) -> None:
        manifest = self.dir / "ingressclass.json"
        write_atomic(manifest, json.dumps(ingress_class()) + "\n")
        for path in (self.crds, manifest):
            # server-side: the CRDs are too large for client-side apply's annotation
            argv = self.spec.kubectl_args(
                "apply", "--server-side", "--force-conflicts", "-f", str(path)
            )
            done = run(argv, check=False, timeout=60)
            if not done.ok:
                raise LabError(f"kubectl apply {path.name}: {done.stderr.strip()[-300:]}")

    def start(self) -> Proc:
        proc = self.running()
        if proc is not None and net.port_open(self.address, WEB_PORT):
            return proc
        if proc is not None:
            terminate(proc)
        if not self.available():
            raise LabError(f"Traefik is not built: {self.binary} (run lab/build-traefik.sh)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._apply()  # (the address is the lab bridge's own: binding it needs the bridge)
        return net.spawn_listening(
            "Traefik's web entry point",
            traefik_argv(self.binary, self.address),
            self.log,
            self.address,
            WEB_PORT,
            START_TIMEOUT,
            pid_file=self.pid_file,
            environ=daemon_env(os.environ),
            env={"KUBECONFIG": str(self.spec.layout.kubeconfig)},
        )

    def stop(self) -> None:
        proc = self.running()
        if proc is not None:
            terminate(proc)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> dict[str, Any]:
        proc = self.running()
        return {
            "controller": "traefik",
            "version": self.version,
            "built": self.available(),
            "running": proc is not None,
            "pid": proc.pid if proc else None,
            "web": self.url,
            "providers": ["kubernetesIngress", "kubernetesCRD"],
        }


def bring_up(spec: ClusterSpec, notes: list[str]) -> bool:
    """Start the node's ingress controller if it is built (else a note); True if it runs."""
    ingress = LabIngress(spec)
    if not ingress.available():
        notes.append(
            f"no ingress controller: Traefik is not built ({ingress.binary}; "
            "bash lab/build-traefik.sh)"
        )
        return False
    ingress.start()
    return True
