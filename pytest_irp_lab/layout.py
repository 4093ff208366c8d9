"""Where the lab keeps its files: one frozen value computed from the lab directory.

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
        return (self.host_dir("haskelseed") / "ghc-9.10.3" / "lib" / "x86_64-linux-ghc-9.10.3"
                / "ghc-9.10.3-5702" / "libHSghc-9.10.3-5702.a")

    # the other engineers' components keep their own sub-directories ------------------
    @property
    def registry_state_dir(self) -> Path:
        """Passed to LabRegistry, which keeps its files in ``<this>/registry``."""
        return self.root

    @property
    def cluster_dir(self) -> Path:
        return self.root / "cluster"
