"""Offline nix configuration for the lab (used through ``NIX_CONF_DIR``).

Without ``substituters =`` nix would ask the public binary cache: the lab must never do that.
"""

from __future__ import annotations

import json
from pathlib import Path

from pytest_irp_lab.proc import write_atomic

EMPTY_REGISTRY = {"flakes": [], "version": 2}


def render_nix_conf(registry_file: Path) -> str:
    return "\n".join(
        [
            "# Written by the pytest-irp lab: offline, no daemon, no sandbox.",
            "experimental-features = nix-command flakes",
            "substituters =",
            "trusted-substituters =",
            "build-users-group =",
            "sandbox = false",
            f"flake-registry = {registry_file}",
            "connect-timeout = 1",
            "warn-dirty = false",
            "",
        ]
    )


def write_nix_conf(conf_dir: Path) -> Path:
    """Write ``nix.conf`` and the empty flake registry into ``conf_dir``; return the dir."""
    registry = conf_dir / "registry.json"
    write_atomic(registry, json.dumps(EMPTY_REGISTRY) + "\n")
    write_atomic(conf_dir / "nix.conf", render_nix_conf(registry))
    return conf_dir


def nix_env(conf_dir: Path) -> dict[str, str]:
    """Environment for running nix on this machine with the lab's configuration."""
    return {"NIX_CONF_DIR": str(conf_dir)}
