"""Where the lab keeps its files: frozen values computed from a directory (pure: nothing
is created here but by ``RegistryLayout.make_dirs``). :class:`LabLayout` for the lab
directory, :class:`ClusterLayout` for the node's state directory, :class:`RegistryLayout`
for the registry's.

Everything the lab writes lives under ``${IRP_LAB_DIR:-/var/tmp/irp-lab}``; nothing else on
the machine is touched (no ``~/.ssh``, no ``/etc/nix``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_LAB_DIR: Final = "/var/tmp/irp-lab"
APP_NAME: Final = "ihp-railiance-probe"


def lab_dir_from_env(environ: Mapping[str, str] | None = None) -> Path:
    """``$IRP_LAB_DIR`` or the default, as an absolute path."""
    env = os.environ if environ is None else environ
    return Path(env.get("IRP_LAB_DIR") or DEFAULT_LAB_DIR).absolute()


@dataclass(frozen=True)
class LabLayout:
    """Paths of the lab's files (pure: nothing is created here)."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def toml_file(self) -> Path:
        return self.root / "irp-lab.toml"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    # ssh ---------------------------------------------------------------------------
    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def ssh_config(self) -> Path:
        return self.ssh_dir / "config"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def client_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    def sshd_dir(self, host: str) -> Path:
        return self.ssh_dir / f"sshd-{host}"

    # nix ---------------------------------------------------------------------------
    @property
    def nix_conf_dir(self) -> Path:
        return self.root / "nix"

    @property
    def nix_cache_dir(self) -> Path:
        """XDG_CACHE_HOME of ssh sessions (nix's eval and fetcher caches)."""
        return self.root / "cache"

    # hosts' files (the hosts are network namespaces: same filesystem) -----------------
    def host_dir(self, host: str) -> Path:
        return self.root / host

    @property
    def app_repo(self) -> Path:
        return self.root / "app"

    @property
    def remote_dir(self) -> Path:
        return self.host_dir("haskelseed") / APP_NAME

    @property
    def libhsghc(self) -> Path:
        return (
            self.host_dir("haskelseed")
            / "ghc-9.10.3"
            / "lib"
            / "x86_64-linux-ghc-9.10.3"
            / "ghc-9.10.3-5702"
            / "libHSghc-9.10.3-5702.a"
        )

    # the other engineers' components keep their own sub-directories ------------------
    @property
    def registry_state_dir(self) -> Path:
        """Passed to LabRegistry, which keeps its files in ``<this>/registry``."""
        return self.root

    @property
    def cluster_dir(self) -> Path:
        return self.root / "cluster"


@dataclass(frozen=True)
class ClusterLayout:
    """Every path under the node's state directory (``<lab>/cluster``)."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig with context ``railiance01``."""
        return self.root / "kubeconfig"

    def component_kubeconfig(self, name: str) -> Path:
        return self.kubeconfig if name == "admin" else self.root / f"{name}.kubeconfig"

    @property
    def containerd_dir(self) -> Path:
        return self.root / "containerd"

    @property
    def containerd_config(self) -> Path:
        return self.containerd_dir / "config.toml"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def certs_d(self) -> Path:
        return self.containerd_dir / "certs.d"

    @property
    def registries_yaml(self) -> Path:
        return self.root / "registries.yaml"

    @property
    def crictl_config(self) -> Path:
        return self.root / "crictl.yaml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_conflist(self) -> Path:
        return self.cni_conf_dir / "10-irp-pods.conflist"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.kubelet_dir / "config.yaml"

    @property
    def kubelet_root(self) -> Path:
        return self.kubelet_dir / "root"

    @property
    def kube_proxy_config(self) -> Path:
        return self.root / "kube-proxy" / "config.yaml"

    @property
    def rbac(self) -> Path:
        return self.root / "rbac.yaml"

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def sysctl_file(self) -> Path:
        """The sysctls as they were before the first start (restored by stop)."""
        return self.run_dir / "sysctl.json"

    @property
    def host_before_file(self) -> Path:
        """What existed on the host before the first start (netns, mounts, dirs)."""
        return self.run_dir / "host-before.json"

    @property
    def created_bridge_file(self) -> Path:
        return self.run_dir / "created-bridge"

    def pid_file(self, component: str) -> Path:
        return self.run_dir / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"


@dataclass(frozen=True)
class RegistryLayout:
    """Every path under ``STATE/registry``."""

    root: Path

    @property
    def work_dir(self) -> Path:
        return self.root / "gitea"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def nginx_prefix(self) -> Path:
        return self.root / "nginx"

    @property
    def password_file(self) -> Path:
        return self.secrets_dir / "password"

    @property
    def token_file(self) -> Path:
        return self.secrets_dir / "token"

    @property
    def ini_secrets_file(self) -> Path:
        return self.secrets_dir / "app-ini-secrets.json"

    @property
    def app_ini(self) -> Path:
        return self.config_dir / "app.ini"

    @property
    def forward_config(self) -> Path:
        return self.config_dir / "forward-nginx.conf"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def setup_file(self) -> Path:
        """Written once the user, its token, the orgs and the repository exist."""
        return self.run_dir / "setup.json"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def make_dirs(self) -> None:
        for d in (
            self.work_dir / "data",
            self.work_dir / "home",
            self.config_dir,
            self.run_dir,
            self.log_dir,
            self.nginx_prefix / "tmp",
        ):
            d.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
