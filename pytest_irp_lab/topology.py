"""The lab node's topology: versions, names, addresses, ports and the components, as
constants; :class:`ClusterSpec`, everything the node's configuration depends on (pure).

Everything listens on loopback or on the node IP (the lab bridge's address, 10.77.0.1);
pods live in 10.78.0.0/24 and services in 10.79.0.0/24. See ``docs/lab-cluster.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pytest_irp_lab import net
from pytest_irp_lab.layout import ClusterLayout, lab_dir_from_env
from pytest_irp_lab.sources import lab_sources

K8S_VERSION: Final = "1.34.4"
ETCD_VERSION: Final = "3.6.16"
CRICTL_VERSION: Final = "1.34.0"
NODE_NAME: Final = "railiance01"
NODE_IP: Final = net.BRIDGE_ADDRESS
LAB_CIDR: Final = f"{net.BRIDGE_ADDRESS.rsplit('.', 1)[0]}.0/{net.PREFIX_LEN}"
POD_CIDR: Final = "10.78.0.0/24"
SERVICE_CIDR: Final = "10.79.0.0/24"
APISERVER_SERVICE_IP: Final = "10.79.0.1"
LAB_BRIDGE: Final = net.BRIDGE
CNI_BRIDGE: Final = "irpcni0"
CNI_NETWORK: Final = "irp-pods"
CNI_BIN_DIR: Final = "/usr/lib/cni"
FORWARD_CHAIN: Final = "irp-cluster-fwd"
OUTPUT_CHAIN: Final = "irp-cluster-out"
GUARD_PREFIX: Final = "irp-cluster-"
APISERVER_PORT: Final = 6443
ETCD_CLIENT_PORT: Final = 2379
ETCD_PEER_PORT: Final = 2380
DEFAULT_REGISTRY: Final = "10.77.0.3:3000"
PAUSE_TAG: Final = "irp/pause:1.0"
NOFILE_HARD: Final = 20000  # the VM's hard limit; nothing may ask for more
# sysctls that kubelet (setupKernelTunables) or the lab change; restored by stop().
TOUCHED_SYSCTLS: Final = (
    "net/ipv4/ip_forward",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
# Start order; stop() goes the other way.
COMPONENTS: Final = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "kubelet",
    "kube-proxy",
)
CONTROL_PLANE: Final = COMPONENTS[:4]
# Host directories that containerd/CNI create outside the state dir; stop() removes the
# ones that did not exist before start() once they are empty.
HOST_DIRS: Final = ("/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni")
NETNS_DIR: Final = "/run/netns"


def default_lab_dir() -> Path:
    return lab_dir_from_env()


def default_cache_dir() -> Path:
    return Path(os.environ.get("IRP_CACHE_DIR", "/var/cache/pytest-irp"))


@dataclass(frozen=True)
class ClusterSpec:
    """What the node is: its state directory, its binaries, its name and addresses
    (:class:`pytest_irp_lab.cluster.LabCluster` is one, with the methods that run it)."""

    state_dir: Path = field(default_factory=lambda: default_lab_dir() / "cluster")
    cache_dir: Path = field(default_factory=default_cache_dir)
    source_dir: Path = field(default_factory=lab_sources)
    node_name: str = NODE_NAME
    node_ip: str = NODE_IP
    registry: str = DEFAULT_REGISTRY
    sandbox_image: str = ""  # default: the lab's pause image in ``registry``
    k8s_version: str = K8S_VERSION
    etcd_version: str = ETCD_VERSION
    crictl_version: str = CRICTL_VERSION

    def __post_init__(self) -> None:
        for name in ("state_dir", "cache_dir", "source_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        if not self.sandbox_image:
            object.__setattr__(self, "sandbox_image", f"{self.registry}/{PAUSE_TAG}")

    @property
    def layout(self) -> ClusterLayout:
        return ClusterLayout(self.state_dir)

    @property
    def pause_image(self) -> str:
        return self.sandbox_image

    @property
    def server(self) -> str:
        return f"https://{self.node_ip}:{APISERVER_PORT}"

    @property
    def k8s_bin(self) -> Path:
        return self.cache_dir / "k8s" / f"v{self.k8s_version}" / "bin"

    @property
    def etcd_bin(self) -> Path:
        return self.cache_dir / "etcd" / f"v{self.etcd_version}" / "bin"

    @property
    def crictl(self) -> Path:
        return self.cache_dir / "crictl" / f"v{self.crictl_version}" / "bin" / "crictl"

    @property
    def kubectl(self) -> Path:
        return self.k8s_bin / "kubectl"

    def binary(self, component: str, which: str | None = None) -> Path:
        """The program of ``component``; containerd is the machine's (``which``: where
        PATH finds it)."""
        if component == "containerd":
            return Path(which or "/usr/bin/containerd")
        if component == "etcd":
            return self.etcd_bin / "etcd"
        return self.k8s_bin / component

    def crictl_args(self, *args: str) -> list[str]:
        return [str(self.crictl), "--config", str(self.layout.crictl_config), *args]

    def kubectl_args(self, *args: str) -> list[str]:
        return [
            str(self.kubectl),
            "--kubeconfig",
            str(self.layout.kubeconfig),
            "--context",
            self.node_name,
            *args,
        ]

    def ctr_args(self, *args: str) -> list[str]:
        return [
            "ctr",
            "--address",
            str(self.layout.containerd_socket),
            "--namespace",
            "k8s.io",
            *args,
        ]
